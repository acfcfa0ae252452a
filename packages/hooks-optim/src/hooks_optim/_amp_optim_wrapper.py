"""`AmpOptimWrapper`: `OptimWrapper` with automatic mixed precision (autocast and loss scaling).

The forward pass runs under `torch.autocast`; with float16 the loss is scaled by
a `torch.amp.GradScaler` so small gradients do not underflow, and gradients are
unscaled before clipping. bfloat16 has float32's exponent range and needs no
scaling, which is also why it is the default on CPU.
"""

from __future__ import annotations

import contextlib

import torch

from hooks_core import OPTIM_WRAPPERS

from ._optim_wrapper import _NO_CONTEXT, OptimWrapper

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextlib import AbstractContextManager
    from typing import Any

    from torch import nn

__all__ = ["AmpOptimWrapper"]

_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    torch.float16: torch.float16,
    torch.bfloat16: torch.bfloat16,
}


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(OptimWrapper):
    """An `OptimWrapper` whose forward pass runs in float16 or bfloat16.

    The device is that of the optimizer's parameters when the wrapper is built
    (for the loss scaler and the default dtype) and that of the model's
    parameters in `optim_context` (for autocast).

    Args:
        loss_scale: With float16: ``'dynamic'`` (default) to grow and shrink the
            scale as gradients allow; a positive number for a fixed scale (steps
            whose gradients overflow are still skipped); or a dict of
            `torch.amp.GradScaler` arguments. Ignored with bfloat16, which needs
            no scaling.
        dtype: ``'float16'``, ``'bfloat16'`` (or the torch dtypes), or None for
            float16 on CUDA and bfloat16 elsewhere (CPU autocast's type).
        use_fsdp: Scale the loss with FSDP's ``ShardedGradScaler``, for a model
            wrapped in ``FullyShardedDataParallel``.
        **kwargs: `OptimWrapper`'s arguments: ``optimizer``,
            ``accumulative_counts``, ``clip_grad``.

    Example:
        >>> model = torch.nn.Linear(4, 2)
        >>> wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
        >>> with wrapper.optim_context(model):
        ...     out = model(torch.ones(3, 4))
        >>> out.dtype  # on CPU
        torch.bfloat16
    """

    def __init__(
        self,
        loss_scale: str | float | dict[str, Any] = "dynamic",
        dtype: str | torch.dtype | None = None,
        use_fsdp: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.use_fsdp = use_fsdp
        _check_loss_scale(loss_scale)
        self._device_type = _device_type(self.optimizer)
        if dtype is None:
            dtype = torch.float16 if self._device_type == "cuda" else torch.bfloat16
        if dtype not in _DTYPES:
            raise ValueError(
                f"dtype must be 'float16', 'bfloat16' or None (float16 on CUDA, bfloat16 "
                f"elsewhere), got {dtype!r}"
            )
        self._dtype = _DTYPES[dtype]
        self._static_scale: float | None = None
        self.loss_scaler: torch.amp.GradScaler | None = None
        if self._dtype is torch.float16:
            self.loss_scaler = self._make_scaler(loss_scale)

    def _make_scaler(self, loss_scale: str | float | dict[str, Any]) -> torch.amp.GradScaler:
        """A GradScaler on the optimizer's device: dynamic, fixed at `loss_scale`, or configured."""
        scaler: Any = torch.amp.GradScaler
        if self.use_fsdp:
            from torch.distributed.fsdp.sharded_grad_scaler import ShardedGradScaler

            scaler = ShardedGradScaler
        if isinstance(loss_scale, dict):
            return scaler(self._device_type, **loss_scale)  # type: ignore[no-any-return]
        if isinstance(loss_scale, str):  # 'dynamic', checked already
            return scaler(self._device_type)  # type: ignore[no-any-return]
        self._static_scale = float(loss_scale)
        return scaler(self._device_type, init_scale=self._static_scale)  # type: ignore[no-any-return]

    @property
    def dtype(self) -> torch.dtype:
        """The type autocast computes in: float16 or bfloat16."""
        return self._dtype

    @property
    def cast_dtype(self) -> torch.dtype:
        """MMEngine's name for `dtype`."""
        return self._dtype

    # ------------------------------------------------------------ the update
    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Back-propagate `loss`, multiplied by the loss scale when float16 needs one."""
        scaler = self.loss_scaler
        super().backward(scaler.scale(loss) if scaler is not None else loss, **kwargs)

    def step(self, **kwargs: Any) -> None:
        """Unscale the gradients, clip them if configured, then step unless they overflowed."""
        scaler = self.loss_scaler
        if scaler is None:
            super().step(**kwargs)
            return
        if self._clip is not None:
            scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
            self._clip_grads()
        scaler.step(self.optimizer, **kwargs)
        scaler.update(self._static_scale)  # a fixed scale is written back as it was

    def optim_context(self, model: nn.Module) -> AbstractContextManager[Any]:
        """`OptimWrapper.optim_context` (DDP's ``no_sync``) plus autocast on the model's device."""
        autocast = torch.autocast(_model_device_type(model, self._device_type), dtype=self._dtype)
        no_sync = super().optim_context(model)
        return autocast if no_sync is _NO_CONTEXT else _both(no_sync, autocast)

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """`OptimWrapper`'s state dict, plus the scaler's under ``'loss_scaler'`` when float16."""
        state = super().state_dict()
        if self.loss_scaler is not None:
            state["loss_scaler"] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load the optimizer's state and, when both sides have one, the loss scaler's.

        A checkpoint written without a scaler (bfloat16, or no AMP) loads into a
        float16 wrapper with a fresh scale, and a saved scale is ignored by a
        bfloat16 wrapper, so runs can switch precision on resume.
        """
        state = dict(state_dict)
        scaler_state = state.pop("loss_scaler", None)
        super().load_state_dict(state)
        if self.loss_scaler is not None and scaler_state:
            self.loss_scaler.load_state_dict(scaler_state)


def _check_loss_scale(loss_scale: object) -> None:
    """Reject what is neither ``'dynamic'``, a positive number, nor a dict of scaler arguments."""
    if isinstance(loss_scale, str):
        if loss_scale != "dynamic":
            raise ValueError(
                f"loss_scale must be 'dynamic', a positive number or a dict of "
                f"torch.amp.GradScaler arguments, got {loss_scale!r}"
            )
    elif isinstance(loss_scale, (int, float)) and not isinstance(loss_scale, bool):
        if not loss_scale > 0:
            raise ValueError(f"a fixed loss_scale must be positive, got {loss_scale}")
    elif not isinstance(loss_scale, dict):
        raise TypeError(
            f"loss_scale must be 'dynamic', a positive number or a dict of "
            f"torch.amp.GradScaler arguments, got {type(loss_scale).__name__}"
        )


def _device_type(optimizer: torch.optim.Optimizer) -> str:
    """The device type of the optimizer's first parameter ('cpu' if it has none)."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            return param.device.type  # type: ignore[no-any-return]
    return "cpu"


def _model_device_type(model: nn.Module, default: str) -> str:
    parameter = next(model.parameters(), None)
    return parameter.device.type if parameter is not None else default


@contextlib.contextmanager
def _both(
    first: AbstractContextManager[Any], second: AbstractContextManager[Any]
) -> Iterator[None]:
    with first, second:
        yield
