"""`HookList`: hooks in priority order, and the precomputed dispatch table the runner calls.

Everything that can be decided once is decided when a hook is registered: its
position, whether its methods can take each point's arguments, and which hooks
act at each point. `call_hook` then runs one precomputed dispatcher per point,
and a point no hook acts on costs a dictionary lookup. From `before_train` to
`after_train` the table also leaves out each hook's `Hook.idle_points`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..registry._roots import HOOKS
from ._dispatch import make_dispatcher
from ._hook import GENERIC_POINTS, HOOK_POINTS, MMCV_GENERIC_POINTS, Hook, defines, overrides
from ._priority import get_priority, priority_name

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    import inspect
    from collections.abc import Callable, Iterator
    from typing import Any

    from ._dispatch import Dispatcher
    from ._priority import Priority

__all__ = ["HookList"]


class HookList:
    """The hooks of one runner, kept in priority order, with fast dispatch.

    Args:
        owner: The object passed as ``runner`` to every hook method.

    Example:
        >>> hooks = HookList(owner=None)
        >>> class Hello(Hook):
        ...     def before_run(self, runner):
        ...         print('hello')
        >>> _ = hooks.register(Hello(), priority='HIGH')
        >>> hooks.call_hook('before_run')
        hello
    """

    __slots__ = ("_calls", "_hooks", "_idle", "_owner", "_table", "_training", "_values")

    def __init__(self, owner: Any) -> None:
        self._owner = owner
        self._hooks: tuple[Hook, ...] = ()
        self._values: tuple[int, ...] = ()
        # Per hook, what runs at each point it acts on, called with the point's arguments.
        self._calls: tuple[dict[str, Callable[..., Any]], ...] = ()
        # Per hook, the points left out while training (see `Hook.idle_points`).
        self._idle: tuple[frozenset[str], ...] = ()
        self._training = False  # between the dispatches of before_train and after_train
        self._table: dict[str, Dispatcher | None] = {}
        self._build_table()

    def register(
        self, hook: Hook | Mapping[str, Any], priority: int | str | Priority | None = None
    ) -> Hook:
        """Add a hook, or build one from a config dict, at its priority.

        The priority comes from the `priority` argument, else the config's
        ``priority`` key, else the hook's class attribute. A hook goes after every
        hook whose priority value is lower or equal, so hooks of one priority run
        in registration order. The caller's config dict is not modified.

        Returns:
            The registered hook.

        A method that takes only ``runner`` (MMCV 1.x's style) is called with the
        runner alone; one that takes the point's arguments gets them by name.

        Raises:
            TypeError: `hook` is neither a `Hook` nor a dict, or one of its
                methods can take neither the point's arguments nor the runner alone.
        """
        if isinstance(hook, Mapping):
            cfg = dict(hook)
            cfg_priority = cfg.pop("priority", None)
            hook = HOOKS.build(cfg)
            if not isinstance(hook, Hook):
                raise TypeError(f"{cfg['type']!r} built a {type(hook).__name__}, not a Hook")
            if priority is None:
                priority = cfg_priority
        elif not isinstance(hook, Hook):
            raise TypeError(
                f"a hook must be a Hook instance or a config dict, got {type(hook).__name__}"
            )
        if priority is not None:
            hook.priority = priority
        value = get_priority(hook.priority)
        calls = _resolve_calls(hook)
        position = len(self._values)
        while position > 0 and self._values[position - 1] > value:
            position -= 1
        self._hooks = (*self._hooks[:position], hook, *self._hooks[position:])
        self._values = (*self._values[:position], value, *self._values[position:])
        self._calls = (*self._calls[:position], calls, *self._calls[position:])
        idle = _idle_points(hook, self._owner) if self._training else frozenset()
        self._idle = (*self._idle[:position], idle, *self._idle[position:])
        self._build_table()
        return hook

    def call_hook(self, point: str, **kwargs: Any) -> None:
        """Call `point` on every hook that acts on it, in priority order.

        Exceptions raised inside hooks propagate unchanged.
        """
        try:
            dispatch = self._table[point]
        except KeyError:  # a custom point, seen for the first time
            dispatch = self._table[point] = self._dispatcher(point)
        if dispatch is not None:
            dispatch(self._owner, **kwargs)

    def _dispatcher(self, point: str) -> Dispatcher | None:
        if point in HOOK_POINTS:
            methods = tuple(
                calls[point]
                for calls, idle in zip(self._calls, self._idle, strict=True)
                if point in calls and point not in idle
            )
        else:  # a custom point: called with whatever its caller passes
            methods = tuple(getattr(hook, point) for hook in self._hooks if overrides(hook, point))
        return make_dispatcher(point, methods)

    def _build_table(self) -> None:
        """The dispatchers of every point; training's start and end also switch the idle points."""
        table = {point: self._dispatcher(point) for point in HOOK_POINTS}
        table["before_train"] = _followed_by(table["before_train"], self._start_training)
        table["after_train"] = _followed_by(table["after_train"], self._end_training)
        self._table = table

    def _start_training(self) -> None:
        self._training = True
        self._idle = tuple(_idle_points(hook, self._owner) for hook in self._hooks)
        self._build_table()

    def _end_training(self) -> None:
        self._training = False
        self._idle = (frozenset(),) * len(self._hooks)
        self._build_table()

    def hooks_at(self, point: str) -> tuple[Hook, ...]:
        """The hooks that act on `point`, in call order."""
        return tuple(hook for hook in self._hooks if overrides(hook, point))

    def get_hooks_info(self) -> str:
        """Describe, per hook point, which hooks run and at which priority.

        The layout is MMEngine's, so logs stay familiar::

            before_run:
            (VERY_HIGH   ) RuntimeInfoHook
             --------------------
        """
        sections = []
        for point in Hook.stages:
            lines = [
                f"({priority_name(hook.priority):<12}) {type(hook).__name__:<35}"
                for hook in self.hooks_at(point)
            ]
            if lines:
                sections.append(f"{point}:\n" + "\n".join(lines) + "\n -------------------- ")
        return "\n".join(sections)

    def __iter__(self) -> Iterator[Hook]:
        return iter(self._hooks)

    def __len__(self) -> int:
        return len(self._hooks)

    def __getitem__(self, index: int) -> Hook:
        return self._hooks[index]

    def __repr__(self) -> str:
        names = ", ".join(f"{type(h).__name__}({priority_name(h.priority)})" for h in self._hooks)
        return f"HookList([{names}])"


def _followed_by(dispatch: Dispatcher | None, then: Callable[[], None]) -> Dispatcher:
    """A dispatcher of a point without arguments that calls `then` after the hooks."""

    def dispatch_then(runner: Any) -> None:
        if dispatch is not None:
            dispatch(runner)
        then()

    return dispatch_then


def _idle_points(hook: Hook, runner: Any) -> frozenset[str]:
    """The points `hook.idle_points(runner)` names, less those a subclass overrides below it.

    A subclass may add work at a point its base class calls idle: the point is
    left out only when the method that runs there (the point, else its generic
    fallback, else MMCV's generic point: the first one overridden) comes from
    the class answering `idle_points` or from one it inherits, not from the
    instance.
    """
    own = getattr(hook, "__dict__", {})
    if type(hook).idle_points is Hook.idle_points and "idle_points" not in own:
        return frozenset()
    named = frozenset(hook.idle_points(runner))
    if unknown := sorted(named - HOOK_POINTS.keys()):
        raise ValueError(
            f"{type(hook).__name__}.idle_points returned {unknown}, which are not hook points; "
            f"name points of Hook.stages, e.g. 'after_train_iter'"
        )
    mro = type(hook).__mro__
    floor = mro.index(_definer(mro, "idle_points"))

    def inherited(point: str) -> bool:
        for name in (point, GENERIC_POINTS.get(point), MMCV_GENERIC_POINTS.get(point)):
            if name is None:
                continue
            if name in own:
                return False
            if defines(hook, name, getattr(Hook, name)):  # what runs at the point
                return mro.index(_definer(mro, name)) >= floor
        return True  # nothing runs there

    return frozenset(point for point in named if inherited(point))


def _definer(mro: tuple[type, ...], name: str) -> type:
    """The class of `mro` whose own attributes hold `name`."""
    return next(cls for cls in mro if name in vars(cls))


def _resolve_calls(hook: Hook) -> dict[str, Callable[..., Any]]:
    """What runs at each point `hook` acts on; fails now, not mid-training, on a wrong signature."""
    import inspect  # slow to import; registration is not on the hot path

    for generic in dict.fromkeys(MMCV_GENERIC_POINTS.values()):
        if defines(hook, generic, getattr(Hook, generic)):
            _check_runner_only(hook, generic)
    calls: dict[str, Callable[..., Any]] = {}
    for point in HOOK_POINTS:
        if not overrides(hook, point):
            continue
        method = getattr(hook, point)
        name, kwargs = _dispatched_method(hook, point)
        try:
            signature = inspect.signature(getattr(hook, name))
        except (TypeError, ValueError):  # a callable without an inspectable signature
            calls[point] = method
            continue
        if _binds(signature, kwargs):
            calls[point] = method
        elif name == point and kwargs and _binds(signature, {}):
            calls[point] = _runner_only(method)  # MMCV 1.x's style: `after_train_iter(runner)`
        else:
            try:
                signature.bind(None, **kwargs)
            except TypeError as err:
                reason = str(err)
            expected = inspect.signature(getattr(Hook, name))
            if name in vars(hook):  # a plain function set on the instance takes no `self`
                expected = expected.replace(parameters=list(expected.parameters.values())[1:])
            raise TypeError(
                f"{type(hook).__name__}.{name}{_plain(signature)} cannot be called at hook "
                f"point {point!r} ({reason}); expected {name}{_plain(expected)}"
                + (" or, MMCV's style, (runner)" if name == point and kwargs else "")
            )
    return calls


def _check_runner_only(hook: Hook, name: str) -> None:
    """MMCV's generic points take the runner alone."""
    import inspect

    try:
        signature = inspect.signature(getattr(hook, name))
    except (TypeError, ValueError):
        return
    if not _binds(signature, {}):
        raise TypeError(
            f"{type(hook).__name__}.{name}{_plain(signature)} cannot be called: {name} is "
            f"MMCV's generic hook point, called with the runner alone ({name}(self, runner)); "
            f"for the batch arguments, override _{name}(self, runner, ..., mode='train')"
        )


def _binds(signature: inspect.Signature, kwargs: dict[str, object]) -> bool:
    try:
        signature.bind(None, **kwargs)
    except TypeError:
        return False
    return True


def _runner_only(method: Callable[..., Any]) -> Callable[..., None]:
    """Call an MMCV-style method, which takes only the runner, at a point with arguments."""

    def call(runner: Any, **_arguments: Any) -> None:
        method(runner)

    return call


def _dispatched_method(hook: Hook, point: str) -> tuple[str, dict[str, object]]:
    """The method that really runs at `point` (the point or its generic fallback) and its kwargs."""
    generic = GENERIC_POINTS.get(point)
    if generic is None or defines(hook, point, getattr(Hook, point)):
        return point, dict.fromkeys(HOOK_POINTS[point])
    # A generic method takes the train point's arguments plus the mode; the
    # metrics of the val/test epoch points are not passed on to it.
    when, mode, unit = point.split("_")
    return generic, {**dict.fromkeys(HOOK_POINTS[f"{when}_train_{unit}"]), "mode": mode}


def _plain(signature: inspect.Signature) -> str:
    """A signature without annotations, as a reader would write it."""
    import inspect

    params = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=params, return_annotation=inspect.Signature.empty))
