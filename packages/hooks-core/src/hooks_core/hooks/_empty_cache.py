"""`EmptyCacheHook`: hand the CUDA caching allocator's unused memory back at chosen points."""

from __future__ import annotations

from ..engine._hook import Hook
from ..registry._roots import HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@HOOKS.register_module()
class EmptyCacheHook(Hook):
    """Call ``torch.cuda.empty_cache()`` around epochs and iterations, as configured.

    The points apply to training, validation and testing alike, through the
    generic ``_before_epoch``/``_after_epoch``/``_after_iter`` points, so calling
    ``after_train_epoch`` (or ``_after_epoch``) directly empties the cache too. A
    point that is off is not overridden at all, so it never enters the runner's
    dispatch table: ``after_iter=False`` costs nothing per iteration. Without
    CUDA (or before CUDA is first used) emptying the cache does nothing.

    Args:
        before_epoch: Empty the cache before every epoch.
        after_epoch: Empty the cache after every epoch.
        after_iter: Empty the cache after every iteration.

    Example:
        >>> custom_hooks = [dict(type='EmptyCacheHook', after_iter=True)]
    """

    priority = "NORMAL"

    def __init__(
        self, before_epoch: bool = False, after_epoch: bool = True, after_iter: bool = False
    ) -> None:
        # MMEngine's attribute names, for code that reads the options back.
        self._do_before_epoch = before_epoch
        self._do_after_epoch = after_epoch
        self._do_after_iter = after_iter
        enabled = {"_before_epoch": before_epoch, "_after_epoch": after_epoch,
                   "_after_iter": after_iter}  # fmt: skip
        # An instance attribute overrides a generic point for this hook only
        # (see `overrides`), so only the enabled points are dispatched.
        for point, on in enabled.items():
            if on:
                setattr(self, point, _empty_cache)

    def __repr__(self) -> str:
        options = ", ".join(
            f"{name}={getattr(self, '_do_' + name)}"
            for name in ("before_epoch", "after_epoch", "after_iter")
        )
        return f"{type(self).__name__}({options})"


def _empty_cache(runner: Any, **kwargs: Any) -> None:
    """Takes any generic point's arguments (``mode``, ``batch_idx``, ...) and ignores them."""
    import torch

    torch.cuda.empty_cache()
