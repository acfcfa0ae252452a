"""`OptimizerView`: the MMCV runners' ``optim_wrapper``, a read-only face of ``runner.optimizer``.

MMEngine-style hooks and checkpoints read learning rates and optimizer state
through ``runner.optim_wrapper``; on the MMCV runners the optimizer hooks step
``runner.optimizer`` themselves, so this view only reads and restores.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["OptimizerView"]


class OptimizerView:
    """Learning rates, momenta and state of an optimizer, or of a dict of named optimizers.

    Args:
        optimizer: A ``torch.optim.Optimizer`` or a dict name -> optimizer.
    """

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer

    def _named(self) -> dict[str, Any]:
        """``{'': optimizer}`` or the dict: one loop serves both."""
        return self.optimizer if isinstance(self.optimizer, dict) else {"": self.optimizer}

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """Every parameter group (of every optimizer, in order)."""
        return [group for opt in self._named().values() for group in opt.param_groups]

    def get_lr(self) -> dict[str, list[float]]:
        """``{'lr': [...]}`` per parameter group; ``{'<name>.lr': [...]}`` for named optimizers."""
        return {
            _key(name, "lr"): [group["lr"] for group in opt.param_groups]
            for name, opt in self._named().items()
        }

    def get_momentum(self) -> dict[str, list[float]]:
        """SGD's ``momentum`` or Adam's first beta per group (else 0), keyed as `get_lr`."""
        return {
            _key(name, "momentum"): [momentum_of(g) for g in opt.param_groups]
            for name, opt in self._named().items()
        }

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state, or ``{name: state}`` for named optimizers (MMCV's layout)."""
        if isinstance(self.optimizer, dict):
            return {name: opt.state_dict() for name, opt in self.optimizer.items()}
        return dict(self.optimizer.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        if isinstance(self.optimizer, dict):
            for name, opt in self.optimizer.items():
                opt.load_state_dict(state[name])
        else:
            self.optimizer.load_state_dict(state)

    def __repr__(self) -> str:
        return f"OptimizerView({self.optimizer!r})"


def momentum_of(group: dict[str, Any]) -> float:
    """A parameter group's momentum as MMCV reads it: ``momentum``, else ``betas[0]``, else 0."""
    if "momentum" in group:
        return float(group["momentum"])
    if "betas" in group:
        return float(group["betas"][0])
    return 0.0


def _key(name: str, value: str) -> str:
    return f"{name}.{value}" if name else value
