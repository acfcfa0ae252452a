"""`BaseOptimWrapper`: the interface every optimizer wrapper offers the runner and schedulers.

As in MMEngine, a wrapper over an optimizer with several param groups adds
one more group for the schedulers, ``base_param_settings``: a copy of the
optimizer's defaults, scheduled like the others but holding no parameter. Its
learning rate is the schedule of the optimizer-wide ``lr`` that per-parameter
multipliers (``paramwise_cfg``) scale, which `get_lr` reports as ``base_lr``.
"""

from __future__ import annotations

import abc

import torch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["BaseOptimWrapper"]


class BaseOptimWrapper(abc.ABC):
    """What a wrapper adds on top of ``optimizer``: state, param groups, lr and momentum.

    Subclasses implement `update_params`, `backward`, `zero_grad` and `step`.

    Args:
        optimizer: The wrapped optimizer.

    Attributes:
        optimizer: The wrapped optimizer.
        base_param_settings: The extra param group (the optimizer's defaults and
            a placeholder ``params`` tensor) when the optimizer has several
            groups, else None.
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.base_param_settings: dict[str, Any] | None = None
        if len(optimizer.param_groups) > 1:
            self.base_param_settings = {
                "params": torch.tensor([0.0], dtype=torch.float),
                **optimizer.defaults,
            }

    @abc.abstractmethod
    def update_params(self, *args: Any, **kwargs: Any) -> None:
        """Update the parameters from a loss."""

    @abc.abstractmethod
    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Back-propagate `loss`."""

    @abc.abstractmethod
    def zero_grad(self, **kwargs: Any) -> None:
        """Reset the gradients."""

    @abc.abstractmethod
    def step(self, **kwargs: Any) -> None:
        """Step the optimizer."""

    # ------------------------------------------------------------ optimizer state
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state dict, with ``base_param_settings`` when there is one."""
        state = self.optimizer.state_dict()
        if self.base_param_settings is not None:
            state["base_param_settings"] = self.base_param_settings
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a `state_dict` (the caller's dict is left as it is)."""
        state = dict(state_dict)
        base = state.pop("base_param_settings", None)
        if base is not None:
            self.base_param_settings = base
        self.optimizer.load_state_dict(state)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The optimizer's parameter groups, then ``base_param_settings`` if any.

        The schedulers read and write these; a single-group optimizer's list is
        its own ``param_groups``.
        """
        if self.base_param_settings is None:
            return self.optimizer.param_groups
        return [*self.optimizer.param_groups, self.base_param_settings]

    @property
    def defaults(self) -> dict[str, Any]:
        """The optimizer's default hyper-parameters."""
        return self.optimizer.defaults

    def get_lr(self) -> dict[str, list[float]]:
        """``{'lr': [...]}``, one per optimizer group, after ``'base_lr'`` when several groups."""
        lrs: dict[str, list[float]] = {}
        if self.base_param_settings is not None:
            lrs["base_lr"] = [self.base_param_settings["lr"]]
        lrs["lr"] = [group["lr"] for group in self.optimizer.param_groups]
        return lrs

    def get_momentum(self) -> dict[str, list[float]]:
        """``{'momentum': [...]}`` per group: SGD's ``momentum`` or Adam's ``betas[0]`` (else 0)."""
        return {"momentum": [_momentum(group) for group in self.optimizer.param_groups]}


def _momentum(group: dict[str, Any]) -> float:
    if "momentum" in group:
        return group["momentum"]  # type: ignore[no-any-return]
    if "betas" in group:
        return group["betas"][0]  # type: ignore[no-any-return]
    return 0.0
