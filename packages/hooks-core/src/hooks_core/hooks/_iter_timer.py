"""`IterTimerHook`: data-loading time, iteration time and the estimated time left."""

from __future__ import annotations

import functools
import time

from ..engine._hook import Hook
from ..registry._roots import HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@HOOKS.register_module()
class IterTimerHook(Hook):
    """Record ``{mode}/data_time`` and ``{mode}/time`` per iteration, and the ``eta``.

    The numbers are MMEngine's: ``data_time`` runs from the end of the previous
    iteration (or the start of the epoch) to the start of this one; ``time``
    from the same point to the end of this one, so it includes the data time.
    ``eta`` (runtime information, in seconds) is the mean iteration time since
    training started (or resumed) times the iterations left; during validation
    and testing, the mean over the current epoch times the batches left.

    Times come from ``time.perf_counter`` and the device is not synchronised,
    so on a GPU they measure how fast the host issues work; averaged over a
    logging window that converges to the true iteration time.

    Attributes:
        start_iter: The training iteration the current run started from.
        time_sec_tot: Seconds spent in training iterations since `start_iter`.
        time_sec_test_val: Seconds spent in the current validation or test epoch.
        t: The clock reading the current iteration is timed from.
    """

    priority = "NORMAL"

    def __init__(self) -> None:
        self.start_iter = 0
        self.time_sec_tot = 0.0
        self.time_sec_test_val = 0.0
        self.t = time.perf_counter()  # so that any point may be called first

    def before_train(self, runner: Any) -> None:
        self.start_iter = runner.iter
        self.time_sec_tot = 0.0

    def _before_epoch(self, runner: Any, mode: str = "train") -> None:
        self.t = time.perf_counter()

    def _after_epoch(self, runner: Any, mode: str = "train") -> None:
        self.time_sec_test_val = 0.0

    def _before_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, mode: str = "train"
    ) -> None:
        runner.message_hub.update_scalar(_keys(mode)[0], time.perf_counter() - self.t)

    def _after_iter(
        self,
        runner: Any,
        batch_idx: int,
        data_batch: Any = None,
        outputs: Any = None,
        mode: str = "train",
    ) -> None:
        hub = runner.message_hub
        now = time.perf_counter()
        elapsed = now - self.t
        hub.update_scalar(_keys(mode)[1], elapsed)
        self.t = now  # the next iteration's time starts where this one's ends
        if mode == "train":
            self.time_sec_tot += elapsed
            done = runner.iter
            mean = self.time_sec_tot / (done - self.start_iter + 1)
            hub.update_info("eta", mean * (runner.max_iters - done - 1))
        else:
            loader = runner.val_dataloader if mode == "val" else runner.test_dataloader
            self.time_sec_test_val += elapsed
            mean = self.time_sec_test_val / (batch_idx + 1)
            hub.update_info("eta", mean * (len(loader) - batch_idx - 1))


@functools.cache
def _keys(mode: str) -> tuple[str, str]:
    """The scalar names of a mode, formatted once rather than on every iteration."""
    return f"{mode}/data_time", f"{mode}/time"
