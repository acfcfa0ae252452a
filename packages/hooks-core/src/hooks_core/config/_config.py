"""Config files (Python, YAML or JSON) with MMEngine's ``_base_`` and ``custom_imports``.

A config is a plain dict. A Python config is a file whose top-level names are
the keys (modules it imports and names starting with ``__`` are left out); a
YAML config is a mapping (PyYAML needed: ``pip install "hooks-core[yaml]"``),
and so is a JSON one.
Either may name ``_base_`` files (paths relative to it), which are loaded
first and merged with it key by key: dicts merge recursively, anything else
is replaced, and ``_delete_=True`` in a dict replaces the inherited dict
whole. ``filename`` is set to the file's absolute path.
"""

from __future__ import annotations

import os
import os.path as osp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["load_config", "merge_configs", "copy_config", "import_custom_modules", "MISSING_YAML"]

MISSING_YAML = 'YAML configs need PyYAML: pip install "hooks-core[yaml]"'
_SUFFIXES = (".py", ".yaml", ".yml", ".json")


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a config file, resolving its ``_base_`` chain; return a new dict.

    Raises:
        FileNotFoundError: the file (or a base) does not exist.
        ValueError: an unsupported suffix, a YAML/JSON file that is not a
            mapping, or a ``_base_`` cycle.
        ImportError: a YAML config without PyYAML; the message is the fix.
    """
    return _load(osp.abspath(os.fspath(path)), ())


def _load(path: str, chain: tuple[str, ...]) -> dict[str, Any]:
    if path in chain:
        cycle = " -> ".join([*chain, path])
        raise ValueError(f"config _base_ files include each other: {cycle}")
    if not osp.isfile(path):
        where = f" (a _base_ of {chain[-1]})" if chain else ""
        raise FileNotFoundError(f"no config file {path}{where}")
    own = _read(path)
    bases = own.pop("_base_", [])
    merged: dict[str, Any] = {}
    for base in [bases] if isinstance(bases, str) else list(bases):
        merged = merge_configs(merged, _load(osp.join(osp.dirname(path), base), (*chain, path)))
    merged = merge_configs(merged, own)
    merged["filename"] = path
    return merged


def _read(path: str) -> dict[str, Any]:
    suffix = osp.splitext(path)[1].lower()
    if suffix == ".py":
        import runpy
        import types

        names = runpy.run_path(path)
        return {
            key: value
            for key, value in names.items()
            if not key.startswith("__") and not isinstance(value, types.ModuleType)
        }
    if suffix in (".yaml", ".yml", ".json"):
        with open(path, encoding="utf-8") as file:
            text = file.read()
        if suffix == ".json":
            import json

            data = json.loads(text)
        else:
            try:
                import yaml
            except ImportError:
                raise ImportError(MISSING_YAML) from None
            data = yaml.safe_load(text)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ValueError(f"config {path} must hold a mapping, got {type(data).__name__}")
        return data
    raise ValueError(f"config {path}: unsupported suffix; use one of {', '.join(_SUFFIXES)}")


def merge_configs(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`base` updated by `override`, recursively for dicts; neither input is changed.

    A dict in `override` with ``_delete_=True`` replaces the one in `base`
    instead of merging into it (the flag itself is dropped).
    """
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict):
            value = dict(value)
            replace = value.pop("_delete_", False)
            inherited = merged.get(key)
            if isinstance(inherited, dict) and not replace:
                value = merge_configs(inherited, value)
            else:
                value = merge_configs({}, value)  # still drop nested _delete_ flags
        merged[key] = value
    return merged


def copy_config(cfg: Any) -> Any:
    """Copy the containers of a config (dicts, lists, tuples), sharing every other object.

    Whoever keeps or changes a config must not see or cause later changes to
    the caller's dicts, but deep-copying a model or a dataset that a config
    holds would double its memory.
    """
    if isinstance(cfg, dict):
        return {key: copy_config(value) for key, value in cfg.items()}
    if type(cfg) in (list, tuple):
        return type(cfg)(copy_config(value) for value in cfg)
    return cfg


def import_custom_modules(cfg: Mapping[str, Any]) -> None:
    """Import the modules a config's ``custom_imports`` names, so they register their types.

    ``custom_imports = dict(imports=['my_hooks'], allow_failed_imports=False)``
    (MMEngine's key; a bare name or list works too). The config file's folder
    is searched first, so a module next to the config imports without
    installing anything.

    Raises:
        ImportError: a module cannot be imported (unless ``allow_failed_imports``).
    """
    custom = cfg.get("custom_imports")
    if not custom:
        return
    import sys

    from ..registry._imports import import_modules_from_strings

    folder = osp.dirname(cfg.get("filename") or "")
    if folder and folder not in sys.path:
        sys.path.insert(0, folder)
    if isinstance(custom, dict):
        import_modules_from_strings(**custom)
    else:
        import_modules_from_strings(custom)
