"""The hook engine: `Hook` and its points, `Priority`, and `HookList`, which orders hooks and
dispatches each point to the hooks that act on it. Torch-free; it builds hooks through the registry.
"""

from __future__ import annotations

from ._hook import GENERIC_POINTS, HOOK_POINTS, Hook
from ._hook_list import HookList
from ._priority import Priority, UnknownPriorityError, get_priority, priority_name

__all__ = ["Hook", "HookList", "Priority", "get_priority", "priority_name", "UnknownPriorityError",
           "HOOK_POINTS", "GENERIC_POINTS"]  # fmt: skip
