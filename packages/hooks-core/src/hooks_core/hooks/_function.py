"""`FunctionHook` (alias `ClosureHook`): plain functions at hook points, without writing a class."""

from __future__ import annotations

from collections.abc import Mapping

from ..engine._hook import GENERIC_POINTS, HOOK_POINTS, MMCV_GENERIC_POINTS, Hook
from ..engine._priority import get_priority
from ..registry._roots import HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..engine._priority import Priority

# The points and generic points (MMEngine's and MMCV's) a function may be attached
# to without being taken for a typo; any other name is a custom point.
_KNOWN_POINTS = (
    *HOOK_POINTS,
    *dict.fromkeys(GENERIC_POINTS.values()),
    *dict.fromkeys(MMCV_GENERIC_POINTS.values()),
)
# `difflib` similarity above which an unknown name is taken for a misspelt point:
# 'after_trian_iter' (0.94) is, custom points such as 'after_train_step' (0.88) are not.
_TYPO_CUTOFF = 0.9


@HOOKS.register_module(name=["FunctionHook", "ClosureHook"])
class FunctionHook(Hook):
    """Call plain functions at hook points; MMCV's ``ClosureHook``.

    Each function receives exactly what a hook method of that point receives,
    without ``self``: the runner, then the point's arguments by name (or, as
    MMCV's ``ClosureHook`` functions, the runner alone). They are
    checked when the hook is registered, so a wrong signature fails before
    training starts. A name that is not a hook point is a custom point (see
    ``runner.call_hook``), unless it looks like a misspelt one.

    Args:
        fn_name: A hook point name, or a dict mapping point names to functions.
        fn: The function for `fn_name` when that is a name.
        priority: The hook's priority.

    Raises:
        ValueError: a name that looks like a misspelt hook point (the error
            suggests the right one), or that is a `Hook` attribute but no point.
        TypeError: `fn` missing or given twice, or not callable.

    Example:
        >>> hook = FunctionHook('after_train_iter',
        ...                     lambda runner, batch_idx, data_batch=None, outputs=None:
        ...                     print(outputs['loss']))
        >>> hook = FunctionHook({'before_run': print, 'after_run': print}, priority='LOW')
    """

    def __init__(
        self,
        fn_name: str | Mapping[str, Callable[..., Any]],
        fn: Callable[..., Any] | None = None,
        priority: int | str | Priority = "NORMAL",
    ) -> None:
        if isinstance(fn_name, str):
            if fn is None:
                raise TypeError(
                    f"FunctionHook({fn_name!r}) needs the function to call there: "
                    f"FunctionHook({fn_name!r}, fn), or a dict {{point: function}}"
                )
            functions: dict[str, Callable[..., Any]] = {fn_name: fn}
        elif isinstance(fn_name, Mapping):
            if fn is not None:
                raise TypeError("give FunctionHook a dict of functions or a name and fn, not both")
            functions = dict(fn_name)
            if not functions:
                raise ValueError("FunctionHook needs at least one function")
        else:
            raise TypeError(
                f"fn_name must be a hook point name or a dict {{point: function}}, "
                f"got {type(fn_name).__name__}"
            )
        get_priority(priority)  # fail here rather than at registration
        self.priority = priority
        for point, function in functions.items():
            self._check_name(point)
            if not callable(function):
                raise TypeError(
                    f"the function for {point!r} must be callable, got {type(function).__name__}"
                )
        # Instance attributes count as overrides: only these points are dispatched.
        for point, function in functions.items():
            setattr(self, point, function)

    def _check_name(self, point: object) -> None:
        if not isinstance(point, str):
            raise TypeError(f"hook point names must be str, got {type(point).__name__}")
        if point in _KNOWN_POINTS:
            return
        if hasattr(self, point):
            raise ValueError(
                f"{point!r} is an attribute of {type(self).__name__}, not a hook point"
            )
        import difflib  # only needed for names that are not built-in points

        lowered = point.lower()
        matches = (
            [lowered]
            if lowered in _KNOWN_POINTS
            else difflib.get_close_matches(point, _KNOWN_POINTS, n=1, cutoff=_TYPO_CUTOFF)
        )
        if matches:
            raise ValueError(
                f"{point!r} is not a hook point; did you mean {matches[0]!r}? (A custom "
                "point must not look like a built-in one.)"
            )

    def __repr__(self) -> str:
        points = ", ".join(
            f"{name}={getattr(value, '__qualname__', value)!s}"
            for name, value in self.__dict__.items()
            if name != "priority"
        )
        return f"{type(self).__name__}({points}, priority={self.priority!r})"
