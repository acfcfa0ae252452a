"""`RuntimeInfoHook`: keeps the message hub up to date with the loop's state and values."""

from __future__ import annotations

import functools

from ..__about__ import __version__
from ..engine._hook import Hook
from ..registry._roots import HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@HOOKS.register_module()
class RuntimeInfoHook(Hook):
    """Publish epoch, iteration, learning rate, losses and metrics in ``runner.message_hub``.

    Other hooks (the logger, checkpointing) read what this hook writes, so it
    runs first (VERY_HIGH). Loss values are stored as the tensors the model
    returned: nothing here waits for the device.
    """

    priority = "VERY_HIGH"

    def __init__(self) -> None:
        self._in_training = False

    def before_run(self, runner: Any) -> None:
        runner.message_hub.update_info_dict(
            {
                "experiment_name": runner.experiment_name,
                "seed": runner.seed,
                "hooks_core_version": __version__,
            }
        )

    def before_train(self, runner: Any) -> None:
        self._in_training = True
        runner.message_hub.update_info_dict(
            {
                "loop_stage": "train",
                "epoch": runner.epoch,
                "iter": runner.iter,
                "max_epochs": runner.max_epochs,
                "max_iters": runner.max_iters,
            }
        )

    def before_train_epoch(self, runner: Any) -> None:
        runner.message_hub.update_info("epoch", runner.epoch)

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        hub = runner.message_hub
        hub.update_info("iter", runner.iter)
        get_lr = getattr(runner.optim_wrapper, "get_lr", None)
        if get_lr is None:
            return
        for name, values in get_lr().items():
            hub.update_scalar(_train_key(name), values[0])

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if outputs:
            update = runner.message_hub.update_scalar
            for key, value in outputs.items():
                update(_train_key(key), value)

    def after_train(self, runner: Any) -> None:
        self._in_training = False
        runner.message_hub.update_info("loop_stage", None)

    def before_val(self, runner: Any) -> None:
        runner.message_hub.update_info("loop_stage", "val")

    def after_val(self, runner: Any) -> None:
        self._back_to_train(runner)

    def before_test(self, runner: Any) -> None:
        runner.message_hub.update_info("loop_stage", "test")

    def after_test(self, runner: Any) -> None:
        self._back_to_train(runner)

    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        self._publish_metrics(runner, "val", metrics)

    def after_test_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        self._publish_metrics(runner, "test", metrics)

    @staticmethod
    def _publish_metrics(runner: Any, mode: str, metrics: dict[str, Any] | None) -> None:
        """Numbers become scalars (``val/accuracy``); anything else is kept as info."""
        hub = runner.message_hub
        for key, value in (metrics or {}).items():
            if _is_scalar(value):
                hub.update_scalar(f"{mode}/{key}", value)
            else:
                hub.update_info(f"{mode}/{key}", value, resumed=False)

    def _back_to_train(self, runner: Any) -> None:
        """Validation inside training returns to the train stage; a lone val/test run ends."""
        runner.message_hub.update_info("loop_stage", "train" if self._in_training else None)


@functools.cache
def _train_key(name: str) -> str:
    """``train/<name>``, formatted once per name rather than on every iteration."""
    return f"train/{name}"


def _is_scalar(value: Any) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    numel = getattr(value, "numel", None)  # tensors and numpy arrays of one element
    size = numel() if callable(numel) else getattr(value, "size", None)
    return size == 1
