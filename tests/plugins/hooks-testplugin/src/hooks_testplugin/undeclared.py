"""A plugin module whose names are not declared as entry points one by one."""

from __future__ import annotations

from hooks_core import LOOPS


@LOOPS.register_module(name=["UndeclaredLoop", "UndeclaredLoopAlias"])
class UndeclaredLoop:
    """Reachable by name only because its module is listed in ``hooks_core.plugins``."""

    def __init__(self, steps: int = 1) -> None:
        self.steps = steps
