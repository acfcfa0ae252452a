"""Putting the model on its device and, in distributed runs, inside DistributedDataParallel."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "wrap_model",
    "unwrap_model",
    "is_model_wrapper",
    "model_class_name",
    "DDP_TYPES",
    "no_buffer_broadcast",
]

# The ``type`` names of a ``model_wrapper_cfg`` that mean DDP (MMEngine configs name theirs).
DDP_TYPES = ("DistributedModel", "MMDistributedDataParallel", "DistributedDataParallel")


def wrap_model(model: Any, distributed: bool, wrapper_cfg: dict[str, Any]) -> Any:
    """Move a torch model to the GPU when there is one; wrap it for DDP when distributed.

    Args:
        model: The model; objects that are not ``nn.Module`` are returned as they are.
        distributed: Whether `torch.distributed` is initialised with several ranks.
        wrapper_cfg: Keyword arguments for ``DistributedDataParallel``
            (``find_unused_parameters``, ``broadcast_buffers``, ...), and
            optionally a ``type`` naming DDP, as in MMEngine's ``model_wrapper_cfg``.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        return model
    if torch.cuda.is_available():
        model = model.cuda()
    if not distributed:
        return model
    from ._ddp import DistributedModel

    kwargs = dict(wrapper_cfg)
    wrapper_type = kwargs.pop("type", "DistributedModel")
    if wrapper_type not in DDP_TYPES:
        raise ValueError(
            f"model_wrapper_cfg type {wrapper_type!r} is not supported: hooks-core wraps "
            f"models in DistributedDataParallel; use one of {', '.join(DDP_TYPES)} or no type"
        )
    device_ids = [torch.cuda.current_device()] if torch.cuda.is_available() else None
    return DistributedModel(model, device_ids=device_ids, **kwargs)


def is_model_wrapper(model: Any) -> bool:
    """Whether `model` is a torch wrapper (DataParallel, DistributedDataParallel) around another.

    A model's own attribute named ``module`` does not make it a wrapper. Torch is
    not imported here: if nothing imported it yet, no wrapper can exist.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    return isinstance(model, (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel))


def unwrap_model(model: Any) -> Any:
    """The user's model inside a DataParallel/DDP wrapper, or the model itself."""
    return model.module if is_model_wrapper(model) else model


def model_class_name(model: Any) -> str:
    """The name of the user's model class, inside a DDP wrapper or under FSDP2's sharding.

    ``fully_shard`` swaps a module's class in place for ``FSDP<Name>``, a subclass
    of ``FSDPModule`` and the user's class, so the user's class is the other base.
    """
    cls = type(unwrap_model(model))
    fsdp = sys.modules.get("torch.distributed.fsdp")
    sharded = getattr(fsdp, "FSDPModule", None)
    if sharded is not None and issubclass(cls, sharded):
        cls = next((base for base in cls.__bases__ if base is not sharded), cls)
    return cls.__name__


def no_buffer_broadcast() -> dict[str, bool]:
    """DDP's option not to broadcast buffers at every forward (MMEngine's default for its DDP).

    Newer torch deprecates ``broadcast_buffers`` for ``forward_sync_buffers``,
    which still syncs them once, when the model is wrapped.
    """
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters:
        return {"forward_sync_buffers": False}
    return {"broadcast_buffers": False}
