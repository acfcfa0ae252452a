"""`SyncBuffersHook`: average the model's buffers across ranks, so every rank validates alike."""

from __future__ import annotations

from .. import dist
from ..engine._hook import Hook
from ..registry._roots import HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@HOOKS.register_module()
class SyncBuffersHook(Hook):
    """Replace each buffer of the model (BatchNorm running statistics...) by its mean over ranks.

    Gradients keep parameters identical across ranks, but buffers are updated
    from each rank's own batches and drift apart. The hook averages them after
    every training epoch, and before validation unless that was just done,
    which covers iteration-based training, where validation runs mid-epoch.
    Integer buffers (``num_batches_tracked``) get the floor of the mean.

    In a single process it does nothing.
    """

    priority = "NORMAL"

    def __init__(self) -> None:
        self._synced_after_train = False

    def after_train_epoch(self, runner: Any) -> None:
        self._sync(runner)
        self._synced_after_train = True

    def before_val_epoch(self, runner: Any) -> None:
        if not self._synced_after_train:
            self._sync(runner)
        self._synced_after_train = False

    @staticmethod
    def _sync(runner: Any) -> None:
        if runner.distributed:
            dist.all_reduce_mean(runner.model.buffers())
