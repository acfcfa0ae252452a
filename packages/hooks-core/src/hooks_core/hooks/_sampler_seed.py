"""`DistSamplerSeedHook`: tells the training sampler which epoch starts, so shuffling changes."""

from __future__ import annotations

from ..engine._hook import Hook
from ..registry._roots import HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@HOOKS.register_module()
class DistSamplerSeedHook(Hook):
    """Call ``set_epoch(runner.epoch)`` on the training sampler before every epoch.

    Distributed and resumable samplers derive each epoch's order from the
    seed and the epoch; without this call every epoch would see the same order.
    As in MMEngine, the dataloader's ``sampler`` is used when it has
    ``set_epoch``, else the sampler inside its ``batch_sampler``; a dataloader
    with neither is left alone.
    """

    priority = "NORMAL"

    def before_train_epoch(self, runner: Any) -> None:
        loader = runner.train_loop.dataloader
        set_epoch = getattr(getattr(loader, "sampler", None), "set_epoch", None)
        if set_epoch is None:  # a custom batch sampler keeps its own sampler inside
            inner = getattr(getattr(loader, "batch_sampler", None), "sampler", None)
            set_epoch = getattr(inner, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(runner.epoch)
