"""`DDPStrategy`: every rank holds the whole model; DistributedDataParallel averages gradients.

The runner's default in a distributed run, built from the config keys it has
always read: ``model_wrapper_cfg``, ``find_unused_parameters`` and ``sync_bn``.
"""

from __future__ import annotations

from ...model._wrapper import DDP_TYPES, no_buffer_broadcast, wrap_model
from ...registry._roots import STRATEGIES
from ._base import BaseStrategy, check_not_wrapped

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["DDPStrategy", "require_process_group"]


@STRATEGIES.register_module()
class DDPStrategy(BaseStrategy):
    """Data parallel training with DistributedDataParallel (MMEngine's `DDPStrategy`).

    Args:
        model_wrapper: The wrapper's options, MMEngine's ``model_wrapper_cfg``:
            DistributedDataParallel's keywords and, with ``type``, any wrapper
            in ``MODEL_WRAPPERS``. None: DDP that does not broadcast buffers at
            every forward, with `find_unused_parameters`.
        sync_bn: ``'torch'`` turns BatchNorm layers into SyncBatchNorm (checked
            when the model is wrapped).
        find_unused_parameters: DDP's option, used when `model_wrapper` is None.

    Example:
        >>> strategy = dict(type='DDPStrategy', sync_bn='torch',
        ...                 model_wrapper=dict(find_unused_parameters=True))
    """

    def __init__(
        self,
        *,
        model_wrapper: Mapping[str, Any] | None = None,
        sync_bn: str | None = None,
        find_unused_parameters: bool = False,
    ) -> None:
        if model_wrapper is not None and not isinstance(model_wrapper, dict):
            raise TypeError(
                f"model_wrapper must be a dict of wrapper options or None, got {model_wrapper!r}"
            )
        self.model_wrapper = None if model_wrapper is None else dict(model_wrapper)
        self.sync_bn = sync_bn
        self.find_unused_parameters = bool(find_unused_parameters)

    def wrap_model(self, model: Any, model_wrapper_cfg: Mapping[str, Any] | None = None) -> Any:
        """Convert BatchNorm if asked, put the model on its device and inside its DDP wrapper.

        A `model_wrapper_cfg` given here replaces the strategy's `model_wrapper`;
        a model in a wrapper already is returned as it is.
        """
        if check_not_wrapped(model, model_wrapper_cfg):
            return model
        require_process_group(self)
        wrapper_cfg = self.model_wrapper if model_wrapper_cfg is None else model_wrapper_cfg
        if wrapper_cfg is None:
            options = {
                **no_buffer_broadcast(),
                "find_unused_parameters": self.find_unused_parameters,
            }
        else:
            options = dict(wrapper_cfg)
        from .._model_wrappers import convert_sync_batchnorm, wrap_in  # imports torch

        model = convert_sync_batchnorm(model, self.sync_bn)
        wrapper = options.get("type", "MMDistributedDataParallel")
        if isinstance(wrapper, str) and wrapper in DDP_TYPES:
            return wrap_model(model, True, options)
        return wrap_in(wrap_model(model, False, {}), options)

    def __repr__(self) -> str:
        return (
            f"DDPStrategy(model_wrapper={self.model_wrapper!r}, sync_bn={self.sync_bn!r}, "
            f"find_unused_parameters={self.find_unused_parameters})"
        )


def require_process_group(strategy: BaseStrategy) -> None:
    """Fail, saying how to launch, when `strategy` needs ``torch.distributed`` and it is not set up.

    Raises:
        RuntimeError: no process group is initialised.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return
    name = type(strategy).__name__
    raise RuntimeError(
        f"{name} needs an initialised process group, and this process has none: launch with "
        f"torchrun (e.g. torchrun --nproc_per_node=2 train.py) and give the runner "
        f"launcher='pytorch', or use strategy=dict(type='SingleDeviceStrategy') to train in one "
        "process"
    )
