"""`OptimWrapper`: one optimizer behind the runner's update protocol; accumulation, clipping.

`BaseModel.train_step` runs the forward pass inside ``optim_wrapper.optim_context(model)``
and then calls ``optim_wrapper.update_params(loss)``; the runner calls
``initialize_count_status(model, iter, max_iters)`` before training. Everything
the wrapper adds on top of ``backward``/``step``/``zero_grad`` (gradient
accumulation, skipping DDP's all-reduce on accumulation steps, gradient
clipping) lives here, and the path taken every iteration stays a handful of
attribute reads: no logging, no formatting, no device synchronisation. The
gradient norm goes to the message hub as the tensor ``clip_grad_norm_`` returns.
"""

from __future__ import annotations

import contextlib
import sys
import warnings

import torch
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils import clip_grad_norm_, clip_grad_value_

from hooks_core import OPTIM_WRAPPERS, MessageHub
from hooks_core.model import model_class_name
from hooks_core.runner.strategy import holds_dtensors

from ._base_optim_wrapper import BaseOptimWrapper

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from typing import Any

    from torch import nn

__all__ = ["OptimWrapper"]

# `nullcontext` keeps no state, so one instance serves every synchronising iteration.
_NO_CONTEXT: AbstractContextManager[None] = contextlib.nullcontext()

# What each kind of clipping accepts besides ``type``, and which of those it needs.
_CLIP_KEYS = {
    "norm": ({"max_norm"}, {"max_norm", "norm_type", "error_if_nonfinite", "foreach"}),
    "value": ({"clip_value"}, {"clip_value", "foreach"}),
}
_NEVER = sys.maxsize  # an iteration count training never reaches


@OPTIM_WRAPPERS.register_module()
class OptimWrapper(BaseOptimWrapper):
    """Drive one optimizer: scale, backward, and every `accumulative_counts` calls, clip and step.

    Args:
        optimizer: The optimizer to drive.
        accumulative_counts: How many micro-batches accumulate their gradients
            before each optimizer step. The loss of each is divided by this
            number, so an accumulated gradient equals the gradient of the mean
            loss over the whole group, as one big batch would give.
        clip_grad: ``dict(type='norm', max_norm=..., norm_type=2,
            error_if_nonfinite=False)`` to clip the gradients' total norm before
            each step (``type`` defaults to ``'norm'``), or ``dict(type='value',
            clip_value=...)`` to clamp each gradient element. The norm before
            clipping is logged as ``train/grad_norm`` in the current message hub.

    The state dict is the optimizer's (see `BaseOptimWrapper`); the
    accumulation counter is not in it, since the runner restores it from the
    resumed iteration through `initialize_count_status`.

    Example:
        >>> model = torch.nn.Linear(4, 1)
        >>> wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1),
        ...                        accumulative_counts=2)
        >>> for _ in range(2):
        ...     with wrapper.optim_context(model):
        ...         loss = model(torch.ones(3, 4)).sum()
        ...     wrapper.update_params(loss)  # steps on the second call only
        >>> wrapper.inner_count
        2
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        accumulative_counts: int = 1,
        clip_grad: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}; "
                "build it first, e.g. torch.optim.SGD(model.parameters(), lr=0.01)"
            )
        if isinstance(accumulative_counts, bool) or not isinstance(accumulative_counts, int):
            raise TypeError(f"accumulative_counts must be an int, got {accumulative_counts!r}")
        if accumulative_counts < 1:
            raise ValueError(f"accumulative_counts must be at least 1, got {accumulative_counts}")
        super().__init__(optimizer)
        self._accumulative_counts = accumulative_counts
        self._inner_count = 0
        self._max_counts = _NEVER
        # From iteration `_partial_from` on, the last group is shorter: divide by its size.
        self._partial_from = _NEVER
        self._partial_counts = accumulative_counts
        self._clip: Callable[[list[torch.Tensor]], Any] | None = _make_clipper(clip_grad)
        self._clip_by_norm = self._clip is not None and _clip_type(clip_grad) == "norm"
        # Over FSDP2's DTensor gradients the norm is a DTensor too: this rank's copy is logged.
        self._norm_is_dtensor = self._clip_by_norm and holds_dtensors(
            param for group in optimizer.param_groups for param in group["params"]
        )

    # ------------------------------------------------------------ the update
    def update_params(
        self,
        loss: torch.Tensor,
        step_kwargs: dict[str, Any] | None = None,
        zero_kwargs: dict[str, Any] | None = None,
    ) -> None:
        """Back-propagate `loss`, and at the end of an accumulation group clip, step and zero.

        Args:
            loss: The loss of one (micro-)batch, not yet divided for accumulation.
            step_kwargs: Keyword arguments for `step`.
            zero_kwargs: Keyword arguments for `zero_grad`.
        """
        if self._accumulative_counts != 1:
            loss = self.scale_loss(loss)
        self.backward(loss)
        if self.should_update():
            if step_kwargs:
                self.step(**step_kwargs)
            else:
                self.step()
            if zero_kwargs:
                self.zero_grad(**zero_kwargs)
            else:
                self.zero_grad()

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Back-propagate `loss` (``loss.backward(**kwargs)``) and count one micro-batch."""
        loss.backward(**kwargs)  # type: ignore[no-untyped-call]
        self._inner_count += 1

    def step(self, **kwargs: Any) -> None:
        """Clip the gradients if configured, then step the optimizer."""
        if self._clip is not None:
            self._clip_grads()
        self.optimizer.step(**kwargs)

    def zero_grad(self, **kwargs: Any) -> None:
        """Reset the gradients (``optimizer.zero_grad(**kwargs)``)."""
        self.optimizer.zero_grad(**kwargs)

    def _clip_grads(self) -> None:
        """Clip every parameter's gradient; log the norm before clipping, kept as a tensor."""
        assert self._clip is not None
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        result = self._clip(params)
        if self._clip_by_norm:
            norm = result.to_local() if self._norm_is_dtensor else result
            MessageHub.get_current_instance().update_scalar("train/grad_norm", norm)

    # ------------------------------------------------------------ accumulation
    def optim_context(self, model: nn.Module) -> AbstractContextManager[Any]:
        """The context of the forward pass: DDP's ``no_sync()`` on accumulation steps.

        Gradients of a micro-batch that does not end its group need no
        all-reduce yet: the one at the group's end averages the accumulated sum.
        A model without ``no_sync`` (not distributed) gets an empty context. An
        FSDP2 model is told instead, through ``set_requires_gradient_sync``,
        whether the coming backward reduces its gradients: a setting its
        backward reads, after this context has closed.
        """
        sync = self.should_sync()
        if self._accumulative_counts != 1:
            set_sync = getattr(model, "set_requires_gradient_sync", None)
            if set_sync is not None:
                set_sync(sync)
                return _NO_CONTEXT
        if sync:
            return _NO_CONTEXT
        no_sync = getattr(model, "no_sync", None)
        return no_sync() if no_sync is not None else _NO_CONTEXT

    def should_update(self) -> bool:
        """Whether the micro-batch just back-propagated ends its group, so the optimizer steps."""
        count = self._inner_count
        return count % self._accumulative_counts == 0 or count == self._max_counts

    def should_sync(self) -> bool:
        """Whether the next micro-batch ends its group, so its backward must all-reduce."""
        count = self._inner_count + 1
        return count % self._accumulative_counts == 0 or count == self._max_counts

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """Divide `loss` by the size of its accumulation group (shorter for a partial last one)."""
        if self._inner_count < self._partial_from:
            return loss / self._accumulative_counts
        return loss / self._partial_counts

    def initialize_count_status(self, model: nn.Module, init_counts: int, max_counts: int) -> None:
        """Tell the wrapper where training starts and ends, in micro-batches (iterations).

        Groups are aligned to iteration numbers, so a resumed run accumulates
        exactly as the uninterrupted one. When `max_counts` is not a multiple of
        `accumulative_counts`, the last group is shorter and its losses are
        divided by its own size.

        Warns:
            UserWarning: when `init_counts` falls inside a group (the gradients of
                that group's earlier micro-batches were not saved), or when
                `model` has BatchNorm layers and gradients accumulate (their
                statistics see only one micro-batch at a time).
        """
        accumulate = self._accumulative_counts
        self._inner_count = init_counts
        self._max_counts = max_counts
        remainder = max_counts % accumulate
        self._partial_from = max_counts - remainder if remainder else _NEVER
        self._partial_counts = remainder or accumulate
        if init_counts % accumulate:
            warnings.warn(
                f"training resumes at iteration {init_counts}, inside a group of "
                f"{accumulate} accumulated iterations: the gradients of its first "
                f"{init_counts % accumulate} iterations were not saved, so its update "
                "uses fewer samples",
                UserWarning,
                stacklevel=2,
            )
        if accumulate > 1 and any(isinstance(m, _BatchNorm) for m in model.modules()):
            warnings.warn(
                f"{model_class_name(model)} has BatchNorm layers and accumulates gradients over "
                f"{accumulate} iterations: their statistics see one micro-batch at a time, so "
                "accumulation does not reproduce a bigger batch; consider GroupNorm or "
                "SyncBatchNorm",
                UserWarning,
                stacklevel=2,
            )

    @property
    def inner_count(self) -> int:
        """How many micro-batches have been back-propagated (the training iteration)."""
        return self._inner_count

    @property
    def accumulative_counts(self) -> int:
        """How many micro-batches accumulate before each optimizer step."""
        return self._accumulative_counts

    @property
    def max_counts(self) -> int | None:
        """The last iteration given to `initialize_count_status`, or None before it."""
        return None if self._max_counts == _NEVER else self._max_counts

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(optimizer={type(self.optimizer).__name__}, "
            f"accumulative_counts={self._accumulative_counts}, inner_count={self._inner_count})"
        )


def _clip_type(clip_grad: dict[str, Any] | None) -> str:
    return (clip_grad or {}).get("type", "norm")  # type: ignore[no-any-return]


def _make_clipper(clip_grad: dict[str, Any] | None) -> Callable[[list[torch.Tensor]], Any] | None:
    """Check `clip_grad` and return ``clip(params)`` (the total norm for ``'norm'``), or None."""
    if clip_grad is None:
        return None
    if not isinstance(clip_grad, dict) or not clip_grad:
        raise ValueError(
            f"clip_grad must be None or a non-empty dict such as dict(type='norm', max_norm=1.0) "
            f"or dict(type='value', clip_value=0.5), got {clip_grad!r}"
        )
    kind = _clip_type(clip_grad)
    if kind not in _CLIP_KEYS:
        raise ValueError(f"clip_grad type must be 'norm' or 'value', got {kind!r}")
    required, allowed = _CLIP_KEYS[kind]
    kwargs = {key: value for key, value in clip_grad.items() if key != "type"}
    if unknown := sorted(set(kwargs) - allowed):
        raise ValueError(
            f"clip_grad of type {kind!r} does not accept {', '.join(unknown)}; "
            f"valid keys: type, {', '.join(sorted(allowed))}"
        )
    if missing := sorted(required - set(kwargs)):
        raise ValueError(f"clip_grad of type {kind!r} needs {', '.join(missing)}")
    clip = clip_grad_norm_ if kind == "norm" else clip_grad_value_

    def clipper(params: list[torch.Tensor]) -> Any:
        return clip(params, **kwargs)

    return clipper
