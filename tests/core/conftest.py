"""Fixtures for the core's tests: registries restored after each test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from hooks_core import HOOKS, LOOPS, clear_plugin_cache

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def isolated_registries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let a test register names into the shared registries without leaking them."""
    for registry in (HOOKS, LOOPS):
        monkeypatch.setattr(registry, "_modules", dict(registry._modules))
        monkeypatch.setattr(registry, "_children", dict(registry._children))
    yield
    clear_plugin_cache()
