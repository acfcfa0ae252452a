"""`OptimWrapperDict`: several named optimizer wrappers, for models trained by parts (GANs).

A model with several optimizers drives each wrapper itself in its `train_step`
(``optim_wrapper['generator'].update_params(g_loss)``), so the dict refuses the
single-loss calls, whose meaning would be ambiguous, and offers what the runner
and its hooks need across all of them: learning rates, state, zeroing, stepping.
As in MMEngine it is an `OptimWrapper` itself (``isinstance`` holds), without
the accumulation state of one.
"""

from __future__ import annotations

from hooks_core import OPTIM_WRAPPERS

from ._optim_wrapper import OptimWrapper

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import ItemsView, Iterator, KeysView, ValuesView
    from typing import Any, NoReturn

    from torch import nn

__all__ = ["OptimWrapperDict"]


@OPTIM_WRAPPERS.register_module()
class OptimWrapperDict(OptimWrapper):
    """Named `OptimWrapper` objects, read like a dict and saved together.

    Args:
        **optim_wrappers: The wrappers by name, e.g. ``generator=...,
            discriminator=...``.

    Example:
        >>> import torch
        >>> g, d = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
        >>> wrappers = OptimWrapperDict(
        ...     generator=OptimWrapper(torch.optim.SGD(g.parameters(), lr=0.1)),
        ...     discriminator=OptimWrapper(torch.optim.SGD(d.parameters(), lr=0.2)))
        >>> wrappers.get_lr()
        {'generator.lr': [0.1], 'discriminator.lr': [0.2]}
    """

    def __init__(self, **optim_wrappers: OptimWrapper) -> None:
        # No `OptimWrapper.__init__`: the dict has no optimizer of its own.
        for name, wrapper in optim_wrappers.items():
            if not isinstance(wrapper, OptimWrapper):
                raise TypeError(
                    f"OptimWrapperDict values must be OptimWrapper objects, got "
                    f"{name}={type(wrapper).__name__}"
                )
        self.optim_wrappers: dict[str, OptimWrapper] = dict(optim_wrappers)

    # ------------------------------------------------------------ mapping
    def __getitem__(self, name: str) -> OptimWrapper:
        try:
            return self.optim_wrappers[name]
        except KeyError:
            raise KeyError(
                f"no optimizer wrapper named {name!r}; this OptimWrapperDict has "
                f"{', '.join(map(repr, self.optim_wrappers)) or 'none'}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.optim_wrappers

    def __len__(self) -> int:
        return len(self.optim_wrappers)

    def __iter__(self) -> Iterator[str]:
        return iter(self.optim_wrappers)

    def keys(self) -> KeysView[str]:
        """The wrappers' names."""
        return self.optim_wrappers.keys()

    def values(self) -> ValuesView[OptimWrapper]:
        """The wrappers."""
        return self.optim_wrappers.values()

    def items(self) -> ItemsView[str, OptimWrapper]:
        """``(name, wrapper)`` pairs."""
        return self.optim_wrappers.items()

    # ------------------------------------------------------------ across all wrappers
    def get_lr(self) -> dict[str, list[float]]:
        """Every wrapper's learning rates as ``'<name>.lr'`` (and ``'<name>.base_lr'``)."""
        return _prefixed({name: wrapper.get_lr() for name, wrapper in self.items()})

    def get_momentum(self) -> dict[str, list[float]]:
        """Every wrapper's momentum as ``'<name>.momentum'``."""
        return _prefixed({name: wrapper.get_momentum() for name, wrapper in self.items()})

    def state_dict(self) -> dict[str, Any]:
        """``{name: wrapper.state_dict()}``."""
        return {name: wrapper.state_dict() for name, wrapper in self.items()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load ``state_dict[name]`` into each wrapper it names (all, or some of them).

        Raises:
            KeyError: `state_dict` names a wrapper this dict does not have.
        """
        unknown = sorted(set(state_dict) - set(self.optim_wrappers))
        if unknown:
            raise KeyError(
                f"the state dict has optimizer wrappers {unknown} that this "
                f"OptimWrapperDict does not have (it has {sorted(self.optim_wrappers)})"
            )
        for name, state in state_dict.items():
            self.optim_wrappers[name].load_state_dict(state)

    def zero_grad(self, **kwargs: Any) -> None:
        """Zero the gradients of every wrapper's parameters."""
        for wrapper in self.values():
            wrapper.zero_grad(**kwargs)

    def step(self, **kwargs: Any) -> None:
        """Step every wrapper (each clips first if configured)."""
        for wrapper in self.values():
            wrapper.step(**kwargs)

    def initialize_count_status(self, model: nn.Module, init_counts: int, max_counts: int) -> None:
        """Tell every wrapper where training starts and ends (see `OptimWrapper`)."""
        for wrapper in self.values():
            wrapper.initialize_count_status(model, init_counts, max_counts)

    # ------------------------------------------------------------ single-loss calls
    def update_params(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Refused: update each wrapper, ``optim_wrapper[name].update_params(loss)``."""
        _refuse("update_params(loss)")

    def backward(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Refused: back-propagate through each wrapper, ``optim_wrapper[name].backward(loss)``."""
        _refuse("backward(loss)")

    def optim_context(self, model: nn.Module) -> NoReturn:
        """Refused: enter each wrapper's, ``optim_wrapper[name].optim_context(model)``."""
        _refuse("optim_context(model)")

    @property
    def param_groups(self) -> dict[str, list[dict[str, Any]]]:  # type: ignore[override]
        """``{name: wrapper.param_groups}``."""
        return {name: wrapper.param_groups for name, wrapper in self.items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={wrapper!r}" for name, wrapper in self.items())
        return f"{type(self).__name__}({inner})"


def _prefixed(per_name: dict[str, dict[str, list[float]]]) -> dict[str, list[float]]:
    return {f"{name}.{key}": values for name, d in per_name.items() for key, values in d.items()}


def _refuse(call: str) -> NoReturn:
    raise NotImplementedError(
        f"OptimWrapperDict holds several optimizers, so it has no single {call.split('(')[0]}: "
        f"use each wrapper, e.g. optim_wrapper['generator'].{call}, in your model's train_step"
    )
