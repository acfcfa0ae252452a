"""Config files (Python, YAML or JSON) with MMEngine's ``_base_``, templates and ``custom_imports``.

A Python config is a file whose top-level names are the keys (modules and
functions it defines or imports, and names starting with ``__``, are left
out); a YAML config is a mapping (PyYAML needed: ``pip install
"hooks-core[yaml]"``), and so is a JSON one. Either may name ``_base_`` files
(paths relative to it), which are loaded first; their top-level keys must not
overlap. The config is then merged into them key by key: dicts merge
recursively, anything else is replaced, ``_delete_=True`` in a dict replaces
the inherited value whole, and a dict over an inherited non-dict is an error.
A Python config reads its bases' values as ``_base_.model`` and any config as
``{{_base_.model}}``; the ``{{ fileBasename }}``-style and ``{{$ENV:default}}``
templates are filled in first (see `_templates`).
"""

from __future__ import annotations

import os
import os.path as osp

from ..registry._first_party import pip_install
from ._config_dict import ConfigDict, to_plain
from ._templates import (
    fill_environment,
    fill_predefined,
    mark_base_references,
    resolve_base_references,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ast
    from collections.abc import Mapping
    from types import ModuleType
    from typing import Any

__all__ = [
    "load_config",
    "read_config",
    "parse_config_text",
    "LoadedConfig",
    "merge_configs",
    "copy_config",
    "import_custom_modules",
    "MISSING_YAML",
    "SUFFIXES",
]

MISSING_YAML = f"YAML configs need PyYAML: {pip_install('hooks-core[yaml]')}"
SUFFIXES = (".py", ".yaml", ".yml", ".json")
_BASE_FILES = "_base_files_"
_MISSING = object()


class LoadedConfig:
    """A config read from a file or a string, before it becomes a dict or a `Config`.

    Attributes:
        cfg: The merged config, as plain dicts.
        text: The file's text after its bases' texts, each led by its path (MMEngine's ``text``).
        env_variables: The environment variables the templates read.
        base_files: The absolute paths of every base, nested ones too, in loading order.
    """

    __slots__ = ("base_files", "cfg", "env_variables", "text")

    def __init__(
        self, cfg: dict[str, Any], text: str, env_variables: dict[str, str], base_files: list[str]
    ) -> None:
        self.cfg = cfg
        self.text = text
        self.env_variables = env_variables
        self.base_files = base_files


class _Options:
    __slots__ = ("environment", "predefined")

    def __init__(self, predefined: bool, environment: bool) -> None:
        self.predefined = predefined
        self.environment = environment


def load_config(
    path: str | os.PathLike[str],
    use_predefined_variables: bool = True,
    use_environment_variables: bool = True,
) -> dict[str, Any]:
    """Read a config file, resolving its ``_base_`` chain; return a new plain dict.

    ``filename`` is set to the file's absolute path and, when it has bases,
    ``_base_files_`` to theirs, so ``custom_imports`` can find modules next to
    any of them. `Config.fromfile` reads the same files into a `Config`.

    Raises:
        FileNotFoundError: the file (or a base) does not exist.
        ValueError: an unsupported suffix, a YAML/JSON file that does not parse
            or is not a mapping, or a ``_base_`` cycle.
        KeyError: bases that define the same key, a ``{{_base_.x}}`` to a
            missing key, or an unset environment variable without a default.
        TypeError: a dict that would merge into an inherited non-dict.
        SyntaxError: a Python config that does not parse.
        ImportError: a YAML config without PyYAML; the message is the fix.
        NotImplementedError: MMEngine's lazy-import configs (``with read_base():``)
            and package bases (``'mmdet::...'``).
    """
    loaded = read_config(path, use_predefined_variables, use_environment_variables)
    cfg = loaded.cfg
    cfg["filename"] = osp.abspath(osp.expanduser(os.fspath(path)))
    if loaded.base_files:
        cfg[_BASE_FILES] = loaded.base_files
    return cfg


def read_config(
    path: str | os.PathLike[str],
    use_predefined_variables: bool = True,
    use_environment_variables: bool = True,
) -> LoadedConfig:
    """Read a config file with its bases: `load_config`, keeping the text and what it read."""
    options = _Options(use_predefined_variables, use_environment_variables)
    loaded = _load_file(osp.abspath(osp.expanduser(os.fspath(path))), (), options)
    loaded.cfg = to_plain(loaded.cfg)
    return loaded


def parse_config_text(
    text: str, suffix: str, use_environment_variables: bool = True
) -> LoadedConfig:
    """Read a config from `text` in the format of `suffix` (``'.py'``); bases are relative to
    the working directory, and the file-path templates are left as written."""
    options = _Options(predefined=False, environment=use_environment_variables)
    loaded = _load_text(text, _check_suffix(suffix, "a config string"), None, (), options)
    loaded.cfg = to_plain(loaded.cfg)
    return loaded


def _check_suffix(suffix: str, where: str) -> str:
    if suffix.lower() not in SUFFIXES:
        raise ValueError(
            f"config {where}: unsupported suffix {suffix!r}; use one of {', '.join(SUFFIXES)}"
        )
    return suffix.lower()


def _load_file(path: str, chain: tuple[str, ...], options: _Options) -> LoadedConfig:
    if path in chain:
        cycle = " -> ".join([*chain, path])
        raise ValueError(f"config _base_ files include each other: {cycle}")
    suffix = _check_suffix(osp.splitext(path)[1], path)
    if not osp.isfile(path):
        where = f" (a _base_ of {chain[-1]})" if chain else ""
        raise FileNotFoundError(f"no config file {path}{where}")
    with open(path, encoding="utf-8") as file:
        raw = file.read()
    return _load_text(raw, suffix, path, chain, options)


def _load_text(
    raw: str, suffix: str, path: str | None, chain: tuple[str, ...], options: _Options
) -> LoadedConfig:
    """Parse one config's text, load its bases, and merge it into them."""
    where = path or "<string>"
    text = fill_predefined(raw, path) if options.predefined and path is not None else raw
    env: dict[str, str] = {}
    if options.environment:
        text, env = fill_environment(text, where)
    text, marks = mark_base_references(text)
    module: ast.Module | None = None
    if suffix == ".py":
        module, bases = _split_python(text, where)
    else:
        data = _parse_json(text, where) if suffix == ".json" else _parse_yaml(text, where)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError(f"config {where} must hold a mapping, got {type(data).__name__}")
        bases = data.pop("_base_", [])
    folder = osp.dirname(path) if path is not None else os.getcwd()
    base_paths = [_base_path(folder, base, where) for base in _as_list(bases, where)]
    loaded = [_load_file(base_path, (*chain, where), options) for base_path in base_paths]
    base = _combine_bases(base_paths, loaded, where)
    own = _run_python(module, where, base) if module is not None else data
    own = resolve_base_references(own, marks, base, where)
    _warn_deprecated(own, where)
    merged = merge_configs(base, own)
    for key in [key for key in merged if str(key).startswith("__")]:
        del merged[key]
    base_files: list[str] = []
    for base_path, one in zip(base_paths, loaded, strict=True):
        base_files += [base_path, *one.base_files]
    for one in loaded:
        env = {**one.env_variables, **env}
    texts = [*(one.text for one in loaded), f"{path}\n{raw}" if path is not None else raw]
    return LoadedConfig(merged, "\n".join(texts), env, list(dict.fromkeys(base_files)))


def _as_list(bases: Any, where: str) -> list[str]:
    names = [bases] if isinstance(bases, str) else bases
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"config {where}: _base_ must be a path or a list of paths, got {bases!r}")
    return list(names)


def _base_path(folder: str, base: str, where: str) -> str:
    if "::" in base:
        raise NotImplementedError(
            f"config {where}: the package base {base!r} (MMEngine's 'package::path') is not "
            "supported; copy that config next to yours and name it by a relative path"
        )
    return osp.normpath(osp.join(folder, osp.expanduser(base)))


def _combine_bases(paths: list[str], loaded: list[LoadedConfig], where: str) -> dict[str, Any]:
    """The bases' keys in one dict; two bases defining one key is an error, as in MMEngine."""
    combined: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for path, one in zip(paths, loaded, strict=True):
        for key, value in one.cfg.items():
            if key in combined:
                raise KeyError(
                    f"config {where}: the _base_ files {owner[key]} and {path} both define "
                    f"{key!r}; define it in one of them, or in {where} itself"
                )
            combined[key], owner[key] = value, path
    return combined


def _split_python(text: str, where: str) -> tuple[ast.Module, Any]:
    """The parsed config without its ``_base_ = ...`` statement, and that statement's value."""
    import ast

    module = ast.parse(text, filename=where)
    bases: Any = []
    for node in list(module.body):
        if _is_read_base(node):
            raise NotImplementedError(
                f"config {where}: MMEngine's lazy-import configs ('with read_base():') are not "
                "supported; write _base_ = ['base.py', ...] instead"
            )
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "_base_":
            code = compile(ast.Expression(body=node.value), where, "eval")
            bases = eval(code, {})  # what the statement assigns, as MMEngine evaluates it
            module.body.remove(node)
    return module, bases


def _is_read_base(node: ast.stmt) -> bool:
    import ast

    return isinstance(node, ast.With) and any(
        isinstance(item.context_expr, ast.Call)
        and getattr(item.context_expr.func, "id", None) == "read_base"
        for item in node.items
    )


def _run_python(module: ast.Module, where: str, base: dict[str, Any]) -> dict[str, Any]:
    """Run a Python config with ``_base_`` bound to its bases; its names are the keys."""
    import __future__

    import types

    namespace: dict[str, Any] = {
        "__file__": where,
        "__name__": "__config__",
        "_base_": ConfigDict(copy_config(base)),
    }
    exec(compile(module, where, "exec", dont_inherit=True), namespace)
    skipped = (types.ModuleType, types.FunctionType, __future__._Feature)
    return {
        key: value
        for key, value in namespace.items()
        if key != "_base_" and not key.startswith("__") and not isinstance(value, skipped)
    }


def _warn_deprecated(cfg: dict[str, Any], where: str) -> None:
    """MMEngine's ``_deprecation_ = dict(expected=..., reference=...)``: a DeprecationWarning."""
    info = cfg.pop("_deprecation_", None)
    if info is None:
        return
    import warnings

    message = f"the config {where} is deprecated"
    if isinstance(info, dict) and "expected" in info:
        message += f"; use {info['expected']} instead"
    if isinstance(info, dict) and "reference" in info:
        message += f" (see {info['reference']})"
    warnings.warn(message, DeprecationWarning, stacklevel=4)


def _parse_json(text: str, where: str) -> Any:
    """The JSON document `text`; a syntax error names the file (a base's, maybe)."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"config {where} is not valid JSON: {err}") from err


def _parse_yaml(text: str, where: str) -> Any:
    """The YAML document `text`, as `_parse_json` does it (PyYAML's errors are no ValueError)."""
    try:
        import yaml
    except ImportError:
        raise ImportError(MISSING_YAML) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:  # its own text says "<unicode string>" and draws a caret
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or err
        raise ValueError(f"config {where} is not valid YAML{at}: {problem}") from err


def merge_configs(
    base: Mapping[str, Any], override: Mapping[str, Any], allow_list_keys: bool = False
) -> dict[str, Any]:
    """`base` updated by `override`, recursively for dicts; neither input is changed.

    A dict in `override` with ``_delete_=True`` replaces the value in `base`
    instead of merging into it (the flag itself is dropped). With
    `allow_list_keys`, a dict of digit keys merges into a list by index
    (``{'0': dict(type='X')}``), as MMEngine's ``merge_from_dict`` does.

    Raises:
        TypeError: a dict (without ``_delete_``) over a value that is not a
            dict (nor a list, with `allow_list_keys`).
        KeyError: a list index out of range.
    """
    merged: dict[str, Any] = _merge(base, override, allow_list_keys, "")
    return merged


def _merge(base: Any, override: Mapping[str, Any], allow_list_keys: bool, where: str) -> Any:
    if isinstance(base, list):  # reached only with allow_list_keys
        items = list(base)
        for key, value in override.items():
            if not (isinstance(key, str) and key.isdigit()):
                raise TypeError(
                    f"config key {where + str(key)!r}: {where[:-1]!r} is a list; "
                    "index it with a number"
                )
            if int(key) >= len(items):
                raise KeyError(
                    f"config key {where + key!r}: index {key} is out of range for the list of "
                    f"{len(items)} items at {where[:-1]!r}"
                )
            items[int(key)] = _merge_value(items[int(key)], value, allow_list_keys, where + key)
        return items
    merged = dict(base)
    for key, value in override.items():
        path = f"{where}{key}"
        merged[key] = _merge_value(merged.get(key, _MISSING), value, allow_list_keys, path)
    return merged


def _merge_value(inherited: Any, value: Any, allow_list_keys: bool, where: str) -> Any:
    if not isinstance(value, dict):
        return value
    value = dict(value)
    replace = value.pop("_delete_", False)
    if inherited is _MISSING or replace:
        return _merge({}, value, allow_list_keys, where + ".")  # still drop nested _delete_ flags
    allowed = (dict, list) if allow_list_keys else dict
    if not isinstance(inherited, allowed):
        raise TypeError(
            f"config key {where!r} is a dict, but the value it would merge into is "
            f"{type(inherited).__name__} {inherited!r}; add _delete_=True to the dict to replace it"
        )
    return _merge(inherited, value, allow_list_keys, where + ".")


def copy_config(cfg: Any) -> Any:
    """Copy the containers of a config (dicts, lists, tuples), sharing every other object.

    Whoever keeps or changes a config must not see or cause later changes to
    the caller's dicts, but deep-copying a model or a dataset that a config
    holds would double its memory. A `ConfigDict` or `Config` stays one (a
    `Config` keeps its file name and text).
    """
    if isinstance(cfg, ConfigDict):
        return cfg._new_like({key: copy_config(value) for key, value in cfg.items()})
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
    `cfg` is a `Config` or a dict from `load_config`.

    Raises:
        ImportError: a module cannot be imported (unless ``allow_failed_imports``).
    """
    custom = cfg.get("custom_imports")
    if not custom:
        return
    import sys

    from ..registry._imports import import_modules_from_strings

    own_file, base_files = _config_files(cfg)
    own = osp.dirname(own_file) if own_file else ""
    files = [own_file, *base_files] if own_file else base_files
    folders = list(dict.fromkeys(osp.dirname(file) for file in files))
    added = [folder for folder in folders if folder not in sys.path]
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


def _config_files(cfg: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """The absolute path of the config file (None if it has none) and those of its bases."""
    from ._config_object import Config  # it imports this module

    if isinstance(cfg, Config):
        own, bases = cfg.filename, cfg._base_files
    else:
        own, bases = cfg.get("filename"), cfg.get(_BASE_FILES, ())
    return (osp.abspath(own) if own else None), [osp.abspath(file) for file in bases]


def _imported_from(module: ModuleType | None, folder: str) -> bool:
    """Whether `module` (None for an import that failed and was allowed to) lives in `folder`."""
    if module is None:
        return False
    file = getattr(module, "__file__", None)  # None for built-ins and namespace packages
    places = [*([file] if file else []), *getattr(module, "__path__", ())]
    return any(osp.abspath(place).startswith(folder + os.sep) for place in places)
