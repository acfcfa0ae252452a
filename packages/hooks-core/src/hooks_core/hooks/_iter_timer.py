"""`IterTimerHook`: data-loading time, iteration time and the estimated time left."""

from __future__ import annotations

import time

from ..engine._hook import Hook
from ..registry._roots import HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


_MODES = ("train", "val", "test")


@HOOKS.register_module()
class IterTimerHook(Hook):
    """Record ``{mode}/data_time`` and ``{mode}/time`` per iteration, and the training ``eta``.

    Times are wall-clock and the device is not synchronised, so on a GPU they
    measure how fast the host issues work; averaged over a logging window that
    converges to the true iteration time.
    """

    priority = "NORMAL"

    def __init__(self) -> None:
        # Keys built once, not formatted on every iteration.
        self._keys = {mode: (f"{mode}/data_time", f"{mode}/time") for mode in _MODES}
        self._last = 0.0
        self._start_iter = 0
        self._train_seconds = 0.0
        self._eval_seconds = 0.0

    def before_train(self, runner: Any) -> None:
        self._start_iter = runner.iter
        self._train_seconds = 0.0

    def _before_epoch(self, runner: Any, mode: str = "train") -> None:
        self._last = time.perf_counter()
        self._eval_seconds = 0.0

    def _before_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, mode: str = "train"
    ) -> None:
        runner.message_hub.update_scalar(self._keys[mode][0], time.perf_counter() - self._last)

    def _after_iter(
        self,
        runner: Any,
        batch_idx: int,
        data_batch: Any = None,
        outputs: Any = None,
        mode: str = "train",
    ) -> None:
        now = time.perf_counter()
        elapsed = now - self._last
        self._last = now
        hub = runner.message_hub
        hub.update_scalar(self._keys[mode][1], elapsed)
        if mode == "train":
            self._train_seconds += elapsed
            done = runner.iter + 1 - self._start_iter
            hub.update_info(
                "eta", self._train_seconds / done * (runner.max_iters - runner.iter - 1)
            )
        else:
            self._eval_seconds += elapsed
            loop = runner.val_loop if mode == "val" else runner.test_loop
            remaining = len(loop.dataloader) - batch_idx - 1
            hub.update_info("eta", self._eval_seconds / (batch_idx + 1) * remaining)
