"""`DistSamplerSeedHook`: tells the training sampler which epoch starts, so shuffling changes."""

from __future__ import annotations

from ..engine._hook import Hook
from ..registry._roots import HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@HOOKS.register_module()
class DistSamplerSeedHook(Hook):
    """Call ``set_epoch(epoch)`` on the training sampler before every epoch.

    Distributed and resumable samplers derive each epoch's order from the
    seed and the epoch; without this call every epoch would see the same order.
    """

    priority = "NORMAL"

    def before_train_epoch(self, runner: Any) -> None:
        loader = runner.train_loop.dataloader
        sampler = getattr(loader, "sampler", None)
        # A custom batch sampler keeps its own sampler inside.
        inner = getattr(getattr(loader, "batch_sampler", None), "sampler", None)
        for each in {id(s): s for s in (sampler, inner) if s is not None}.values():
            set_epoch = getattr(each, "set_epoch", None)
            if set_epoch is not None:
                set_epoch(runner.epoch)
