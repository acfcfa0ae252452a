"""Tensors sharded across ranks as DTensors (FSDP2): finding, gathering and loading them.

FSDP2 keeps each parameter as a `torch.distributed.tensor.DTensor` whose local
part is this rank's shard. Checkpoints hold whole tensors; these helpers turn
one into the other, so the same ``.pth`` file serves a single process, DDP and
FSDP. Torch is imported on first use.
"""

from __future__ import annotations

import itertools

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    import torch
    from torch import nn
    from torch.distributed.tensor import DTensor
    from torch.utils.hooks import RemovableHandle

__all__ = ["holds_dtensors", "gather_state_dict", "load_whole_tensors"]


def _dtensor_type() -> type[DTensor] | None:
    """The DTensor class, or None when this torch build has no distributed package."""
    import torch.distributed

    if not torch.distributed.is_available():
        return None
    from torch.distributed.tensor import DTensor

    return DTensor


def holds_dtensors(tensors: Iterable[Any]) -> bool:
    """Whether any of `tensors` (e.g. ``model.parameters()``) is a DTensor: a sharded one."""
    dtensor = _dtensor_type()
    return dtensor is not None and any(isinstance(tensor, dtensor) for tensor in tensors)


def gather_state_dict(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `state_dict` whose DTensors are gathered into whole tensors on the CPU.

    Gathering is a collective: every rank must call it, in the same order.
    Other tensors are detached and moved to the CPU; other values are kept.
    """
    import torch

    dtensor = _dtensor_type()
    gathered: dict[str, Any] = {}
    for key, value in state_dict.items():
        if dtensor is not None and isinstance(value, dtensor):
            value = value.full_tensor()
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
        gathered[key] = value
    return gathered


def load_whole_tensors(module: nn.Module) -> RemovableHandle:
    """Let ``module.load_state_dict`` take whole tensors where `module` holds DTensors.

    Each rank keeps the part of a whole tensor its shard covers (every rank has
    read the checkpoint, so nothing is sent). Values that already are DTensors,
    or whose shape differs (reported by the caller's loading), are left alone.

    Returns:
        The hook's handle; ``handle.remove()`` undoes this.
    """
    return module.register_load_state_dict_pre_hook(_shard_whole_tensors)  # type: ignore[no-untyped-call, no-any-return]


def _shard_whole_tensors(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any
) -> None:
    """The pre-hook of `load_whole_tensors`: replace whole tensors by this rank's shards."""
    import torch
    from torch.distributed.tensor import DTensor, distribute_tensor

    own: Iterable[tuple[str, torch.Tensor]] = itertools.chain(
        module.named_parameters(remove_duplicate=False),
        module.named_buffers(remove_duplicate=False),
    )
    for name, tensor in own:
        key = prefix + name
        value = state_dict.get(key)
        if (
            isinstance(tensor, DTensor)
            and isinstance(value, torch.Tensor)
            and not isinstance(value, DTensor)
            and value.shape == tensor.shape
        ):
            state_dict[key] = distribute_tensor(
                value.to(tensor.device), tensor.device_mesh, tensor.placements, src_data_rank=None
            )
