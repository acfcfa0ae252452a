"""Every optimizer of the installed `torch.optim`, registered in `OPTIMIZERS` by class name.

The classes are found by introspection rather than listed, so a config can name
any optimizer the installed torch ships (``dict(type='AdamW', lr=1e-3)``),
including ones added after this package was written.
"""

from __future__ import annotations

import torch

from hooks_core import OPTIMIZERS

__all__ = ["register_torch_optimizers"]


def _torch_optimizer_classes() -> list[type[torch.optim.Optimizer]]:
    """The optimizer classes `torch.optim` exports, without the `Optimizer` base, by name.

    An alias exported under two names appears once.
    """
    found: dict[str, type[torch.optim.Optimizer]] = {}
    for attr in dir(torch.optim):
        obj = getattr(torch.optim, attr, None)
        if (
            isinstance(obj, type)
            and issubclass(obj, torch.optim.Optimizer)
            and obj is not torch.optim.Optimizer
        ):
            found.setdefault(obj.__name__, obj)
    return [found[name] for name in sorted(found)]


def register_torch_optimizers() -> list[str]:
    """Register each `torch.optim` optimizer in `OPTIMIZERS` under its class name.

    Calling it again is harmless. A name that something else registered first
    (a user's own ``'Adam'``, say) keeps that registration: importing this
    package must not fail, and the earlier registration was deliberate.

    Returns:
        The names, sorted, that now build the `torch.optim` classes.
    """
    names = []
    registered = OPTIMIZERS.module_dict  # the own table: a lookup could import plugins
    for cls in _torch_optimizer_classes():
        existing = registered.get(cls.__name__)
        if existing is None:
            OPTIMIZERS.register_module(module=cls)
        elif existing is not cls:
            continue
        names.append(cls.__name__)
    return names


register_torch_optimizers()
