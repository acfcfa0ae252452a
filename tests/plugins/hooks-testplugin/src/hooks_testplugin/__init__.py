"""Test plugin: types that reach the core registries only through entry points."""

from __future__ import annotations

from typing import Any

from hooks_core import Hook


class CountingHook(Hook):
    """Counts the training iterations it sees."""

    priority = "LOW"

    def __init__(self, start: int = 0) -> None:
        self.count = start

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        self.count += 1


class CountdownLoop:
    """A stand-in loop type: enough to show that non-hook registries find plugins too."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
