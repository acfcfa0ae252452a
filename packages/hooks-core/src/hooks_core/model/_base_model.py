"""`BaseModel`: an ``nn.Module`` that implements the runner's step protocol from a `forward`.

A user writes ``forward(inputs, data_samples=None, mode='tensor')`` returning a
dict of losses for ``mode='loss'`` and predictions for ``mode='predict'``; the
steps, the loss summation and the optimizer update come from here. This module
imports torch, so ``hooks_core`` loads it only when `BaseModel` is first used.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

__all__ = ["BaseModel"]


class BaseModel(nn.Module):
    """Base class of models the runner trains: write `forward`, get the steps.

    Args:
        data_preprocessor: Called as ``data_preprocessor(data, training)`` before
            every forward pass; the default moves tensors to the model's device.

    Example:
        >>> class Classifier(BaseModel):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.net = torch.nn.Linear(4, 3)
        ...     def forward(self, inputs, labels=None, mode='tensor'):
        ...         logits = self.net(inputs)
        ...         if mode == 'loss':
        ...             return {'loss': torch.nn.functional.cross_entropy(logits, labels)}
        ...         return logits.argmax(1) if mode == 'predict' else logits
    """

    def __init__(self, data_preprocessor: Callable[[Any, bool], Any] | None = None) -> None:
        super().__init__()
        self._data_preprocessor = data_preprocessor
        self._device: torch.device | None = None

    def data_preprocessor(self, data: Any, training: bool = False) -> Any:
        """Prepare a batch for `forward`: by default, move its tensors to the model's device."""
        if self._data_preprocessor is not None:
            return self._data_preprocessor(data, training)
        device = self._device
        if device is None:  # looked up once: walking the parameters costs microseconds
            parameter = next(self.parameters(), None)
            if parameter is None:
                return data
            device = self._device = parameter.device
        return _to_device(data, device)

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """`.to()`, `.cuda()` and friends end here: forget the cached device."""
        self._device = None
        return super()._apply(fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    def train_step(self, data: Any, optim_wrapper: Any) -> dict[str, torch.Tensor]:
        """Forward with ``mode='loss'``, update the parameters, return the losses as tensors."""
        return self.train_step_through(self, data, optim_wrapper)

    def train_step_through(
        self, forward: nn.Module, data: Any, optim_wrapper: Any
    ) -> dict[str, torch.Tensor]:
        """`train_step` with the forward pass run through `forward` (this model or its DDP)."""
        context = getattr(optim_wrapper, "optim_context", None)
        with context(forward) if context is not None else contextlib.nullcontext():
            losses = _run_forward(forward, self.data_preprocessor(data, True), "loss")
        loss, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(loss)
        return log_vars

    def val_step(self, data: Any) -> Any:
        """Forward with ``mode='predict'`` for the evaluator."""
        return _run_forward(self, self.data_preprocessor(data, False), "predict")

    def test_step(self, data: Any) -> Any:
        """Forward with ``mode='predict'`` for the evaluator."""
        return _run_forward(self, self.data_preprocessor(data, False), "predict")

    def parse_losses(
        self, losses: Mapping[str, Any]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Sum the entries whose name contains ``loss``; return it and every value to log.

        Values stay tensors (detached): converting them to numbers would wait
        for the device on every iteration.
        """
        log_vars: dict[str, torch.Tensor] = {}
        for name, value in losses.items():
            if isinstance(value, torch.Tensor):
                log_vars[name] = value if value.ndim == 0 else value.mean()
            elif isinstance(value, (list, tuple)) and all(
                isinstance(v, torch.Tensor) for v in value
            ):
                log_vars[name] = torch.stack([v.mean() for v in value]).sum()
            else:
                raise TypeError(
                    f"forward(mode='loss') returned {name}={type(value).__name__}; "
                    "each value must be a tensor or a list of tensors"
                )
        terms = [value for name, value in log_vars.items() if "loss" in name]
        if not terms:
            raise ValueError(
                f"forward(mode='loss') returned no entry whose name contains 'loss' "
                f"(got {list(log_vars)}); name at least one of them e.g. 'loss'"
            )
        loss = torch.stack(terms).sum() if len(terms) > 1 else terms[0]
        parsed = {"loss": loss.detach()}
        for name, value in log_vars.items():
            if name != "loss":
                parsed[name] = value.detach()
        return loss, parsed


def _run_forward(forward: Any, data: Any, mode: str) -> Any:
    """Call `forward` with a batch given as a dict (keywords) or a sequence (positions)."""
    if isinstance(data, dict):
        return forward(**data, mode=mode)
    if isinstance(data, (list, tuple)):
        return forward(*data, mode=mode)
    return forward(data, mode=mode)


def _to_device(data: Any, device: torch.device) -> Any:
    if isinstance(data, torch.Tensor):
        return data if data.device == device else data.to(device, non_blocking=True)
    if isinstance(data, dict):
        return type(data)((k, _to_device(v, device)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return type(data)(_to_device(v, device) for v in data)
    return data
