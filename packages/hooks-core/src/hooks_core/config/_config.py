"""Config files (Python, YAML or JSON) with MMEngine's ``_base_`` and ``custom_imports``.

A config is a plain dict. A Python config is a file whose top-level names are
the keys (modules it imports and names starting with ``__`` are left out); a
YAML config is a mapping (PyYAML needed: ``pip install "hooks-core[yaml]"``),
and so is a JSON one.
Either may name ``_base_`` files (paths relative to it), which are loaded
first and merged with it key by key: dicts merge recursively, anything else
is replaced, and ``_delete_=True`` in a dict replaces the inherited dict
whole. ``filename`` is set to the file's absolute path and, when it has
bases, ``_base_files_`` to theirs (nested bases too, in loading order), so
``custom_imports`` can find modules next to any of them.
"""

from __future__ import annotations

import os
import os.path as osp

from ..registry._first_party import pip_install

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import ModuleType
    from typing import Any

__all__ = ["load_config", "merge_configs", "copy_config", "import_custom_modules", "MISSING_YAML"]

MISSING_YAML = f"YAML configs need PyYAML: {pip_install('hooks-core[yaml]')}"
_SUFFIXES = (".py", ".yaml", ".yml", ".json")
_BASE_FILES = "_base_files_"


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a config file, resolving its ``_base_`` chain; return a new dict.

    Raises:
        FileNotFoundError: the file (or a base) does not exist.
        ValueError: an unsupported suffix, a YAML/JSON file that does not parse
            or is not a mapping, or a ``_base_`` cycle.
        SyntaxError: a Python config that does not parse.
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
    inherited: list[str] = []
    for base in [bases] if isinstance(bases, str) else list(bases):
        base_path = osp.normpath(osp.join(osp.dirname(path), base))
        base_cfg = _load(base_path, (*chain, path))
        inherited += [base_path, *base_cfg.get(_BASE_FILES, ())]
        merged = merge_configs(merged, base_cfg)
    merged = merge_configs(merged, own)
    merged["filename"] = path
    if inherited:
        merged[_BASE_FILES] = list(dict.fromkeys(inherited))
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
        data = _parse_json(text, path) if suffix == ".json" else _parse_yaml(text, path)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ValueError(f"config {path} must hold a mapping, got {type(data).__name__}")
        return data
    raise ValueError(f"config {path}: unsupported suffix; use one of {', '.join(_SUFFIXES)}")


def _parse_json(text: str, path: str) -> Any:
    """The JSON document `text`; a syntax error names the file (a base's, maybe)."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"config {path} is not valid JSON: {err}") from err


def _parse_yaml(text: str, path: str) -> Any:
    """The YAML document `text`, as `_parse_json` does it (PyYAML's errors are no ValueError)."""
    try:
        import yaml
    except ImportError:
        raise ImportError(MISSING_YAML) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:  # its own text says "<unicode string>" and draws a caret
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or err
        raise ValueError(f"config {path} is not valid YAML{where}: {problem}") from err


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
    (MMEngine's key; a bare name or list works too). The config file's folder,
    then the folder of each of its ``_base_`` files, is searched first, so a
    module next to the config, or next to a config it inherits from in another
    folder, imports without installing anything. The config's own folder stays
    on `sys.path`, as do the base folders a module was imported from (it may
    import its neighbours later); the other base folders are taken off again.

    Raises:
        ImportError: a module cannot be imported (unless ``allow_failed_imports``).
    """
    custom = cfg.get("custom_imports")
    if not custom:
        return
    import sys

    from ..registry._imports import import_modules_from_strings

    own = osp.dirname(cfg.get("filename") or "")
    added = [folder for folder in _config_folders(cfg) if folder not in sys.path]
    sys.path[0:0] = added  # in the config's order: its own folder first
    modules: list[ModuleType | None] = []
    try:
        if isinstance(custom, dict):
            modules = import_modules_from_strings(**custom)
        else:
            modules = import_modules_from_strings(custom)
    finally:
        for folder in added:
            if folder != own and not any(_imported_from(m, folder) for m in modules):
                sys.path.remove(folder)


def _config_folders(cfg: Mapping[str, Any]) -> list[str]:
    """The folders of the config file and of its ``_base_`` files, each once, its own first."""
    files = [cfg.get("filename"), *cfg.get(_BASE_FILES, ())]
    return list(dict.fromkeys(osp.dirname(file) for file in files if file and osp.dirname(file)))


def _imported_from(module: ModuleType | None, folder: str) -> bool:
    """Whether `module` (None for an import that failed and was allowed to) lives in `folder`."""
    if module is None:
        return False
    file = getattr(module, "__file__", None)  # None for built-ins and namespace packages
    places = [*([file] if file else []), *getattr(module, "__path__", ())]
    return any(osp.abspath(place).startswith(folder + os.sep) for place in places)
