"""Putting the model on its device and, in distributed runs, inside DistributedDataParallel."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["wrap_model", "unwrap_model"]


def wrap_model(model: Any, distributed: bool, wrapper_cfg: dict[str, Any]) -> Any:
    """Move a torch model to the GPU when there is one; wrap it for DDP when distributed.

    Args:
        model: The model; objects that are not ``nn.Module`` are returned as they are.
        distributed: Whether `torch.distributed` is initialised with several ranks.
        wrapper_cfg: Keyword arguments for ``DistributedDataParallel``
            (``find_unused_parameters``, ``broadcast_buffers``, ...).
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        return model
    if torch.cuda.is_available():
        model = model.cuda()
    if not distributed:
        return model
    from ._ddp import DistributedModel

    device_ids = [torch.cuda.current_device()] if torch.cuda.is_available() else None
    return DistributedModel(model, device_ids=device_ids, **wrapper_cfg)


def unwrap_model(model: Any) -> Any:
    """The user's model inside a DDP wrapper (or the model itself)."""
    return getattr(model, "module", model)
