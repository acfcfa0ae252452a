"""`Registry`: maps type names to classes and builds objects from config dicts.

An unscoped name is looked up in the registry itself, then its parents, then
(an addition to MMEngine) its descendants when only one of them has it. A
scoped name, ``'mmdet.RetinaNet'``, is looked up in the registry of that scope
anywhere in the tree (``'mmdet.models.X'`` walks nested scopes). On a miss the
lazily imported `locations` and installed plugins are loaded and the lookup
retried; a dotted path that still names nothing, such as ``'torch.optim.SGD'``,
is imported directly.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

from ._errors import NotRegisteredError
from ._first_party import first_party_names, install_hint
from ._plugins import find_plugin, import_plugin_modules, plugin_names

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from contextlib import AbstractContextManager
    from typing import Any, TypeVar

    T = TypeVar("T", bound=Callable[..., Any])

__all__ = ["Registry"]

_CORE, _MMENGINE = "hooks_core", "mmengine"  # the scope of the core's roots, and its alias


class Registry:
    """A named table of buildable types, optionally chained to a parent registry.

    Args:
        name: What the registry holds, e.g. ``'hook'``; used in messages.
        build_func: The function `build` calls as ``build_func(cfg, *args,
            registry=self, **kwargs)``; inherited from the parent, else
            `build_from_cfg`.
        parent: A registry to fall back to, so a downstream library's child
            registry (``Registry('hook', parent=HOOKS, scope='mylib')``) sees
            every core type while keeping its own names apart.
        scope: The namespace of this registry; defaults to the top-level package
            of the module that creates it (`infer_scope`). ``'scope.Name'`` keys select it.
        locations: Modules to import, once, the first time a name is missing,
            so their ``register_module`` decorators run without an explicit import.
        entry_point_group: The entry-point group that installed plugins use to
            declare names for this registry; only a root registry reads it.

    Raises:
        TypeError: `parent` is not a `Registry` or `scope` is not a str.
        ValueError: `parent` already has a child with this scope.

    Example:
        >>> WIDGETS = Registry('widget')
        >>> @WIDGETS.register_module()
        ... class Knob:
        ...     def __init__(self, size=1):
        ...         self.size = size
        >>> WIDGETS.build(dict(type='Knob', size=3)).size
        3
    """

    def __init__(
        self,
        name: str,
        build_func: Callable[..., Any] | None = None,
        parent: Registry | None = None,
        scope: str | None = None,
        locations: Sequence[str] = (),
        *,
        entry_point_group: str | None = None,
    ) -> None:
        if parent is not None and not isinstance(parent, Registry):
            raise TypeError(f"parent must be a Registry or None, got {type(parent).__name__}")
        if scope is not None and not isinstance(scope, str):
            raise TypeError(f"scope must be a str or None, got {type(scope).__name__} {scope!r}")
        self._name = name
        self._scope = scope if scope is not None else self.infer_scope()
        self.parent = parent
        self.entry_point_group = entry_point_group
        self._locations = tuple(locations)
        self._locations_imported = not self._locations
        self._modules: dict[str, Any] = {}
        self._children: dict[str, Registry] = {}
        if build_func is None:
            from ._build import build_from_cfg  # it imports this module

            build_func = parent.build_func if parent is not None else build_from_cfg
        self.build_func: Callable[..., Any] = build_func
        if parent is not None:
            if self._scope in parent._children:
                raise ValueError(
                    f"{parent.label} already has a child with scope {self._scope!r}; "
                    "give this registry another scope"
                )
            parent._children[self._scope] = self

    @staticmethod
    def infer_scope() -> str:
        """The top-level package of the module that constructs the registry (``'mmdet'``).

        It looks two frames up, so it gives the right answer only when called
        from `Registry.__init__`, as MMEngine's does.
        """
        frame = sys._getframe(2)
        return str(frame.f_globals.get("__name__", "__main__")).split(".", 1)[0]

    @staticmethod
    def split_scope_key(key: str) -> tuple[str | None, str]:
        """Split off the first scope: ``'mmdet.RetinaNet'`` -> ``('mmdet', 'RetinaNet')``.

        Example:
            >>> Registry.split_scope_key('a.b.C'), Registry.split_scope_key('C')
            (('a', 'b.C'), (None, 'C'))
        """
        scope, dot, rest = key.partition(".")
        return (scope, rest) if dot else (None, key)

    # ------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        """What the registry holds, e.g. ``'hook'``."""
        return self._name

    @property
    def scope(self) -> str:
        """The namespace that ``'scope.Name'`` keys select."""
        return self._scope

    @property
    def label(self) -> str:
        """``'scope::name registry'``, as messages name a registry."""
        return f"{self._scope}::{self._name} registry"

    @property
    def module_dict(self) -> dict[str, Any]:
        """The names registered in this registry itself (the live table, as in MMEngine)."""
        return self._modules

    @property
    def children(self) -> dict[str, Registry]:
        """Child registries by scope (the live table)."""
        return self._children

    @property
    def root(self) -> Registry:
        """The registry at the top of the parent chain."""
        registry = self
        while registry.parent is not None:
            registry = registry.parent
        return registry

    def _get_root_registry(self) -> Registry:
        """MMEngine's name for `root`."""
        return self.root

    # ------------------------------------------------------------ registration
    def register_module(
        self,
        name: str | Sequence[str] | None = None,
        force: bool = False,
        module: Any = None,
    ) -> Any:
        """Register a class or function, as a decorator or with `module=`.

        Args:
            name: The name, a list of names (aliases), or None for ``module.__name__``.
            force: Replace an existing registration of the same name.
            module: The object to register; omit it to use the method as a decorator.

        Returns:
            `module` when given, otherwise a decorator that registers and returns its argument.

        Raises:
            TypeError: `force` is not a bool, `name` is not a str or a list of
                them, or `module` is not callable.
            KeyError: the name is taken by another object and `force` is False.
        """
        if not isinstance(force, bool):
            raise TypeError(f"force must be a bool, got {type(force).__name__}")
        if not (name is None or isinstance(name, str) or _is_str_sequence(name)):
            raise TypeError(f"name must be None, a str or a list of str, got {name!r}")
        if module is not None:
            self._register(module, name, force)
            return module

        def decorator(obj: T) -> T:
            self._register(obj, name, force)
            return obj

        return decorator

    def _register(self, module: Any, name: str | Sequence[str] | None, force: bool) -> None:
        if not callable(module):
            raise TypeError(f"only classes and functions can be registered, got {module!r}")
        names = [module.__name__] if name is None else [name] if isinstance(name, str) else name
        for key in names:
            existing = self._modules.get(key)
            if existing is not None and not force and not _same_definition(existing, module):
                raise KeyError(
                    f"{key!r} is already registered in the {self.label} by module "
                    f"{existing.__module__!r}; pass force=True to replace it or choose another name"
                )
            self._modules[key] = module

    # ------------------------------------------------------------ lookup
    def get(self, key: str) -> Any:
        """Return the object registered as `key`, or None if nothing provides it.

        Raises:
            TypeError: `key` is not a str.
            NotRegisteredError: an unscoped `key` is registered by several child
                registries; the message lists the scoped names to choose from.
            PluginConflictError: two installed distributions declare `key`.
        """
        if not isinstance(key, str):
            raise TypeError(f"a registry key must be a str, got {type(key).__name__} {key!r}")
        found = self._resolve(key)
        if found is None and self._load_lazily(key):
            found = self._resolve(key)
        if found is None and "." in key:
            found = _import_object(key)
        return found

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def available_names(self) -> list[str]:
        """Every name this registry can resolve, including plugins not yet loaded.

        The registry's own `locations` are imported; plugins are not: their
        names come from installed metadata.
        """
        names: set[str] = set()
        for registry in self._chain():
            registry.import_from_location()
            names.update(registry._modules)
        root = self.root
        if root.entry_point_group is not None:
            names.update(plugin_names(root.entry_point_group))
        return sorted(names)

    def _chain(self) -> Iterator[Registry]:
        registry: Registry | None = self
        while registry is not None:
            yield registry
            registry = registry.parent

    def _resolve(self, key: str, descend: bool = True) -> Any:
        """Look `key` up in the tree, without loading anything."""
        scope, short = self.split_scope_key(key)
        if scope is None:
            for registry in self._chain():
                if key in registry._modules:
                    return registry._modules[key]
            return self._lookup_in_children(key) if descend else None
        if scope == self._scope:  # MMEngine: this registry's own table only
            return self._resolve(short, descend=False) if "." in short else self._modules.get(short)
        target = self._children.get(scope)
        if target is None:  # a scope elsewhere in the tree: a sibling, an uncle, a grandchild
            target = self.root._search_child(scope)
        return target._resolve(short, descend=False) if target is not None else None

    def _search_child(self, scope: str) -> Registry | None:
        """The registry of `scope` at or below this one, depth first; None if there is none.

        The core's root registries answer to ``'mmengine'`` too, since they stand in
        for MMEngine's (``default_scope='mmengine'``, ``_scope_='mmengine'``).
        """
        if self._scope == scope or (scope == _MMENGINE and self._scope == _CORE):
            return self
        for child in self._children.values():
            found = child._search_child(scope)
            if found is not None:
                return found
        return None

    def _lookup_in_children(self, key: str) -> Any:
        matches = {
            child.scope: child._modules[key]
            for child in self._descendants()
            if key in child._modules
        }
        if len(matches) > 1:
            scopes = ", ".join(f"'{scope}.{key}'" for scope in sorted(matches))
            raise NotRegisteredError(
                f"{key!r} is registered by several child registries of the {self.label}; "
                f"write the scoped name: {scopes}"
            )
        return next(iter(matches.values()), None)

    def _descendants(self) -> Iterator[Registry]:
        for child in self._children.values():
            yield child
            yield from child._descendants()

    def _load_lazily(self, key: str) -> bool:
        """Import pending `locations` and the plugin declaring `key`; True if anything loaded."""
        root = self.root
        pending = [r for r in (root, *root._descendants()) if not r._locations_imported]
        for registry in pending:
            registry.import_from_location()
        if root.entry_point_group is None or key in root._modules:
            return bool(pending)
        plugin = find_plugin(root.entry_point_group, key)
        if plugin is None:
            # Names a plugin registers without declaring each one (all of torch.optim,
            # say) appear once its whole module is imported.
            return import_plugin_modules() or bool(pending)
        obj = plugin.entry_point.load()
        if key not in root._modules:
            if not callable(obj):
                raise NotRegisteredError(
                    f"plugin {plugin.entry_point.value!r} of {plugin.distribution} was imported "
                    f"but did not register {key!r} in the {root.label}; its entry point should "
                    "name the class itself or a module that registers it"
                )
            root._register(obj, key, force=False)
        return True

    def import_from_location(self) -> None:
        """Import this registry's `locations`, once, so their types register.

        Raises:
            ImportError: a location cannot be imported; the message names it.
        """
        if self._locations_imported:
            return
        self._locations_imported = True
        for location in self._locations:
            try:
                importlib.import_module(location)
            except ImportError as err:
                raise ImportError(
                    f"the {self.label} could not import its location {location!r}: {err}"
                ) from err

    def switch_scope_and_registry(self, scope: str | None) -> AbstractContextManager[Registry]:
        """Make `scope` the default scope for a while, and give the registry of that scope.

        See `DefaultScope`: with a current default scope, this yields the
        registry of that scope in this registry's tree (importing
        ``<scope>.registry`` if the tree has none yet), else this registry.
        """
        from ._default_scope import switch_scope_and_registry  # it imports this module

        return switch_scope_and_registry(self, scope)

    # ------------------------------------------------------------ building
    def build(self, cfg: Any, *args: Any, **kwargs: Any) -> Any:
        """Build an object from a config dict: ``self.build_func(cfg, *args, registry=self, ...)``.

        With the default `build_from_cfg`, ``default_args=`` fills in keys that
        `cfg` lacks; see it for the errors.
        """
        return self.build_func(cfg, *args, **kwargs, registry=self)

    def _unknown_message(self, key: str) -> str:
        import difflib

        lines = [f"{key!r} is not in the {self.label}."]
        hint = install_hint(self.root.name, key)
        candidates = self.available_names()
        known = list(dict.fromkeys([*candidates, *first_party_names(self.root.name)]))
        close = difflib.get_close_matches(key, known, 3)  # each name once
        if hint is None and close:
            lines.append(f"Did you mean {' or '.join(repr(c) for c in close)}?")
            hint = next(
                (install_hint(self.root.name, c) for c in close if c not in candidates), None
            )
        if hint is not None:
            lines.append(hint)
        if not close and hint is None:
            lines.append(
                f"Registered: {', '.join(candidates) or 'none'}. For your own type, decorate it "
                "with this registry's register_module() and make sure its module is imported "
                "(for example with custom_imports=dict(imports=['my_module']))."
            )
        return " ".join(lines)

    def __repr__(self) -> str:
        """A table of the registered names and objects, as MMEngine prints it (without colour)."""
        rows = [(name, str(obj)) for name, obj in sorted(self._modules.items())]
        width = max([len("Names"), *(len(name) for name, _ in rows)])
        lines = [f"Registry of {self._name} ({self._scope}, {len(rows)} names)"]
        lines += [f"  {'Names':<{width}}  Objects"]
        lines += [f"  {name:<{width}}  {obj}" for name, obj in rows]
        return "\n".join(lines)


def _import_object(path: str) -> Any:
    """Import ``'package.module.Name'``; None if no such module or attribute exists.

    A module that exists but fails to import (a dependency it needs is missing)
    raises that `ImportError`, with a note naming the type being looked up.
    """
    from ._build import add_note

    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and _is_prefix(err.name, module_name):
            return None  # the module itself does not exist
        add_note(err, f"{module_name!r} exists, but importing it for type {path!r} failed")
        raise
    except ImportError as err:
        add_note(err, f"{module_name!r} exists, but importing it for type {path!r} failed")
        raise
    return getattr(module, attr, None)


def _is_prefix(package: str, module: str) -> bool:
    """Whether `package` is `module` or one of its parent packages."""
    return module == package or module.startswith(package + ".")


def _same_definition(existing: Any, new: Any) -> bool:
    """Whether `new` is `existing` again, or its redefinition by re-running the same module."""
    return existing is new or (
        getattr(existing, "__module__", None) == getattr(new, "__module__", None)
        and getattr(existing, "__qualname__", None) == getattr(new, "__qualname__", None)
    )


def _is_str_sequence(value: object) -> bool:
    return isinstance(value, Iterable) and all(isinstance(item, str) for item in value)
