"""`EMAHook`: keep an averaged copy of the model, validate on it, and checkpoint it.

The checkpoint layout is MMEngine's, so checkpoints move between the two: the
checkpoint's ``state_dict`` holds the averaged weights (what one deploys or
tests), and ``ema_state_dict`` holds the averaged model's state with the
values of every key it shares with ``state_dict`` exchanged, i.e. the training
weights under ``module.<name>`` keys plus the averaged model's ``steps``. The
exchange happens in the checkpoint dict only; the live model keeps training on
its own weights. Resuming exchanges the values back before the runner loads
them, so training continues bit-identically.

MMCV 1.x's EMAHook arguments (``warm_up``, ``resume_from``) select its update
rule, and on MMCV's runners (those with a ``log_buffer``) its rule and swap
timing are the default; MMCV's checkpoints, which keep the average as
``ema_<name>`` buffers inside ``state_dict``, load too. Checkpoints are always
written in the layout above.
"""

from __future__ import annotations

import itertools
import logging

from hooks_core import HOOKS, MODELS, Hook
from hooks_core.checkpoint import load_state_dict, save_checkpoint, weights_to_cpu
from hooks_core.model import unwrap_model
from hooks_core.runner.strategy import gather_state_dict, holds_dtensors

from . import _averaged_model
from ._averaged_model import ExponentialMovingAverage, _copy_into

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from torch import nn

    from ._averaged_model import BaseAveragedModel

__all__ = ["EMAHook"]

assert _averaged_model  # registers the averaged models in MODELS

# The prefix of the averaged model's keys for the copy it holds (`BaseAveragedModel.module`).
_PREFIX = "module."

_logger = logging.getLogger(__name__)

# MMEngine's text, so logs read the same after migrating.
NO_EMA_STATE_WARNING = (
    "There is no `ema_state_dict` in checkpoint. `EMAHook` will make a copy of "
    "`state_dict` as the initial `ema_state_dict`"
)
# MMCV's default warm-up, used on its runners when `warm_up` is not given.
_MMCV_WARM_UP = 100


@HOOKS.register_module()
class EMAHook(Hook):
    """Average the model's weights during training and validate, test and save the average.

    `before_run` builds the averaged model (`ema_model`) around the user's
    model outside any DDP wrapper (`src_model`). After every training
    iteration the averaged model folds in the model's weights or, until
    training reaches `begin_iter`/`begin_epoch`, simply copies them (so the
    average starts from the weights of that point). ``before_val_epoch`` and
    ``before_test_epoch`` exchange the weights of the two models, so the epoch
    runs on the average, and ``after_val_epoch``/``after_test_epoch`` exchange
    them back: each call is one exchange, as in MMEngine. Checkpoints are laid
    out as MMEngine's (see the module docstring); resuming restores the
    training weights into the model and the average into the averaged model.
    Loading weights without resuming (``load_from``) starts the average from
    the loaded weights.

    Beyond MMEngine: a hook called before `before_run` builds the averaged
    model then (and `before_run` keeps an average a resume restored); a
    checkpoint saved while the weights are exchanged (during an evaluation)
    has the same layout as any other; and `save_separately`.

    MMCV 1.x's rule applies when `warm_up` is given, or on MMCV's runners
    (``EpochBasedRunner``/``IterBasedRunner``, those with a ``log_buffer``)
    with the default `ema_type`: after training iteration ``i`` (0-based),
    when ``i % interval == 0``, each parameter's average becomes ``(1 - m) *
    average + m * param`` with ``m = min(momentum ** interval, (1 + i) /
    (warm_up + i))`` (MMCV's exponent and warm-up, measured against MMCV 1.7.2),
    the average starting from the weights at `before_run`. On MMCV's runners the
    weights are exchanged as MMCV does instead of around evaluations: after
    each training epoch (so the evaluation and checkpoint hooks after it, and
    the model after the last epoch, hold the average) and back before the
    next; the iteration-based runner never exchanges them.

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
        warm_up: MMCV's warm-up length (see above; 100 on MMCV's runners when
            None); giving it selects MMCV's rule on any runner. Only with the
            default `ema_type`.
        resume_from: MMCV's: a checkpoint `before_run` resumes the whole run
            from (``runner.resume``), average included. A checkpoint of this
            package holds the average in ``ema_state_dict``; one of MMCV holds
            ``ema_<name>`` buffers in ``state_dict``, which are taken out of it
            and, as MMCV's own resume would use them, become the training
            weights in an epoch-based run (MMCV exchanged the weights at the
            start of each epoch) and the average in an iteration-based one.
        **kwargs: Arguments of the averaged model, e.g. ``momentum``,
            ``interval``, ``device``, ``update_buffers``.

    Attributes:
        src_model: The model being averaged (None before `before_run`).
        ema_model: The averaged model (None before `before_run`).
        enabled_by_epoch: Whether `begin_epoch` (rather than `begin_iter`) decides the start.

    Raises:
        ValueError: a negative `begin_iter` or `begin_epoch`, or both given; a
            `warm_up` that is not a positive int, or given with another
            `ema_type`; in `before_train`, a begin that training never reaches.
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
        warm_up: int | None = None,
        resume_from: str | None = None,
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
        if warm_up is not None:
            if isinstance(warm_up, bool) or not isinstance(warm_up, int) or warm_up < 1:
                raise ValueError(f"EMAHook warm_up must be a positive int, got {warm_up!r}")
            if not _is_plain_ema(ema_type):
                raise ValueError(
                    f"EMAHook warm_up is MMCV's EMA rule, for ema_type='ExponentialMovingAverage'; "
                    f"drop warm_up to average with {ema_type!r}"
                )
        self.ema_cfg: dict[str, Any] = dict(type=ema_type, **kwargs)
        self.strict_load = strict_load
        self.begin_iter = begin_iter
        self.begin_epoch = begin_epoch
        self.enabled_by_epoch = begin_epoch > 0
        self.save_separately = save_separately
        self.warm_up = warm_up
        self.resume_from = resume_from
        self.src_model: nn.Module | None = None
        self.ema_model: BaseAveragedModel | None = None
        self._swapped = False  # whether the model holds the average (between the two swaps)
        self._mmcv_warm_up: int | None = None  # MMCV's rule's warm-up, when it applies
        self._resuming = False  # during `resume_from`'s resume
        self._restored = False  # a resume loaded the average into the built model

    # ------------------------------------------------------------ building
    def before_run(self, runner: Any) -> None:
        """Build the averaged model around the (unwrapped) model; resume `resume_from`.

        An average a resume already restored (MMCV's runners resume before
        `before_run`) is kept.
        """
        if not (self._restored and self.src_model is unwrap_model(runner.model)):
            self._build(runner)
        self._restored = False
        if self.resume_from is not None:
            self._resuming = True
            try:
                runner.resume(self.resume_from)
            finally:
                self._resuming = False

    def before_train(self, runner: Any) -> None:
        """Check that training ever reaches the point where averaging begins."""
        if self.enabled_by_epoch:
            if self.begin_epoch > runner.max_epochs:
                raise ValueError(
                    f"EMAHook begin_epoch={self.begin_epoch} is after the last training "
                    f"epoch ({runner.max_epochs}): the model would never be averaged"
                )
        elif self.begin_iter > runner.max_iters:
            raise ValueError(
                f"EMAHook begin_iter={self.begin_iter} is after the last training "
                f"iteration ({runner.max_iters}): the model would never be averaged"
            )

    # ------------------------------------------------------------ training
    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Fold the new weights into the average, or copy them until averaging begins."""
        ema, source = self._models(runner)
        if not self._ema_started(runner):
            ema.copy_from(source)
        elif self._mmcv_warm_up is not None:
            self._mmcv_update(runner.iter, ema, source)
        else:
            ema.update_parameters(source)

    def _mmcv_update(self, step: int, ema: BaseAveragedModel, source: nn.Module) -> None:
        """MMCV's update after iteration `step`: warmed-up momentum, every `interval` steps."""
        import torch

        assert isinstance(ema, ExponentialMovingAverage) and self._mmcv_warm_up is not None
        if step % ema.interval:
            return
        momentum = min(ema.momentum**ema.interval, (1 + step) / (self._mmcv_warm_up + step))
        averaged, copied = ema._split(ema.module)
        own_averaged, own_copied = ema._split(source)
        with torch.no_grad():
            for target, value in zip(averaged, own_averaged, strict=True):
                target.mul_(1 - momentum).add_(value.detach().to(target.device), alpha=momentum)
            _copy_into(copied, own_copied)

    def _ema_started(self, runner: Any) -> bool:
        """Whether the current iteration (or epoch) is at or after the begin."""
        if self.enabled_by_epoch:
            return bool(runner.epoch + 1 >= self.begin_epoch)
        return bool(runner.iter + 1 >= self.begin_iter)

    # ------------------------------------------------------------ evaluation
    def before_train_epoch(self, runner: Any) -> None:
        """On MMCV's runners, give the model its training weights back (MMCV's timing)."""
        if _on_mmcv_runner(runner) and self._swapped:
            self._models(runner)
            self._swap_ema_parameters()

    def after_train_epoch(self, runner: Any) -> None:
        """On MMCV's runners, put the average into the model for what follows the epoch."""
        if _on_mmcv_runner(runner) and not self._swapped:
            self._models(runner)
            self._swap_ema_parameters()

    def before_val_epoch(self, runner: Any) -> None:
        """Put the averaged weights into the model for validation (not on MMCV's runners)."""
        if not _on_mmcv_runner(runner):
            self._models(runner)
            self._swap_ema_parameters()

    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Give the model its training weights back (not on MMCV's runners)."""
        if not _on_mmcv_runner(runner):
            self._models(runner)
            self._swap_ema_parameters()

    def before_test_epoch(self, runner: Any) -> None:
        """Put the averaged weights into the model for testing."""
        self._models(runner)
        self._swap_ema_parameters()

    def after_test_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Give the model its training weights back."""
        self._models(runner)
        self._swap_ema_parameters()

    def _swap_ema_parameters(self) -> None:
        """Exchange the model's parameters (and buffers, with `update_buffers`) with the average's.

        Each call exchanges once: the second call of a pair restores both models.
        """
        import torch

        ema, source = self.ema_model, self.src_model
        if ema is None or source is None:
            raise RuntimeError("EMAHook has no averaged model yet: call before_run(runner) first")
        if ema.update_buffers:
            pairs = zip(
                itertools.chain(ema.module.parameters(), ema.module.buffers()),
                itertools.chain(source.parameters(), source.buffers()),
                strict=True,
            )
        else:
            pairs = zip(ema.module.parameters(), source.parameters(), strict=True)
        with torch.no_grad():
            for averaged, own in pairs:
                kept = averaged.detach().clone()
                averaged.copy_(own)
                own.copy_(kept)
        self._swapped = not self._swapped

    # ------------------------------------------------------------ checkpoints
    def before_save_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        """Save the average as the checkpoint's weights, the training weights beside them.

        The values are exchanged in the checkpoint dict, never in the live
        model. A checkpoint saved during an evaluation, while the model holds
        the average, already has that layout and is left as it is.
        """
        ema, _ = self._models(runner)
        checkpoint["ema_state_dict"] = _whole_state(ema)
        if not self._swapped:  # during an evaluation the model already holds the average
            _exchange(checkpoint)
        if self.save_separately and (runner.rank == 0 or holds_dtensors(ema.parameters())):
            weights = _whole_state(ema.module)  # shards are gathered by every rank together
            if runner.rank == 0:
                self._save_separately(runner, checkpoint, weights)

    def after_load_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        """On resume, restore the average and hand the runner the training weights.

        Otherwise (loading weights only) the average starts from the loaded
        weights; resuming from a checkpoint without ``ema_state_dict`` does the
        same, with a warning. MMCV's ``ema_<name>`` entries are always taken out
        of ``state_dict``; on resume they restore the average (see `resume_from`).
        """
        ema, source = self._models(runner)
        resuming = self._resuming or bool(getattr(runner, "_resume", False))
        logger = getattr(runner, "logger", None) or _logger
        mmcv_buffers = _pop_mmcv_buffers(checkpoint["state_dict"], source)
        if resuming and "ema_state_dict" in checkpoint:
            _exchange(checkpoint)
            load_state_dict(
                ema, checkpoint["ema_state_dict"], self.strict_load, logger, revise_keys=()
            )
            self._restored = True
            return
        if resuming and mmcv_buffers:
            weights = checkpoint["state_dict"]
            if _by_epoch(runner):  # MMCV's first epoch starts by exchanging the two
                average = dict(weights)
                weights.update(mmcv_buffers)
            else:
                average = {**weights, **mmcv_buffers}
            load_state_dict(ema.module, average, self.strict_load, logger, revise_keys=())
            self._restored = True
            return
        if resuming:
            logger.warning(NO_EMA_STATE_WARNING)
        load_state_dict(
            ema.module, checkpoint["state_dict"], self.strict_load, logger, revise_keys=()
        )

    def _save_separately(
        self, runner: Any, checkpoint: dict[str, Any], weights: dict[str, Any]
    ) -> None:
        """Write the averaged model's `weights` as a checkpoint of their own (atomically)."""
        import os.path as osp

        meta = dict(checkpoint.get("meta", {}))
        name = self.separate_filename.format(epoch=meta.get("epoch"), iter=meta.get("iter"))
        save_checkpoint({"meta": meta, "state_dict": weights}, osp.join(runner.work_dir, name))

    # ------------------------------------------------------------ helpers
    def _build(self, runner: Any) -> BaseAveragedModel:
        source: nn.Module = unwrap_model(runner.model)
        model: BaseAveragedModel = MODELS.build(self.ema_cfg, default_args={"model": source})
        self.src_model = source
        self.ema_model = model
        self._swapped = False
        self._mmcv_warm_up = None
        if _is_plain_ema(self.ema_cfg["type"]):
            if self.warm_up is not None:
                self._mmcv_warm_up = self.warm_up
            elif _on_mmcv_runner(runner):
                self._mmcv_warm_up = _MMCV_WARM_UP
        return model

    def _models(self, runner: Any) -> tuple[BaseAveragedModel, nn.Module]:
        """The averaged model and its source, built now if the hook missed `before_run`."""
        if self.ema_model is None or self.src_model is None:
            self._build(runner)
        assert self.ema_model is not None and self.src_model is not None
        return self.ema_model, self.src_model

    def __repr__(self) -> str:
        options = ", ".join(f"{key}={value!r}" for key, value in self.ema_cfg.items())
        return (
            f"{type(self).__name__}({options}, strict_load={self.strict_load}, "
            f"begin_iter={self.begin_iter}, begin_epoch={self.begin_epoch}, "
            f"save_separately={self.save_separately}, warm_up={self.warm_up}, "
            f"resume_from={self.resume_from!r})"
        )


def _whole_state(module: nn.Module) -> dict[str, Any]:
    """`module`'s state dict on the CPU, its shards (FSDP2) gathered: call it on every rank."""
    state = module.state_dict()
    return gather_state_dict(state) if holds_dtensors(state.values()) else weights_to_cpu(state)


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


def _pop_mmcv_buffers(weights: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """Take MMCV's ``ema_<name with dots as underscores>`` entries out of `weights`, by name."""
    found = {}
    for name, _ in model.named_parameters():
        key = "ema_" + name.replace(".", "_")
        if key in weights:
            found[name] = weights.pop(key)
    return found


def _on_mmcv_runner(runner: Any) -> bool:
    """Whether `runner` is MMCV-style (Epoch/IterBasedRunner): it has a log_buffer."""
    return getattr(runner, "log_buffer", None) is not None


def _by_epoch(runner: Any) -> bool:
    loop = getattr(runner, "train_loop", None)
    return bool(getattr(loop, "by_epoch", True))


def _is_plain_ema(ema_type: Any) -> bool:
    return ema_type in ("ExponentialMovingAverage", ExponentialMovingAverage)


def _check_begin(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"EMAHook {name} must be a non-negative int, got {value!r}")
