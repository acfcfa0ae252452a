"""`Registry`: maps type names to classes and builds objects from config dicts.

Names are resolved in this order: the registry itself, its parents, its
children (when the name is unambiguous), then, on a miss, the lazily imported
`locations` and the entry points of installed plugins. A dotted path such as
``'torch.optim.SGD'`` that no registry knows is imported directly.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Mapping

from ._errors import NotRegisteredError
from ._first_party import first_party_names, install_hint
from ._plugins import find_plugin, import_plugin_modules, plugin_names

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any, TypeVar

    T = TypeVar("T", bound=Callable[..., Any])

__all__ = ["Registry"]


class Registry:
    """A named table of buildable types, optionally chained to a parent registry.

    Args:
        name: What the registry holds, e.g. ``'hook'``; used in messages.
        parent: A registry to fall back to, so a downstream library's child
            registry (``Registry('hook', parent=HOOKS, scope='mylib')``) sees
            every core type while keeping its own names apart.
        scope: The namespace of this registry; defaults to the top-level package
            of the module that creates it. ``'scope.Name'`` keys select it.
        locations: Modules to import, once, the first time a name is missing,
            so their ``register_module`` decorators run without an explicit import.
        entry_point_group: The entry-point group that installed plugins use to
            declare names for this registry; only a root registry reads it.

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
        parent: Registry | None = None,
        scope: str | None = None,
        locations: Sequence[str] = (),
        *,
        entry_point_group: str | None = None,
    ) -> None:
        self.name = name
        self.parent = parent
        self.scope = scope if scope is not None else _caller_package()
        self.entry_point_group = entry_point_group
        self._locations = tuple(locations)
        self._locations_imported = not self._locations
        self._modules: dict[str, Any] = {}
        self._children: dict[str, Registry] = {}
        if parent is not None:
            if self.scope in parent._children:
                raise ValueError(
                    f"registry {parent} already has a child with scope {self.scope!r}; "
                    "give this registry another scope"
                )
            parent._children[self.scope] = self

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
                    f"{key!r} is already registered in {self} by module "
                    f"{existing.__module__!r}; pass force=True to replace it or choose another name"
                )
            self._modules[key] = module

    # ------------------------------------------------------------ lookup
    def get(self, key: str) -> Any:
        """Return the object registered as `key`, or None if nothing provides it.

        Raises:
            PluginConflictError: if two installed distributions declare `key`.
        """
        found = self._lookup(key)
        if found is None and self._load_lazily(key):
            found = self._lookup(key)
        if found is None and "." in key:
            found = _import_object(key)
        return found

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    @property
    def module_dict(self) -> dict[str, Any]:
        """The names registered in this registry itself, without parents or plugins."""
        return dict(self._modules)

    @property
    def children(self) -> dict[str, Registry]:
        """Child registries by scope."""
        return dict(self._children)

    @property
    def root(self) -> Registry:
        """The registry at the top of the parent chain."""
        registry = self
        while registry.parent is not None:
            registry = registry.parent
        return registry

    def available_names(self) -> list[str]:
        """Every name this registry can resolve, including plugins not yet loaded.

        The registry's own `locations` are imported; plugins are not: their
        names come from installed metadata.
        """
        names: set[str] = set()
        for registry in self._chain():
            if not registry._locations_imported:
                registry._import_locations()
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

    def _lookup(self, key: str) -> Any:
        scope, _, short = key.rpartition(".")
        if scope:
            child = self.root._find_scope(scope)
            return child._lookup(short) if child is not None else None
        for registry in self._chain():
            if key in registry._modules:
                return registry._modules[key]
        return self._lookup_in_children(key)

    def _find_scope(self, scope: str) -> Registry | None:
        if self.scope == scope:
            return self
        for child in self._children.values():
            found = child._find_scope(scope)
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
                f"{key!r} is registered by several child registries of {self}; "
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
            registry._import_locations()
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
                    f"but did not register {key!r} in {root}; its entry point should name the "
                    "class itself or a module that registers it"
                )
            root._register(obj, key, force=False)
        return True

    def _import_locations(self) -> None:
        self._locations_imported = True
        for location in self._locations:
            try:
                importlib.import_module(location)
            except ImportError as err:
                raise ImportError(
                    f"{self} could not import its location {location!r}: {err}"
                ) from err

    # ------------------------------------------------------------ building
    def build(self, cfg: Mapping[str, Any], default_args: Mapping[str, Any] | None = None) -> Any:
        """Build an object from a config dict whose ``type`` names a registered type.

        `cfg` is never modified. `default_args` fill in keys that `cfg` lacks.

        Raises:
            NotRegisteredError: the type is unknown; the message lists close
                matches and, for a first-party type, the ``pip install`` to run.
            TypeError: an option the type does not accept (with close matches).
            Exception: whatever the constructor raises, re-raised with the type
                name in the message and the original as its cause.
        """
        if not isinstance(cfg, Mapping):
            raise TypeError(
                f"{self}.build expects a dict config, got {type(cfg).__name__}: {cfg!r}"
            )
        args = dict(cfg)
        for key, value in (default_args or {}).items():
            args.setdefault(key, value)
        if "type" not in args:
            choices = ", ".join(self.available_names()) or "nothing registered yet"
            raise KeyError(
                f"config for {self} has no 'type' key (keys: {sorted(args)}); "
                f"add type='<name>' with one of: {choices}"
            )
        obj_type = args.pop("type")
        if isinstance(obj_type, str):
            obj_cls = self.get(obj_type)
            if obj_cls is None:
                raise NotRegisteredError(self._unknown_message(obj_type))
            type_name = obj_type
        elif callable(obj_type):
            obj_cls, type_name = obj_type, getattr(obj_type, "__name__", repr(obj_type))
        else:
            raise TypeError(f"'type' must be a registered name or a class, got {obj_type!r}")
        _check_options(obj_cls, args, type_name)
        try:
            return obj_cls(**args)
        except Exception as err:  # the constructor's own error, as raised, with a note added
            _add_note(err, f"raised by {type_name}(...), built by {self} from {dict(cfg)!r}")
            raise

    def _unknown_message(self, key: str) -> str:
        import difflib

        lines = [f"{key!r} is not in the {self.scope}::{self.name} registry."]
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
        return f"Registry({self.scope}::{self.name}, {len(self._modules)} names)"


def _check_options(obj_cls: Any, args: Mapping[str, Any], type_name: str) -> None:
    """Reject options the constructor cannot take, naming close matches."""
    import difflib
    import inspect

    try:
        params = inspect.signature(obj_cls).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    accepted = [
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    unknown = [key for key in args if key not in accepted]
    if not unknown:
        return
    problems = []
    for key in unknown:
        close = difflib.get_close_matches(key, accepted, 1)
        problems.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise TypeError(
        f"{type_name} got unknown option(s) {', '.join(problems)}; "
        f"it accepts: {', '.join(accepted) or 'no options'}"
    )


def _add_note(err: BaseException, note: str) -> None:
    """Add context to `err` itself (PEP 678), so its type and attributes stay as raised."""
    add_note = getattr(err, "add_note", None)  # Python 3.11+; 3.10 shows the error as raised
    if add_note is not None:
        add_note(note)


def _import_object(path: str) -> Any:
    """Import ``'package.module.Name'``; None if no such module or attribute exists.

    A module that exists but fails to import (a dependency it needs is missing)
    raises that `ImportError`, with a note naming the type being looked up.
    """
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and _is_prefix(err.name, module_name):
            return None  # the module itself does not exist
        _add_note(err, f"{module_name!r} exists, but importing it for type {path!r} failed")
        raise
    except ImportError as err:
        _add_note(err, f"{module_name!r} exists, but importing it for type {path!r} failed")
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


def _caller_package() -> str:
    """The top-level package of the module that constructs a registry."""
    frame = sys._getframe(2)
    return str(frame.f_globals.get("__name__", "__main__")).split(".", 1)[0]
