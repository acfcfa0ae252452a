"""`EMAHook`: keep an averaged copy of the model, validate on it, and checkpoint it.

The checkpoint layout is MMEngine's, so checkpoints move between the two: the
checkpoint's ``state_dict`` holds the averaged weights (what one deploys or
tests), and ``ema_state_dict`` holds the averaged model's state with the
values of every key it shares with ``state_dict`` exchanged, i.e. the training
weights under ``module.<name>`` keys plus the averaged model's ``steps``. The
exchange happens in the checkpoint dict only; the live model keeps training on
its own weights. Resuming exchanges the values back before the runner loads
them, so training continues bit-identically.
"""

from __future__ import annotations

from hooks_core import HOOKS, MODELS, Hook
from hooks_core.checkpoint import load_state_dict, save_checkpoint, weights_to_cpu
from hooks_core.model import unwrap_model

from . import _averaged_model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from torch import nn

    from ._averaged_model import BaseAveragedModel

__all__ = ["EMAHook"]

assert _averaged_model  # registers the averaged models in MODELS

# The prefix of the averaged model's keys for the copy it holds (`BaseAveragedModel.module`).
_PREFIX = "module."


@HOOKS.register_module()
class EMAHook(Hook):
    """Average the model's weights during training and validate, test and save the average.

    After every training iteration the averaged model folds in the model's
    weights, or, until training reaches `begin_iter`/`begin_epoch`, simply
    copies them (so the average starts from the weights of that point).
    Validation and test epochs run on the averaged weights: they are swapped
    into the model before the epoch and the training weights are swapped back
    after it. Checkpoints are laid out as MMEngine's (see the module
    docstring); resuming restores the training weights into the model and the
    average into the averaged model. Loading weights without resuming
    (``load_from``) starts the average from the loaded weights.

    Args:
        ema_type: The averaged model's type in `MODELS`:
            ``'ExponentialMovingAverage'``, ``'MomentumAnnealingEMA'``,
            ``'StochasticWeightAverage'`` or one of your own.
        strict_load: Require the checkpoint's keys to match the averaged model
            exactly when loading it.
        begin_iter: Start averaging once this many training iterations are
            done, counting the current one.
        begin_epoch: Start averaging in this epoch (counted from 1). Give at
            most one of `begin_iter` and `begin_epoch`.
        save_separately: Also write the averaged model's weights to a file of
            their own, ``ema_iter_{iter}.pth`` in the work dir (see
            `separate_filename`), on rank 0 whenever a checkpoint is saved. It
            holds ``meta`` and ``state_dict`` and loads as a plain checkpoint,
            e.g. with ``load_from``.
        **kwargs: Arguments of the averaged model, e.g. ``momentum``,
            ``interval``, ``device``, ``update_buffers``.

    Raises:
        ValueError: a negative `begin_iter` or `begin_epoch`, or both given.
        NotRegisteredError: `ema_type` is not in `MODELS`.

    Example:
        >>> custom_hooks = [dict(type='EMAHook', momentum=0.0002, begin_epoch=2,
        ...                      save_separately=True)]
    """

    priority = "NORMAL"
    #: The separate file's name, formatted with the checkpoint's ``epoch`` and ``iter``
    #: (completed training iterations), so it names the position the weights are from.
    separate_filename = "ema_iter_{iter}.pth"

    def __init__(
        self,
        ema_type: str = "ExponentialMovingAverage",
        strict_load: bool = False,
        begin_iter: int = 0,
        begin_epoch: int = 0,
        save_separately: bool = False,
        **kwargs: Any,
    ) -> None:
        _check_begin("begin_iter", begin_iter)
        _check_begin("begin_epoch", begin_epoch)
        if begin_iter and begin_epoch:
            raise ValueError(
                f"give EMAHook begin_iter ({begin_iter}) or begin_epoch ({begin_epoch}), not both"
            )
        if isinstance(ema_type, str) and MODELS.get(ema_type) is None:
            MODELS.build(dict(type=ema_type))  # raises the registry's error, with suggestions
        self.ema_cfg: dict[str, Any] = dict(type=ema_type, **kwargs)
        self.strict_load = strict_load
        self.begin_iter = begin_iter
        self.begin_epoch = begin_epoch
        self.save_separately = save_separately
        self.ema_model: BaseAveragedModel | None = None
        self._swapped = False

    # ------------------------------------------------------------ building
    def before_run(self, runner: Any) -> None:
        """Build the averaged model from the (unwrapped) model."""
        self._build(runner)

    def before_train(self, runner: Any) -> None:
        """Check that training ever reaches the point where averaging begins."""
        if self.begin_iter > runner.max_iters:
            raise ValueError(
                f"EMAHook begin_iter={self.begin_iter} is after the last training "
                f"iteration ({runner.max_iters}): the model would never be averaged"
            )
        if self.begin_epoch > runner.max_epochs:
            raise ValueError(
                f"EMAHook begin_epoch={self.begin_epoch} is after the last training "
                f"epoch ({runner.max_epochs}): the model would never be averaged"
            )

    # ------------------------------------------------------------ training
    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Fold the new weights into the average, or copy them until averaging begins."""
        ema = self._ema(runner)
        if self._started(runner):
            ema.update_parameters(_source(runner))
        else:
            ema.copy_from(_source(runner))

    def _started(self, runner: Any) -> bool:
        return bool(runner.epoch + 1 >= self.begin_epoch and runner.iter + 1 >= self.begin_iter)

    # ------------------------------------------------------------ evaluation
    def before_val_epoch(self, runner: Any) -> None:
        """Put the averaged weights into the model for validation."""
        self._swap_in(runner)

    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Give the model its training weights back."""
        self._swap_out(runner)

    def before_test_epoch(self, runner: Any) -> None:
        """Put the averaged weights into the model for testing."""
        self._swap_in(runner)

    def after_test_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Give the model its training weights back."""
        self._swap_out(runner)

    def _swap_in(self, runner: Any) -> None:
        if not self._swapped:
            self._swap(runner)
            self._swapped = True

    def _swap_out(self, runner: Any) -> None:
        if self._swapped:
            self._swap(runner)
            self._swapped = False

    def _swap(self, runner: Any) -> None:
        """Exchange the values of the averaged tensors between the model and the average."""
        import torch

        ema = self._ema(runner)
        with torch.no_grad():
            for own, other in zip(
                ema.averaged_tensors(), ema.averaged_tensors(_source(runner)), strict=True
            ):
                kept = other.detach().clone()
                other.copy_(own)
                own.copy_(kept)

    # ------------------------------------------------------------ checkpoints
    def before_save_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        """Save the average as the checkpoint's weights, the training weights beside them.

        The values are exchanged in the checkpoint dict, never in the live
        model. A checkpoint saved during an evaluation, while the model holds
        the average, already has that layout and is left as it is.
        """
        ema = self._ema(runner)
        checkpoint["ema_state_dict"] = weights_to_cpu(ema.state_dict())
        if not self._swapped:  # during an evaluation the model already holds the average
            _exchange(checkpoint)
        if self.save_separately and runner.rank == 0:
            self._save_separately(runner, checkpoint)

    def after_load_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        """On resume, restore the average and hand the runner the training weights.

        Otherwise (loading weights only) the average starts from the loaded weights.
        """
        ema = self._ema(runner)
        resuming = bool(getattr(runner, "_resume", False))
        if resuming and "ema_state_dict" in checkpoint:
            _exchange(checkpoint)
            load_state_dict(ema, checkpoint["ema_state_dict"], self.strict_load, revise_keys=())
            return
        if resuming:
            runner.logger.warning(
                "the checkpoint has no 'ema_state_dict' (it was not saved with EMAHook): "
                "the averaged model starts from its weights"
            )
        load_state_dict(ema.module, checkpoint["state_dict"], self.strict_load)

    def _save_separately(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        """Write the averaged model's weights as a checkpoint of their own (atomically)."""
        import os.path as osp

        meta = dict(checkpoint.get("meta", {}))
        name = self.separate_filename.format(epoch=meta.get("epoch"), iter=meta.get("iter"))
        weights = weights_to_cpu(self._ema(runner).module.state_dict())
        save_checkpoint({"meta": meta, "state_dict": weights}, osp.join(runner.work_dir, name))

    # ------------------------------------------------------------ helpers
    def _build(self, runner: Any) -> BaseAveragedModel:
        model: BaseAveragedModel = MODELS.build(
            self.ema_cfg, default_args={"model": _source(runner)}
        )
        self.ema_model = model
        self._swapped = False
        return model

    def _ema(self, runner: Any) -> BaseAveragedModel:
        """The averaged model, built now if the hook missed ``before_run``."""
        return self.ema_model if self.ema_model is not None else self._build(runner)

    def __repr__(self) -> str:
        options = ", ".join(f"{key}={value!r}" for key, value in self.ema_cfg.items())
        return (
            f"{type(self).__name__}({options}, strict_load={self.strict_load}, "
            f"begin_iter={self.begin_iter}, begin_epoch={self.begin_epoch}, "
            f"save_separately={self.save_separately})"
        )


def _source(runner: Any) -> nn.Module:
    """The user's model, outside any DDP wrapper."""
    model: nn.Module = unwrap_model(runner.model)
    return model


def _exchange(checkpoint: dict[str, Any]) -> None:
    """Swap the values of every key ``state_dict`` shares with ``ema_state_dict``'s copy.

    The exchange is its own inverse: saving applies it, resuming applies it
    again. Keys only one side has (e.g. a non-persistent buffer) are left alone.
    """
    weights = checkpoint["state_dict"]
    averaged = checkpoint["ema_state_dict"]
    for key in list(averaged):
        name = key[len(_PREFIX) :] if key.startswith(_PREFIX) else None
        if name is not None and name in weights:
            averaged[key], weights[name] = weights[name], averaged[key]


def _check_begin(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"EMAHook {name} must be a non-negative int, got {value!r}")
