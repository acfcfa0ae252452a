"""`build_from_cfg`: the default way a registry turns ``dict(type=...)`` into an object."""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from ..utils import ManagerMixin
from ._errors import NotRegisteredError
from ._registry import Registry

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from typing import Any

__all__ = ["build_from_cfg", "add_note"]


def build_from_cfg(
    cfg: Mapping[str, Any], registry: Registry, default_args: Mapping[str, Any] | None = None
) -> Any:
    """Build the object a config dict describes, or call the function it names.

    ``type`` (in `cfg`, else in `default_args`) is a registered name, a dotted
    import path, or a class or function itself; the other keys, completed by
    `default_args`, are its arguments. A ``_scope_`` key builds under that
    default scope (see `DefaultScope`). A `ManagerMixin` class is built with
    ``get_instance``, so it stays reachable by name. Neither input is modified.

    Args:
        cfg: A dict (a `ConfigDict` or `Config` too).
        registry: Where to look the type up.
        default_args: Arguments for keys `cfg` lacks.

    Returns:
        The built object, or what the function returned.

    Raises:
        TypeError: `cfg`, `registry` or `default_args` of the wrong type, a
            ``type`` that is neither a name nor callable, or an option the type
            does not accept (naming close matches).
        KeyError: no ``type`` anywhere; `NotRegisteredError` (a `KeyError`)
            for an unknown type, listing close matches and, for a first-party
            type, the ``pip install`` to run.
        Exception: whatever the constructor raises, as it raised it, with a
            note naming the type and the config.

    Example:
        >>> from hooks_core.registry import Registry, build_from_cfg
        >>> FUNCS = Registry('func')
        >>> _ = FUNCS.register_module(module=lambda times=1: 'woof ' * times, name='bark')
        >>> build_from_cfg(dict(type='bark', times=2), FUNCS)
        'woof woof '
    """
    if not isinstance(cfg, Mapping):
        raise TypeError(
            f"cfg must be a dict, ConfigDict or Config, got {type(cfg).__name__}: {cfg!r}"
        )
    if not isinstance(registry, Registry):
        raise TypeError(f"registry must be a Registry, got {type(registry).__name__}")
    if default_args is not None and not isinstance(default_args, Mapping):
        raise TypeError(f"default_args must be a dict or None, got {type(default_args).__name__}")
    args = dict(cfg)
    for key, value in (default_args or {}).items():
        args.setdefault(key, value)
    if "type" not in args:
        choices = ", ".join(registry.available_names()) or "nothing registered yet"
        raise KeyError(
            f"config for the {registry.label} has no 'type' key, nor has default_args "
            f"(keys: {sorted(args)}); add type='<name>' with one of: {choices}"
        )
    with registry.switch_scope_and_registry(args.pop("_scope_", None)) as scoped:
        obj_type = args.pop("type")
        if isinstance(obj_type, str):
            obj_cls = scoped.get(obj_type)
            if obj_cls is None:
                raise NotRegisteredError(scoped._unknown_message(obj_type))
            type_name = obj_type
        elif callable(obj_type):
            obj_cls, type_name = obj_type, getattr(obj_type, "__name__", repr(obj_type))
        else:
            raise TypeError(
                f"'type' must be a registered name, a class or a function, got {obj_type!r}"
            )
        managed = inspect.isclass(obj_cls) and issubclass(obj_cls, ManagerMixin)
        _check_options(obj_cls, args, type_name)
        try:
            return obj_cls.get_instance(**args) if managed else obj_cls(**args)
        except Exception as err:  # the constructor's own error, as raised, with a note added
            add_note(
                err, f"raised by {type_name}(...), built by the {scoped.label} from {dict(cfg)!r}"
            )
            raise


def _check_options(obj_cls: Any, args: Mapping[str, Any], type_name: str) -> None:
    """Reject options the constructor cannot take, naming close matches."""
    import difflib

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


def add_note(err: BaseException, note: str) -> None:
    """Add context to `err` itself (PEP 678), so its type and attributes stay as raised."""
    add = getattr(err, "add_note", None)  # Python 3.11+; 3.10 shows the error as raised
    if add is not None:
        add(note)
