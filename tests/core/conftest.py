"""Fixtures for the core's tests: registries and the default scope restored after each test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from hooks_core import DATA_SAMPLERS, HOOKS, LOOPS, clear_plugin_cache
from hooks_core.registry import DefaultScope

if TYPE_CHECKING:
    from collections.abc import Iterator

_SHARED = (HOOKS, LOOPS, DATA_SAMPLERS)

# Register the core's built-in types once, before any test snapshots a registry:
# a module is imported only once per process, so its registrations must not
# land in a snapshot that a test then throws away.
for _registry in _SHARED:
    _registry.available_names()


@pytest.fixture(autouse=True)
def isolated_registries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let a test register names into the shared registries without leaking them."""
    for registry in _SHARED:
        monkeypatch.setattr(registry, "_modules", dict(registry._modules))
        monkeypatch.setattr(registry, "_children", dict(registry._children))
    monkeypatch.setattr(DefaultScope, "_instances", {})  # a scope a test sets ends with it
    monkeypatch.setattr(DefaultScope, "_current", None)
    yield
    clear_plugin_cache()
