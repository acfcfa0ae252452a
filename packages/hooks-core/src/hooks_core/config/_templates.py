"""MMEngine's ``{{ ... }}`` templates in config files, replaced in the text before it is parsed.

- ``{{ fileDirname }}``, ``{{ fileBasename }}``, ``{{ fileBasenameNoExtension }}``,
  ``{{ fileExtname }}``: parts of the config file's own path.
- ``{{$NAME:default}}`` (quotes around it allowed): the environment variable
  NAME, else the default, inserted as written, so ``{{'$NUM:80'}}`` is a number.
- ``{{_base_.a.b}}``: the value at ``a.b`` of the merged base configs, of any
  type; it becomes a unique placeholder string until the bases are loaded.
"""

from __future__ import annotations

import os
import os.path as osp
import re
import uuid

from ._config_dict import to_plain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["fill_predefined", "fill_environment", "mark_base_references", "resolve_base_references"]

_PREDEFINED = re.compile(
    r"\{\{\s*(fileDirname|fileBasenameNoExtension|fileBasename|fileExtname)\s*\}\}"
)
_ENVIRONMENT = re.compile(r"""\{\{['"]?\s*\$(\w+)\s*:\s*(\S*?)\s*['"]?\}\}""")
_BASE_REFERENCE = re.compile(r"\{\{\s*_base_\.([\w.]+)\s*\}\}")


def fill_predefined(text: str, path: str) -> str:
    """`text` with the file-path templates replaced by the parts of `path` (with ``/``)."""
    name = osp.basename(path)
    values = {
        "fileDirname": osp.dirname(path),
        "fileBasename": name,
        "fileBasenameNoExtension": osp.splitext(name)[0],
        "fileExtname": osp.splitext(path)[1],
    }
    return _PREDEFINED.sub(lambda match: values[match.group(1)].replace("\\", "/"), text)


def fill_environment(text: str, where: str) -> tuple[str, dict[str, str]]:
    """`text` with ``{{$NAME:default}}`` replaced, and the variables that were read.

    Raises:
        KeyError: a variable that is not set and has no default.
    """
    used: dict[str, str] = {}

    def value(match: re.Match[str]) -> str:
        name, default = match.groups()
        if name in os.environ:
            used[name] = os.environ[name]
            return used[name]
        if not default:
            raise KeyError(
                f"config {where}: the environment variable {name!r} is not set and "
                f"{match.group(0)} gives no default; set it, or write {{{{${name}:default}}}}"
            )
        return default

    return _ENVIRONMENT.sub(value, text), used


def mark_base_references(text: str) -> tuple[str, dict[str, str]]:
    """`text` with each ``{{_base_.x}}`` replaced by a quoted placeholder; placeholder -> x."""
    marks: dict[str, str] = {}
    tag = uuid.uuid4().hex[:8]

    def placeholder(match: re.Match[str]) -> str:
        mark = f"_base_ref_{tag}_{len(marks)}"
        marks[mark] = match.group(1)
        return f'"{mark}"'

    return _BASE_REFERENCE.sub(placeholder, text), marks


def resolve_base_references(
    cfg: Any, marks: Mapping[str, str], base: Mapping[str, Any], where: str
) -> Any:
    """`cfg` with every placeholder string replaced by a copy of the base value it names.

    Raises:
        KeyError: a reference to a key the bases do not have.
    """
    if not marks:
        return cfg
    if isinstance(cfg, dict):
        return {key: resolve_base_references(v, marks, base, where) for key, v in cfg.items()}
    if type(cfg) in (list, tuple):
        return type(cfg)(resolve_base_references(v, marks, base, where) for v in cfg)
    if isinstance(cfg, str) and cfg in marks:
        return to_plain(_lookup(base, marks[cfg], where))
    return cfg


def _lookup(base: Mapping[str, Any], dotted: str, where: str) -> Any:
    node: Any = base
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif type(node) in (list, tuple) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(
                f"config {where}: {{{{_base_.{dotted}}}}} refers to {part!r}, which its "
                "_base_ files do not define"
            )
    return node
