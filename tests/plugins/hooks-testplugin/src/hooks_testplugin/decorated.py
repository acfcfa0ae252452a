"""A plugin module that registers its hook by decorator when imported."""

from __future__ import annotations

from typing import Any

from hooks_core import HOOKS, Hook


@HOOKS.register_module()
class DecoratedHook(Hook):
    """Records that `before_run` ran."""

    def __init__(self) -> None:
        self.ran = False

    def before_run(self, runner: Any) -> None:
        self.ran = True
