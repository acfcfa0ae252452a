"""`RuntimeInfoHook`: keeps the message hub up to date with the loop's state and values."""

from __future__ import annotations

import functools
import sys

from ..__about__ import __version__
from ..engine._hook import Hook
from ..registry._roots import HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MISSING = object()


@HOOKS.register_module()
class RuntimeInfoHook(Hook):
    """Publish the run's state, learning rates, losses and metrics in ``runner.message_hub``.

    The keys are MMEngine's. Runtime information: ``cfg``, ``seed``,
    ``experiment_name`` and ``hooks_core_version`` (``before_run``);
    ``loop_stage``, ``epoch``, ``iter``, ``max_epochs``, ``max_iters`` and, when
    the training dataset has a ``metainfo`` attribute, ``dataset_meta``
    (``before_train``). Scalars: ``train/<name>`` for every entry of
    ``optim_wrapper.get_lr()`` (the first parameter group's value) and of the
    training step's outputs; ``val/<key>`` and ``test/<key>`` for every scalar
    metric (other metrics go to runtime information under the same key).

    Other hooks (the logger, checkpointing) read what this hook writes, so it
    runs first (VERY_HIGH). Each method reads what it needs from the runner when
    called, so any point may be called on its own. Losses are stored as the
    tensors the model returned: nothing here waits for the device.
    """

    priority = "VERY_HIGH"

    def __init__(self) -> None:
        # The stage a validation started from, to go back to it afterwards.
        self.last_loop_stage: str | None = None

    def before_run(self, runner: Any) -> None:
        runner.message_hub.update_info_dict(
            {
                "cfg": _config_text(runner.cfg),
                "seed": runner.seed,
                "experiment_name": runner.experiment_name,
                "hooks_core_version": __version__,
            }
        )
        self.last_loop_stage = None

    def before_train(self, runner: Any) -> None:
        hub = runner.message_hub
        hub.update_info_dict(
            {
                "loop_stage": "train",
                "epoch": runner.epoch,
                "iter": runner.iter,
                "max_epochs": runner.max_epochs,
                "max_iters": runner.max_iters,
            }
        )
        dataset = getattr(runner.train_dataloader, "dataset", None)
        metainfo = getattr(dataset, "metainfo", _MISSING)
        if metainfo is not _MISSING:  # published even when empty or None
            # Not saved in checkpoints: it is published again from the dataset on
            # resume, and may hold objects a safe checkpoint load cannot restore.
            hub.update_info("dataset_meta", metainfo, resumed=False)

    def after_train(self, runner: Any) -> None:
        runner.message_hub.pop_info("loop_stage")

    def before_train_epoch(self, runner: Any) -> None:
        runner.message_hub.update_info("epoch", runner.epoch)

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        hub = runner.message_hub
        hub.update_info("iter", runner.iter)
        try:
            get_lr = runner.optim_wrapper.get_lr
        except AttributeError:  # an optimizer wrapper that does not report learning rates
            return
        lrs = get_lr()
        if not isinstance(lrs, dict):
            raise TypeError(
                f"RuntimeInfoHook: runner.optim_wrapper.get_lr() must return a dict of "
                f"learning rates per parameter group ({{'lr': [...]}}), got "
                f"{type(lrs).__name__}; use an OptimWrapper or OptimWrapperDict"
            )
        for name, values in lrs.items():
            hub.update_scalar(_key("train", name), values[0])

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if outputs is not None:
            update = runner.message_hub.update_scalar
            for key, value in outputs.items():
                update(_key("train", key), value)

    def before_val(self, runner: Any) -> None:
        hub = runner.message_hub
        self.last_loop_stage = hub.get_info("loop_stage")
        hub.update_info("loop_stage", "val")

    def after_val(self, runner: Any) -> None:
        """Back to training when validating inside it; a validation on its own just ends."""
        hub = runner.message_hub
        if self.last_loop_stage == "train":
            hub.update_info("loop_stage", "train")
            self.last_loop_stage = None
        else:
            hub.pop_info("loop_stage")

    def before_test(self, runner: Any) -> None:
        runner.message_hub.update_info("loop_stage", "test")

    def after_test(self, runner: Any) -> None:
        runner.message_hub.pop_info("loop_stage")

    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        _publish_metrics(runner.message_hub, "val", metrics)

    def after_test_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        _publish_metrics(runner.message_hub, "test", metrics)


def _publish_metrics(hub: Any, mode: str, metrics: dict[str, Any] | None) -> None:
    """Numbers become scalars (``val/accuracy``); anything else is kept as runtime information.

    Non-scalar metrics (confusion matrices, per-class lists) are not saved in
    checkpoints: they are the latest evaluation's, and may not be plain values.
    """
    for key, value in (metrics or {}).items():
        if _is_scalar(value):
            hub.update_scalar(_key(mode, key), value)
        else:
            hub.update_info(_key(mode, key), value, resumed=False)


@functools.cache
def _key(mode: str, name: str) -> str:
    """``<mode>/<name>``, formatted once per name rather than on every iteration."""
    return f"{mode}/{name}"


def _is_scalar(value: Any) -> bool:
    """MMEngine's rule: an int or float (bools too), a numpy number, a one-element array or tensor.

    Neither numpy nor torch is imported: a value of theirs exists only if they were.
    """
    if isinstance(value, (int, float)):
        return True
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.ndarray):
            return bool(value.size == 1)
        if isinstance(value, np.number):
            return True
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor) and value.numel() == 1


def _config_text(cfg: Any) -> str | None:
    """The config as text: its ``pretty_text`` when it has one (MMEngine's Config), else repr."""
    if cfg is None:
        return None
    text = getattr(cfg, "pretty_text", None)
    return text if isinstance(text, str) else repr(cfg)
