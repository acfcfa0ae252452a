"""`SyncBuffersHook`: average the model's buffers across ranks, so every rank validates alike."""

from __future__ import annotations

from .. import dist
from ..engine._hook import Hook
from ..registry._roots import HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# The second name is how an MMCV-era tutorial (seed 004) spells it.
@HOOKS.register_module(name=["SyncBuffersHook", "SyncBufferHook"])
class SyncBuffersHook(Hook):
    """Replace each buffer of the model (BatchNorm running statistics...) by its mean over ranks.

    Gradients keep parameters identical across ranks, but buffers are updated
    from each rank's own batches and drift apart. The hook averages them after
    every training epoch, and before validation unless that was just done,
    which covers iteration-based training, where validation runs mid-epoch.
    Integer buffers (``num_batches_tracked``) get the floor of the mean.

    Whether the run is distributed is asked when a point is called (MMEngine
    asks once, at construction); in a single process the hook does nothing.

    Attributes:
        called_in_train: Whether the buffers were synchronised after the last
            training epoch, so the validation that follows can skip it.
    """

    priority = "NORMAL"

    def __init__(self) -> None:
        self.called_in_train = False

    def after_train_epoch(self, runner: Any) -> None:
        if dist.is_distributed():
            dist.all_reduce_mean(runner.model.buffers())
            self.called_in_train = True

    def before_val_epoch(self, runner: Any) -> None:
        if dist.is_distributed():
            if not self.called_in_train:
                dist.all_reduce_mean(runner.model.buffers())
            self.called_in_train = False
