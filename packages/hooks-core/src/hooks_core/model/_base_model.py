"""`BaseModel`: an ``nn.Module`` that implements the runner's step protocol from a `forward`.

A user writes ``forward(inputs, data_samples=None, mode='tensor')`` returning a
dict of losses for ``mode='loss'`` and predictions for ``mode='predict'``; the
data preprocessing, the steps, the loss summation and the optimizer update come
from here. This module imports torch, so ``hooks_core`` loads it only when
`BaseModel` is first used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import torch
from torch import nn

from ..registry._roots import MODELS
from ._data_preprocessor import _TENSOR, BaseDataPreprocessor, cuda_device
from ._direct_call import direct_call

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["BaseModel"]


class BaseModel(nn.Module):
    """Base class of models the runner trains: write `forward`, get the steps.

    MMEngine's ``BaseModel``: ``train_step``, ``val_step`` and ``test_step``
    pass the batch through `data_preprocessor`, then call ``forward`` with
    ``mode='loss'`` or ``mode='predict'``; `parse_losses` sums the losses.

    Args:
        data_preprocessor: A module (or any callable) called as
            ``data_preprocessor(data, training)`` before every forward pass, or
            its config for ``MODELS``; None means a `BaseDataPreprocessor`,
            which moves the batch's tensors to the model's device.
        init_cfg: Accepted for MMEngine models that pass it on; weight
            initialisation configs are not supported, so it must be None.

    Raises:
        TypeError: `data_preprocessor` is neither a dict, a callable nor None.
        NotImplementedError: `init_cfg` is given.

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

    def __init__(
        self,
        data_preprocessor: Mapping[str, Any] | Callable[..., Any] | None = None,
        init_cfg: Any = None,
    ) -> None:
        super().__init__()
        if init_cfg is not None:
            raise NotImplementedError(
                f"{type(self).__name__}: init_cfg (MMEngine's weight initialisation configs) is "
                "not supported; initialise the weights in __init__ instead"
            )
        if data_preprocessor is None:
            built: Any = BaseDataPreprocessor()
        elif isinstance(data_preprocessor, Mapping):
            built = MODELS.build(data_preprocessor)
        elif callable(data_preprocessor):
            built = data_preprocessor
        else:
            raise TypeError(
                f"data_preprocessor must be a module, a callable, a config dict or None, got "
                f"{type(data_preprocessor).__name__}"
            )
        self.data_preprocessor: Callable[..., Any] = built

    def to(self, *args: Any, **kwargs: Any) -> BaseModel:
        """Move the model, and tell its data preprocessors the new device."""
        moved = super().to(*args, **kwargs)
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        if device is not None:
            self._set_device(torch.device(device))
        return moved

    def cuda(self, device: int | torch.device | None = None) -> BaseModel:
        """Move the model to a GPU, and tell its data preprocessors."""
        moved = super().cuda(device)
        self._set_device(cuda_device(device))
        return moved

    def cpu(self) -> BaseModel:
        """Move the model to the CPU, and tell its data preprocessors."""
        moved = super().cpu()
        self._set_device(torch.device("cpu"))
        return moved

    def _set_device(self, device: torch.device) -> None:
        for module in self.modules():
            if isinstance(module, BaseDataPreprocessor):
                module._device = device

    def train_step(self, data: Any, optim_wrapper: Any) -> dict[str, torch.Tensor]:
        """Forward with ``mode='loss'``, update the parameters, return the losses as tensors."""
        return self.train_step_through(self, data, optim_wrapper)

    def train_step_through(
        self, forward: nn.Module, data: Any, optim_wrapper: Any
    ) -> dict[str, torch.Tensor]:
        """`train_step` with the forward pass run through `forward` (this model or its DDP)."""
        try:
            optim_context = optim_wrapper.optim_context
        except AttributeError:  # a duck-typed wrapper without one: nothing to set up
            context: Any = _EMPTY
        else:
            context = optim_context(forward)
        if type(context) is contextlib.nullcontext:  # the usual case: no `with` to pay for
            losses = run_forward(forward, self._preprocessor()(data, True), "loss")
        else:
            with context:
                losses = run_forward(forward, self._preprocessor()(data, True), "loss")
        loss, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(loss)
        return log_vars

    def _preprocessor(self) -> Callable[..., Any]:
        """What to call to run `data_preprocessor` (see `direct_call`), read from the submodules.

        ``self.data_preprocessor`` would first fail the ordinary attribute lookup
        (a submodule is not in the instance's dict), format that error, then find
        the module in `nn.Module.__getattr__`: several times the cost of this.
        """
        found = self._modules.get("data_preprocessor")
        if found is None:  # a plain callable, a property
            return self.data_preprocessor
        return direct_call(found)

    def val_step(self, data: Any) -> Any:
        """Forward with ``mode='predict'`` for the evaluator."""
        return self._run_forward(self._preprocessor()(data, False), "predict")

    def test_step(self, data: Any) -> Any:
        """Forward with ``mode='predict'`` for the evaluator."""
        return self._run_forward(self._preprocessor()(data, False), "predict")

    def _run_forward(self, data: Any, mode: str) -> Any:
        """Call ``forward`` with a prepared batch: a dict as keywords, a sequence as positions."""
        return run_forward(self, data, mode)

    def parse_losses(
        self, losses: Mapping[str, Any]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Sum the entries whose name contains ``loss``; return it and every value to log.

        Values stay tensors (detached): converting them to numbers would wait
        for the device on every iteration.
        """
        parsed: dict[str, Any] = {"loss": None}  # the total comes first, as in MMEngine
        terms = []
        for name, value in losses.items():
            if type(value) is _TENSOR or isinstance(value, torch.Tensor):
                if value.ndim:
                    value = value.mean()
            elif isinstance(value, (list, tuple)) and all(
                isinstance(v, torch.Tensor) for v in value
            ):
                value = torch.stack([v.mean() for v in value]).sum()
            else:
                raise TypeError(
                    f"forward(mode='loss') returned {name}={type(value).__name__}; "
                    "each value must be a tensor or a list of tensors"
                )
            if "loss" in name:
                terms.append(value)
            if name != "loss":
                parsed[name] = value.detach()
        if not terms:
            raise ValueError(
                f"forward(mode='loss') returned no entry whose name contains 'loss' "
                f"(got {list(losses)}); name at least one of them e.g. 'loss'"
            )
        loss = terms[0] if len(terms) == 1 else torch.stack(terms).sum()
        parsed["loss"] = loss.detach()
        return loss, parsed


def run_forward(forward: Any, data: Any, mode: str) -> Any:
    """Call `forward` with a batch given as a dict (keywords) or a sequence (positions).

    Anything else is passed as the only positional argument (MMEngine raises).
    A module is called through `direct_call`.
    """
    forward = direct_call(forward)
    if isinstance(data, dict):
        return forward(**data, mode=mode)
    if isinstance(data, (list, tuple)):
        return forward(*data, mode=mode)
    return forward(data, mode=mode)


_EMPTY = contextlib.nullcontext()  # the forward pass's context for a wrapper without one
