"""MMCV 1.x's optimizer hooks, driving `OptimWrapper`/`AmpOptimWrapper` over ``runner.optimizer``.

On MMCV's runners the model's ``train_step`` only computes the loss; one of
these hooks back-propagates ``runner.outputs['loss']`` and steps in
``after_train_iter``. The arithmetic (accumulation and its last partial group,
clipping, loss scaling) is the wrappers', so an MMCV config trains exactly as
the same settings do with MMEngine's ``optim_wrapper``. As in MMCV, the norm
before clipping goes into ``runner.log_buffer`` as ``grad_norm``.
"""

from __future__ import annotations

import warnings

import torch

from hooks_core import HOOKS, Hook, MessageHub

from ._amp_optim_wrapper import AmpOptimWrapper, _check_loss_scale, _device_type
from ._fp16_utils import half_dtype, wrap_fp16_model
from ._optim_wrapper import OptimWrapper, _make_clipper

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "Fp16OptimizerHook",
    "GradientCumulativeFp16OptimizerHook",
    "GradientCumulativeOptimizerHook",
    "OptimizerHook",
]


@HOOKS.register_module()
class OptimizerHook(Hook):
    """Back-propagate ``runner.outputs['loss']``, clip if asked, and step ``runner.optimizer``.

    Each iteration: zero the gradients, back-propagate, clip, step (MMCV's
    order, so the gradients stay readable by later hooks until the next one).

    Args:
        grad_clip: Keyword arguments of ``torch.nn.utils.clip_grad_norm_``, e.g.
            ``dict(max_norm=35, norm_type=2)``; None: no clipping. The
            optimizer's parameters are clipped together (MMCV clips the
            model's; they are the same unless the optimizer leaves some out).
        detect_anomalous_params: Log (``runner.logger``, ERROR) every parameter
            that requires a gradient but is not in the loss's autograd graph,
            i.e. unused in the forward pass or not leading to the loss. It walks
            the graph every iteration: for debugging only.

    Attributes:
        optim_wrapper: The wrapper over ``runner.optimizer`` (None before use).

    Raises:
        ValueError: at ``before_run``, another optimizer hook is registered on
            the runner (each would back-propagate the same loss).
    """

    priority = "ABOVE_NORMAL"  # where MMCV's register_optimizer_hook puts it

    def __init__(
        self, grad_clip: dict[str, Any] | None = None, detect_anomalous_params: bool = False
    ) -> None:
        self.grad_clip = grad_clip
        self.detect_anomalous_params = detect_anomalous_params
        self._clip_grad = None if grad_clip is None else {"type": "norm", **grad_clip}
        self._clipper = _make_clipper(self._clip_grad)  # checks grad_clip now
        self.optim_wrapper: OptimWrapper | None = None

    # ------------------------------------------------------------ points
    def before_run(self, runner: Any) -> None:
        """Refuse a second optimizer hook, and wrap the runner's optimizer."""
        hooks = getattr(runner, "hooks", ())
        others = [h for h in hooks if isinstance(h, OptimizerHook) and h is not self]
        if others:
            names = ", ".join(type(h).__name__ for h in others)
            raise ValueError(
                f"{type(self).__name__} and {names} are both registered: each back-propagates "
                "runner.outputs['loss'], so the second fails with 'Trying to backward through "
                "the graph a second time'. Register one optimizer hook: for gradient "
                "accumulation, optimizer_config=dict(type='GradientCumulativeOptimizerHook', "
                "cumulative_iters=N) replaces OptimizerHook"
            )
        self._wrapper(runner)

    def after_train_iter(self, runner: Any) -> None:  # type: ignore[override]
        """Zero the gradients, back-propagate the loss, clip and step."""
        wrapper = self._wrapper(runner)
        loss = runner.outputs["loss"]
        wrapper.zero_grad()
        if self.detect_anomalous_params:
            self.detect_anomalous_parameters(loss, runner)
        wrapper.backward(loss)
        wrapper.step()
        self._log_grad_norm(runner)

    # ------------------------------------------------------------ MMCV's helpers
    def clip_grads(self, params: Any) -> torch.Tensor | None:
        """Clip the gradients of `params` by `grad_clip`; the norm before, or None without grads."""
        assert self._clipper is not None, "clip_grads needs grad_clip"
        with_grads = [p for p in params if p.requires_grad and p.grad is not None]
        return self._clipper(with_grads) if with_grads else None

    def detect_anomalous_parameters(self, loss: torch.Tensor, runner: Any) -> None:
        """Log each parameter that requires a gradient but that `loss` does not depend on."""
        in_graph: set[int] = set()
        seen: set[Any] = set()
        pending = [loss.grad_fn]
        while pending:
            node = pending.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            variable = getattr(node, "variable", None)  # AccumulateGrad: a leaf tensor
            if variable is not None:
                in_graph.add(id(variable))
            pending.extend(parent for parent, _ in node.next_functions)
        for name, param in runner.model.named_parameters():
            if param.requires_grad and id(param) not in in_graph:
                runner.logger.error(
                    "%s with shape %s is not in the computational graph of the loss",
                    name,
                    tuple(param.shape),
                )

    # ------------------------------------------------------------ the wrapper
    _wrapper_type: type[OptimWrapper] = OptimWrapper

    def _wrapper_options(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """The wrapper's arguments besides the optimizer; subclasses add theirs."""
        return {"clip_grad": self._clip_grad}

    def _wrapper(self, runner: Any) -> OptimWrapper:
        """The wrapper over ``runner.optimizer``, built on first use (again if it changed)."""
        optimizer = getattr(runner, "optimizer", None)
        wrapper = self.optim_wrapper
        if wrapper is not None and wrapper.optimizer is optimizer:
            return wrapper
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"{type(self).__name__} steps one torch optimizer, but runner.optimizer is "
                f"{type(optimizer).__name__}: with several optimizers (a dict), step them in "
                "the model's train_step and pass optimizer_config=None"
            )
        wrapper = self._wrapper_type(optimizer=optimizer, **self._wrapper_options(optimizer))
        self.optim_wrapper = wrapper
        return wrapper

    def _log_grad_norm(self, runner: Any) -> None:
        """Put the norm the wrapper measured before clipping into ``runner.log_buffer`` (MMCV's)."""
        log_buffer = getattr(runner, "log_buffer", None)
        if self._clip_grad is None or log_buffer is None:
            return
        norm = MessageHub.get_current_instance().get_scalar("train/grad_norm").current()
        count = runner.outputs.get("num_samples", 1)
        log_buffer.update({"grad_norm": float(norm)}, count)


@HOOKS.register_module()
class GradientCumulativeOptimizerHook(OptimizerHook):
    """Accumulate the gradients of `cumulative_iters` iterations, then clip and step.

    Each loss is divided by `cumulative_iters` (by the size of the last group
    when ``max_iters`` is not a multiple of it), so one step follows the mean
    loss of the group, as one batch `cumulative_iters` times bigger would.
    Groups are aligned to iteration numbers: the optimizer steps after
    iteration ``i`` when ``(i + 1) % cumulative_iters == 0`` and at the last.
    As MMCV, it warns (``runner.logger``) when the model has BatchNorm layers
    or training resumes inside a group, and when the last, shorter group begins.

    Args:
        cumulative_iters: How many iterations accumulate before each step.
        **kwargs: `OptimizerHook`'s ``grad_clip`` and ``detect_anomalous_params``.

    Example:
        >>> optimizer_config = dict(type='GradientCumulativeOptimizerHook', cumulative_iters=4)
    """

    def __init__(self, cumulative_iters: int = 1, **kwargs: Any) -> None:
        if isinstance(cumulative_iters, bool) or not isinstance(cumulative_iters, int):
            raise TypeError(f"cumulative_iters must be a positive int, got {cumulative_iters!r}")
        if cumulative_iters < 1:
            raise ValueError(f"cumulative_iters must be a positive int, got {cumulative_iters}")
        super().__init__(**kwargs)
        self.cumulative_iters = cumulative_iters
        self._aligned: OptimWrapper | None = None  # the wrapper `_init` aligned
        self._divisible_iters = -1

    def after_train_iter(self, runner: Any) -> None:  # type: ignore[override]
        """Back-propagate the divided loss; at the end of a group clip, step and zero."""
        wrapper = self._wrapper(runner)
        if not self.initialized:
            self._init(runner, wrapper)
        loss = runner.outputs["loss"]
        if self.detect_anomalous_params:
            self.detect_anomalous_parameters(loss, runner)
        if runner.iter == self._divisible_iters:
            remainder = runner.max_iters - self._divisible_iters
            runner.logger.warning(
                "the loss of the last %d iterations is divided by %d: they are not enough "
                "for cumulative_iters=%d",
                remainder,
                remainder,
                self.cumulative_iters,
            )
        wrapper.update_params(loss)
        if wrapper.should_update():  # it stepped
            self._log_grad_norm(runner)

    @property
    def initialized(self) -> bool:
        """Whether the wrapper's count is aligned with the runner's iteration (MMCV's flag)."""
        return self._aligned is not None and self._aligned is self.optim_wrapper

    def _wrapper_options(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        return {**super()._wrapper_options(optimizer), "accumulative_counts": self.cumulative_iters}

    def _init(self, runner: Any, wrapper: OptimWrapper) -> None:
        """Align the wrapper's count with the runner's; its warnings go to ``runner.logger``."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            wrapper.initialize_count_status(runner.model, runner.iter, runner.max_iters)
        for warning in caught:
            runner.logger.warning("%s", warning.message)
        self._divisible_iters = runner.max_iters - runner.max_iters % self.cumulative_iters
        if self._divisible_iters == runner.max_iters:
            self._divisible_iters = -1  # no shorter last group to announce
        self._aligned = wrapper


@HOOKS.register_module()
class Fp16OptimizerHook(OptimizerHook):
    """Mixed-precision training: scaled backward, unscaled clipping, skipped overflowing steps.

    ``before_run`` sets ``fp16_enabled`` on the model's modules that have the
    flag (`wrap_fp16_model`), so their `auto_fp16` methods run in half
    precision, and restores the loss scaler from ``runner.meta['fp16']``
    (where a resumed MMCV checkpoint keeps it). Half precision is float16 on
    CUDA and, since CPU autocast has no float16, bfloat16 on CPU (see
    `half_dtype`); bfloat16 has float32's range, so it trains without a
    loss scale and `loss_scale` is not used there. Every saved checkpoint
    holds the scaler's state in ``meta['fp16']['loss_scaler']`` (and so does
    ``runner.meta`` after a save), as MMCV's do.

    Args:
        grad_clip: As `OptimizerHook`; the gradients are unscaled first.
        coalesce: MMCV's, for its own all-reduce of gradients; unused here (DDP
            reduces them), kept so configs build.
        bucket_size_mb: Likewise unused.
        loss_scale: ``'dynamic'``, a fixed scale (a positive number), or a dict
            of ``torch.amp.GradScaler`` arguments; as in MMCV, 512 by default.
        distributed: Likewise unused.

    Attributes:
        optim_wrapper: The `AmpOptimWrapper` over ``runner.optimizer``; its
            ``loss_scaler`` is None with bfloat16.
    """

    def __init__(
        self,
        grad_clip: dict[str, Any] | None = None,
        coalesce: bool = True,
        bucket_size_mb: int = -1,
        loss_scale: str | float | dict[str, Any] = 512.0,
        distributed: bool = True,
    ) -> None:
        super().__init__(grad_clip=grad_clip)
        _check_loss_scale(loss_scale)
        self.coalesce = coalesce
        self.bucket_size_mb = bucket_size_mb
        self.loss_scale = loss_scale
        self.distributed = distributed

    def before_run(self, runner: Any) -> None:
        """Refuse a second optimizer hook, enable `auto_fp16`, restore the scaler from meta."""
        super().before_run(runner)
        wrap_fp16_model(runner.model)
        self._load_scaler(runner, getattr(runner, "meta", None))

    def after_train_iter(self, runner: Any) -> None:  # type: ignore[override]
        """Zero the gradients, back-propagate the scaled loss, unscale, clip and step."""
        runner.model.zero_grad()
        super().after_train_iter(runner)

    def before_save_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        """Put the scaler's state into the checkpoint's and the runner's ``meta['fp16']``."""
        wrapper = self._wrapper(runner)
        assert isinstance(wrapper, AmpOptimWrapper)
        scaler = wrapper.loss_scaler
        if scaler is None:
            return
        state = scaler.state_dict()
        checkpoint.setdefault("meta", {}).setdefault("fp16", {})["loss_scaler"] = state
        if isinstance(getattr(runner, "meta", None), dict):
            runner.meta.setdefault("fp16", {})["loss_scaler"] = state

    def after_load_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        """Restore the scaler from ``checkpoint['meta']['fp16']`` (a resume after `before_run`)."""
        self._load_scaler(runner, checkpoint.get("meta"))

    _wrapper_type = AmpOptimWrapper

    def _wrapper_options(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        dtype = half_dtype(_device_type(optimizer))
        options = super()._wrapper_options(optimizer)
        return {**options, "loss_scale": self.loss_scale, "dtype": dtype}

    def _load_scaler(self, runner: Any, meta: Any) -> None:
        state = ((meta or {}).get("fp16") or {}).get("loss_scaler")
        wrapper = self._wrapper(runner)
        assert isinstance(wrapper, AmpOptimWrapper)
        if state and wrapper.loss_scaler is not None:
            wrapper.loss_scaler.load_state_dict(state)


@HOOKS.register_module()
class GradientCumulativeFp16OptimizerHook(GradientCumulativeOptimizerHook, Fp16OptimizerHook):
    """`GradientCumulativeOptimizerHook` in mixed precision (`Fp16OptimizerHook`'s rules).

    Args:
        cumulative_iters: How many iterations accumulate before each step.
        **kwargs: `Fp16OptimizerHook`'s arguments.
    """
