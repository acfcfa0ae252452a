"""`DefaultScope`: the scope a task builds in, so ``dict(type='X')`` finds a downstream library's X.

A runner for ``mmdet`` sets the default scope ``'mmdet'``; from then on a build
through a root registry such as `MODELS` uses the ``mmdet`` child registry of
that tree (and, through it, every parent). A config's ``_scope_`` key switches
the scope for the object it describes and everything built inside it.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import logging

from ..utils import ManagerMixin

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._registry import Registry

__all__ = ["DefaultScope", "init_default_scope", "switch_scope_and_registry"]

_logger = logging.getLogger("hooks_core.registry")
_unique = itertools.count()  # names for the instances that overwrite the scope


class DefaultScope(ManagerMixin):
    """The scope of the current task, reachable from anywhere.

    Args:
        name: The instance name, for `get_instance`.
        scope_name: The scope, e.g. ``'mmdet'``.

    Example:
        >>> DefaultScope.get_instance('my_task', scope_name='mylib').scope_name
        'mylib'
        >>> DefaultScope.get_current_instance().scope_name
        'mylib'
    """

    def __init__(self, name: str, scope_name: str) -> None:
        super().__init__(name)
        if not isinstance(scope_name, str):
            raise TypeError(f"scope_name must be a str, got {type(scope_name).__name__}")
        self._scope_name = scope_name

    @property
    def scope_name(self) -> str:
        """The scope of the current task."""
        return self._scope_name

    @classmethod
    def get_current_instance(cls) -> DefaultScope | None:  # type: ignore[override]
        """The current default scope, or None when no task set one (not an error, unlike
        other managed classes: building without a default scope is normal)."""
        return cls._current  # type: ignore[no-any-return]

    @classmethod
    @contextlib.contextmanager
    def overwrite_default_scope(cls, scope_name: str | None) -> Iterator[None]:
        """Make `scope_name` the default scope inside the block; None changes nothing."""
        if scope_name is None:
            yield
            return
        saved = dict(cls._instances), cls._current
        cls.get_instance(f"overwrite-{next(_unique)}", scope_name=scope_name)
        try:
            yield
        finally:
            cls._instances, cls._current = saved


def init_default_scope(scope: str) -> None:
    """Make `scope` the default scope, as a runner does with its ``default_scope``.

    A different current scope is replaced, with a warning in the log.
    """
    current = DefaultScope.get_current_instance()
    if current is not None and current.scope_name == scope:
        return
    if current is not None:
        _logger.warning(
            "the default scope %r is replaced by %r (init_default_scope)", current.scope_name, scope
        )
    taken = DefaultScope.check_instance_created(scope)  # only a new instance becomes current
    DefaultScope.get_instance(f"{scope}-{next(_unique)}" if taken else scope, scope_name=scope)


@contextlib.contextmanager
def switch_scope_and_registry(registry: Registry, scope: str | None) -> Iterator[Registry]:
    """`Registry.switch_scope_and_registry`: see there."""
    with DefaultScope.overwrite_default_scope(scope):
        default = DefaultScope.get_current_instance()
        yield registry if default is None else _registry_of(registry, default.scope_name)


def _registry_of(registry: Registry, scope: str) -> Registry:
    """The registry of `scope` in `registry`'s tree, or `registry` itself when there is none."""
    root = registry.root
    found = root._search_child(scope)
    if found is None:
        # A downstream package adds its child registries when its `registry` module is imported.
        with contextlib.suppress(ImportError):
            importlib.import_module(f"{scope}.registry")
        found = root._search_child(scope)
    if found is None:
        _logger.warning(
            "no registry has the scope %r in the tree of the %s; building with the %s",
            scope,
            root.label,
            registry.label,
        )
        return registry
    return found
