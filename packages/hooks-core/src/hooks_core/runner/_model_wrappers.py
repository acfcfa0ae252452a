"""The model wrappers a ``model_wrapper_cfg`` can name, registered in ``MODEL_WRAPPERS``, and
wrapping a model in one.

MMEngine's configs name DDP ``MMDistributedDataParallel``; here every DDP name
is `DistributedModel`, DistributedDataParallel with the runner's step protocol.
The registry imports this module on its first miss (it imports torch).
"""

from __future__ import annotations

import torch

from ..model._ddp import DistributedModel
from ..model._wrapper import DDP_TYPES
from ..registry._roots import MODEL_WRAPPERS
from ._builders import registered

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["convert_sync_batchnorm", "wrap_in"]

MODEL_WRAPPERS.register_module(name=list(DDP_TYPES), module=DistributedModel)


def convert_sync_batchnorm(model: Any, sync_bn: str | None) -> Any:
    """The config's ``sync_bn='torch'`` turns BatchNorm layers into SyncBatchNorm (distributed)."""
    if sync_bn is None:
        return model
    if sync_bn != "torch":
        raise ValueError(
            f"sync_bn must be 'torch' (torch.nn.SyncBatchNorm), got {sync_bn!r}; "
            "MMCV's SyncBatchNorm is not supported"
        )
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)  # type: ignore[no-untyped-call]


def wrap_in(model: Any, options: Mapping[str, Any]) -> Any:
    """Build the ``MODEL_WRAPPERS`` wrapper ``options['type']`` around `model`.

    A DistributedDataParallel subclass gets this process's GPU as ``device_ids``.
    """
    args = dict(options)
    wrapper = args.pop("type")
    wrapper_cls = registered(MODEL_WRAPPERS, wrapper) if isinstance(wrapper, str) else wrapper
    defaults: dict[str, Any] = {"module": model}
    ddp = torch.nn.parallel.DistributedDataParallel
    is_ddp = isinstance(wrapper_cls, type) and issubclass(wrapper_cls, ddp)
    if is_ddp and torch.cuda.is_available():
        defaults["device_ids"] = [torch.cuda.current_device()]
    return MODEL_WRAPPERS.build({"type": wrapper_cls, **args}, default_args=defaults)
