"""Exceptions raised by registries and plugin discovery."""

from __future__ import annotations

__all__ = ["NotRegisteredError", "PluginConflictError"]


class NotRegisteredError(KeyError):
    """A type name that neither a registry nor an installed plugin provides.

    It is a `KeyError`, as in MMEngine, so existing ``except KeyError`` code keeps
    working; unlike `KeyError` it prints its message as written, not quoted.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class PluginConflictError(RuntimeError):
    """Two installed distributions declare a plugin under the same name."""
