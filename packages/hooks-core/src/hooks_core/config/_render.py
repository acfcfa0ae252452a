"""A config as text: a Python config file that reads back to the same config, or JSON/YAML.

Classes and functions (``type=torch.optim.SGD`` in a Python config) are
written as their import path, ``'torch.optim.sgd.SGD'``, which a registry
resolves again; nested dicts read as ``dict(...)`` and long values are broken
over lines, one item per line.
"""

from __future__ import annotations

import keyword
import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["python_text", "data_text"]

_WIDTH = 79
_INDENT = "    "


def python_text(cfg: Mapping[str, Any]) -> str:
    """The config as the text of a Python config file, in its key order."""
    lines = []
    for key, value in cfg.items():
        target = key if _is_name(key) else f"globals()[{key!r}]"
        lines.append(f"{target} = {_render(value, 0, len(target) + 3)}")
    return "\n".join(lines) + "\n" if lines else ""


def data_text(cfg: Mapping[str, Any], file_format: str) -> str:
    """The config as JSON (``'json'``) or YAML (``'yaml'``/``'yml'``) text.

    Raises:
        ValueError: another format.
        TypeError: a value that JSON/YAML cannot hold (a class or function becomes its path).
        ImportError: YAML without PyYAML; the message is the fix.
    """
    data = _data(cfg)
    if file_format == "json":
        import json

        return json.dumps(data, indent=4) + "\n"
    if file_format in ("yaml", "yml"):
        from ._config import MISSING_YAML

        try:
            import yaml
        except ImportError:
            raise ImportError(MISSING_YAML) from None
        text: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        return text
    raise ValueError(f"cannot write a config as {file_format!r}: use .py, .json, .yaml or .yml")


def _render(value: Any, depth: int, used: int) -> str:
    """`value` as Python source, on one line if it fits after `used` characters, else broken."""
    inline = _inline(value)
    parts = _parts(value)
    if parts is None or not parts[2] or used + len(inline) + len(_INDENT) * depth <= _WIDTH:
        return inline
    opener, closer, items = parts
    pad = _INDENT * (depth + 1)
    body = "".join(
        f"{pad}{prefix}{_render(item, depth + 1, len(prefix) + 1)},\n" for prefix, item in items
    )
    return f"{opener}\n{body}{_INDENT * depth}{closer}"


def _inline(value: Any) -> str:
    parts = _parts(value)
    if parts is None:
        return _scalar(value)
    opener, closer, items = parts
    text = ", ".join(prefix + _inline(item) for prefix, item in items)
    if isinstance(value, tuple) and len(value) == 1:
        text += ","
    return f"{opener}{text}{closer}"


def _parts(value: Any) -> tuple[str, str, list[tuple[str, Any]]] | None:
    """Opening and closing text of a container and its items with their prefixes; None if scalar."""
    if isinstance(value, dict):
        if all(_is_name(key) for key in value):
            return "dict(", ")", [(f"{key}=", item) for key, item in value.items()]
        return "{", "}", [(f"{_scalar(key)}: ", item) for key, item in value.items()]
    if isinstance(value, list):
        return "[", "]", [("", item) for item in value]
    if isinstance(value, tuple):
        return "(", ")", [("", item) for item in value]
    return None


def _scalar(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    if _is_builtin(value):
        return str(value.__qualname__)  # `float` reads back as float itself
    path = _import_path(value)
    return repr(path) if path is not None else repr(value)


def _is_builtin(value: Any) -> bool:
    return callable(value) and getattr(value, "__module__", None) == "builtins"


def _import_path(value: Any) -> str | None:
    """``'module.Name'`` for a class or function importable by that path, else None."""
    if not (isinstance(value, type) or callable(value)) or isinstance(value, (str, bytes)):
        return None
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not module or not name or "<" in name or module == "__config__":
        return None
    return f"{module}.{name}"


def _is_name(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def _data(value: Any) -> Any:
    """`value` as JSON/YAML data: plain dicts and lists, import paths for classes."""
    if isinstance(value, dict):
        return {key: _data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_data(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    path = str(value.__qualname__) if _is_builtin(value) else _import_path(value)
    if path is None:
        raise TypeError(
            f"the config value {value!r} ({type(value).__name__}) cannot be written as "
            "JSON or YAML; dump the config to a .py file instead"
        )
    return path
