"""`BaseDataPreprocessor`: moves a batch to the model's device before the forward pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..registry._roots import MODELS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["BaseDataPreprocessor"]


@MODELS.register_module()
class BaseDataPreprocessor(nn.Module):
    """MMEngine's default data preprocessor: put every tensor of a batch on `device`.

    `BaseModel` keeps its preprocessor's `device` in step with its own when it
    is moved (``to``, ``cuda``, ``cpu``); subclasses add normalisation,
    padding or batching in `forward`.

    Args:
        non_blocking: Copy tensors to the device asynchronously.
    """

    def __init__(self, non_blocking: bool = False) -> None:
        super().__init__()
        self._non_blocking = non_blocking
        self._device = torch.device("cpu")

    @property
    def device(self) -> torch.device:
        """Where `cast_data` puts tensors."""
        return self._device

    def cast_data(self, data: Any) -> Any:
        """Move the tensors in `data` (nested in dicts, lists, tuples) to `device`.

        Mappings come back as dicts, sequences (named tuples too) as their own
        type; strings and other objects are returned as they are.
        """
        return _cast(data, self._device, self._non_blocking)

    def forward(self, data: Any, training: bool = False) -> Any:
        """Prepare a batch for the model's forward pass; here, only move it to `device`."""
        return self.cast_data(data)

    def to(self, *args: Any, **kwargs: Any) -> BaseDataPreprocessor:
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        if device is not None:
            self._device = torch.device(device)
        return super().to(*args, **kwargs)

    def cuda(self, device: int | torch.device | None = None) -> BaseDataPreprocessor:
        moved = super().cuda(device)
        self._device = cuda_device(device)
        return moved

    def cpu(self) -> BaseDataPreprocessor:
        self._device = torch.device("cpu")
        return super().cpu()


def cuda_device(device: int | str | torch.device | None) -> torch.device:
    """The CUDA device ``module.cuda(device)`` moves to."""
    if device is None or isinstance(device, int):
        return torch.device("cuda", torch.cuda.current_device() if device is None else device)
    return torch.device(device)


def _cast(data: Any, device: torch.device, non_blocking: bool) -> Any:
    """`BaseDataPreprocessor.cast_data`, as a function: a module's attributes are slow to read.

    (`nn.Module` defines ``__getattr__``, so every ``self.`` lookup on it takes
    CPython's slow path; this recursion reads them once per batch.) Plain
    tensors and the usual containers are told by exact type first, and a
    sequence's plain tensors already on `device` are kept without a call per
    item: that is the batch a `DataLoader` gives a model on the CPU.
    """
    kind = type(data)
    if kind is _TENSOR:
        if data.device == device:  # already there: `to` would only cost its parsing
            return data
        return data.to(device, non_blocking=non_blocking)
    if kind is tuple or kind is list:
        items = [
            item
            if type(item) is _TENSOR and item.device == device
            else _cast(item, device, non_blocking)
            for item in data
        ]
        return items if kind is list else tuple(items)
    if isinstance(data, torch.Tensor):  # a subclass, e.g. a Parameter
        return data if data.device == device else data.to(device, non_blocking=non_blocking)
    if kind is dict or isinstance(data, Mapping):
        return {key: _cast(value, device, non_blocking) for key, value in data.items()}
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        return data
    items = [_cast(item, device, non_blocking) for item in data]
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # a named tuple
        return kind(*items)
    return kind(items)


_TENSOR = torch.Tensor
