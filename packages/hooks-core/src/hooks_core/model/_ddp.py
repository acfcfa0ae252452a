"""`DistributedModel`: DistributedDataParallel that also speaks the runner's step protocol."""

from __future__ import annotations

from torch.nn.parallel import DistributedDataParallel

from ._base_model import BaseModel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["DistributedModel"]


class DistributedModel(DistributedDataParallel):
    """DDP whose `train_step` runs the forward pass through DDP, so gradients are averaged.

    `val_step` and `test_step` need no gradient synchronisation and go straight
    to the wrapped model.
    """

    def __init__(self, module: Any, **kwargs: Any) -> None:
        if not isinstance(module, BaseModel):
            raise TypeError(
                f"distributed training needs a hooks_core.BaseModel, got {type(module).__name__}: "
                "its train_step must run the forward pass through DistributedDataParallel"
            )
        super().__init__(module, **kwargs)

    def train_step(self, data: Any, optim_wrapper: Any) -> Any:
        """The wrapped model's `train_step`, with its forward pass routed through DDP."""
        return self.module.train_step_through(self, data, optim_wrapper)

    def val_step(self, data: Any) -> Any:
        return self.module.val_step(data)

    def test_step(self, data: Any) -> Any:
        return self.module.test_step(data)
