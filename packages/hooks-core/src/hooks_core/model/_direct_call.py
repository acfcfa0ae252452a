"""`direct_call`: a module's bound ``forward`` when calling the module would only run that.

On CPython 3.11 ``module(...)`` costs about 9,000 instructions before its
``forward`` starts: two Python frames of ``nn.Module.__call__``, each reading
attributes through the slow path ``nn.Module.__getattr__`` imposes, and the
arguments packed twice. That path does nothing else when the module has no
hooks of its own, no global module hooks are registered, it was not compiled
with ``module.compile()`` and no ``torch.jit.trace`` is running; `direct_call`
checks exactly those conditions (for about 4,000 instructions) and then
skips it. Anything else, including a subclass with its own ``__call__`` and a
torch whose module internals are not the ones checked, goes through
``module(...)`` as usual.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules import module as _torch_module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["direct_call"]

_MODULE_CALL = nn.Module.__call__
# The module-global hooks ``nn.Module.__call__`` consults (dicts torch mutates in place).
_GLOBAL_HOOKS: tuple[Any, ...] = tuple(
    getattr(_torch_module, name, None)
    for name in (
        "_global_forward_pre_hooks",
        "_global_forward_hooks",
        "_global_backward_pre_hooks",
        "_global_backward_hooks",
    )
)
_tracing_state: Any = getattr(torch._C, "_get_tracing_state", None)
# Off for a torch whose `nn.Module.__call__` does not read what is checked here.
_CHECKABLE = _tracing_state is not None and all(isinstance(h, dict) for h in _GLOBAL_HOOKS)
_PRE_HOOKS, _HOOKS, _BACKWARD_PRE_HOOKS, _BACKWARD_HOOKS = _GLOBAL_HOOKS


def direct_call(module: Callable[..., Any]) -> Callable[..., Any]:
    """What to call instead of `module`: its ``forward`` when that is all its call would run.

    `module` may be any callable; only an ``nn.Module`` using ``nn.Module``'s
    own ``__call__`` is ever replaced, and only for this one call: hooks
    registered later are seen by the next `direct_call`.
    """
    if type(module).__call__ is not _MODULE_CALL or not _CHECKABLE:
        return module
    state = module.__dict__
    try:
        if (
            state["_forward_pre_hooks"]
            or state["_forward_hooks"]
            or state["_backward_pre_hooks"]
            or state["_backward_hooks"]
            or state.get("_compiled_call_impl") is not None  # torch < 2.2 has none
        ):
            return module
    except KeyError:  # a module whose __init__ did not run: let its call fail as torch says
        return module
    if _PRE_HOOKS or _HOOKS or _BACKWARD_PRE_HOOKS or _BACKWARD_HOOKS or _tracing_state():
        return module
    forward: Callable[..., Any] = module.forward  # type: ignore[attr-defined]  # a module
    return forward
