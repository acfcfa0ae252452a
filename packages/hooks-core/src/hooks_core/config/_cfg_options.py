"""``--cfg-options key.sub=value`` overrides: typed values, nested keys, and no silent typos.

Values read as Python literals where they can (``0.01``, ``true``, ``None``,
``[1, 2]``, ``(1, 2)``, ``{'a': 1}``, ``'quoted'``), otherwise a comma makes a
list (``a,b`` is ``['a', 'b']``, each item read the same way), otherwise the
value is a string. Keys are dotted paths; a number indexes a list
(``param_scheduler.0.end=10``). A key that does not exist is an error that
suggests the closest existing one, because a misspelt override that trains
with the default is worse than no override; ``+key=value`` adds a new key.
"""

from __future__ import annotations

import ast
import difflib

from ._config import copy_config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

__all__ = ["parse_value", "apply_cfg_options"]

_OPENERS = frozenset("[({'\"")
_WORDS = {"true": True, "false": False, "none": None, "null": None}


def parse_value(text: str) -> Any:
    """The typed value of an override's right-hand side (see the module docstring).

    Example:
        >>> parse_value('0.01'), parse_value('True'), parse_value('1,2'), parse_value('sgd')
        (0.01, True, [1, 2], 'sgd')
    """
    stripped = text.strip()
    if stripped.lower() in _WORDS:
        return _WORDS[stripped.lower()]
    if "," in stripped and stripped[:1] not in _OPENERS:  # a,b is a list, not a tuple
        return [parse_value(item) for item in stripped.split(",") if item.strip()]
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return stripped


def apply_cfg_options(cfg: Mapping[str, Any], options: Iterable[str]) -> dict[str, Any]:
    """Return a copy of `cfg` with each ``key=value`` of `options` applied, in order.

    Raises:
        ValueError: an option without ``=``, or a path through a value that is
            neither a dict nor a list.
        KeyError: a key (or list index) that does not exist, naming the closest
            existing key; prefix the option with ``+`` to add a key on purpose.
    """
    result: dict[str, Any] = copy_config(dict(cfg))
    for option in options:
        key, sep, text = option.partition("=")
        if not sep or not key.strip("+ "):
            raise ValueError(f"cfg-options: {option!r} is not key=value")
        add = key.startswith("+")
        _set(result, key.lstrip("+").strip(), parse_value(text), add)
    return result


def _set(cfg: dict[str, Any], dotted: str, value: Any, add: bool) -> None:
    parts = dotted.split(".")
    node: Any = cfg
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                raise KeyError(
                    f"cfg-options: {where!r}: {parts[depth - 1]!r} is a list of {len(node)} "
                    "items; index it with a number in range"
                )
            index = int(part)
            if last:
                node[index] = value
            else:
                node = node[index]
            continue
        if not isinstance(node, dict):
            raise ValueError(
                f"cfg-options: cannot set {dotted!r}: {'.'.join(parts[:depth])!r} is a "
                f"{type(node).__name__}, not a dict or a list"
            )
        if part not in node:
            if not add:
                raise KeyError(_unknown_key_message(where, part, node))
            node[part] = value if last else {}
        if last:
            node[part] = value
        else:
            node = node[part]


def _unknown_key_message(where: str, part: str, node: Mapping[str, Any]) -> str:
    prefix = where[: -len(part)]
    close = difflib.get_close_matches(part, [str(key) for key in node], n=1, cutoff=0.6)
    hint = f"did you mean {prefix + close[0]!r}? " if close else ""
    keys = ", ".join(sorted(str(key) for key in node)) or "none"
    return (
        f"cfg-options: {where!r} is not in the config; {hint}keys there: {keys}. "
        f"To add it on purpose, write +{where}=..."
    )
