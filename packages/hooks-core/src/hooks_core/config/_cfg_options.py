"""``--cfg-options key.sub=value`` overrides: typed values, nested keys, and no silent typos.

Values read as Python literals where they can (``0.01``, ``true``, ``None``,
``[1, 2]``, ``(1, 2)``, ``{'a': 1}``, ``'quoted'``, ``inf``). Brackets hold a
list or tuple whose items are read the same way, so bare words work as in
MMEngine (``[cat, dog]`` is ``['cat', 'dog']``, ``[(1, 2), [a, b]]`` nests);
otherwise a comma makes a list (``a,b`` is ``['a', 'b']``); anything else is
a string. Keys are dotted paths; a number indexes a list
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
    from collections.abc import Iterable, Iterator, Mapping
    from typing import Any

__all__ = ["parse_value", "apply_cfg_options"]

_WORDS = {"true": True, "false": False, "none": None, "null": None}


def parse_value(text: str) -> Any:
    """The typed value of an override's right-hand side (see the module docstring).

    Raises:
        ValueError: brackets that do not balance (``[1, 2``).

    Example:
        >>> parse_value('0.01'), parse_value('True'), parse_value('1,2'), parse_value('sgd')
        (0.01, True, [1, 2], 'sgd')
        >>> parse_value('[cat, (1, 2)]')
        ['cat', (1, 2)]
    """
    stripped = text.strip()
    if stripped.lower() in _WORDS:
        return _WORDS[stripped.lower()]
    opener, parts, literal = stripped[:1], _split(stripped), _literal(stripped)
    grouped = bool(opener) and opener in "[(" and _one_group(stripped)
    if len(parts) > 1 and not grouped and not isinstance(literal, (str, dict, set)):
        return [parse_value(part) for part in parts if part.strip()]  # a,b is a list
    if literal is not _NOT_LITERAL:
        return literal
    if grouped:  # bare words inside: [cat, dog]
        items = [parse_value(item) for item in _split(stripped[1:-1]) if item.strip()]
        return items if opener == "[" else tuple(items)
    if opener and opener in "[(":
        raise ValueError(f"cfg-options: the brackets of {text!r} do not balance")
    try:
        return float(stripped)  # inf, nan
    except ValueError:
        return stripped


_NOT_LITERAL = object()


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _NOT_LITERAL


def _brackets(text: str) -> Iterator[tuple[int, str, int]]:
    """``(index, char, depth after it)`` for each character of `text` outside quotes."""
    depth, quote = 0, ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
            continue
        if char in "'\"":
            quote = char
            continue
        if char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
        yield index, char, depth


def _split(text: str) -> list[str]:
    """`text` split at the commas outside brackets and quotes."""
    parts, start = [], 0
    for index, char, depth in _brackets(text):
        if char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    return [*parts, text[start:]]


def _one_group(text: str) -> bool:
    """Whether `text` is one bracketed group: its first bracket closes at its last character."""
    for index, char, depth in _brackets(text):
        if char in "])}" and depth <= 0:
            return depth == 0 and index == len(text) - 1
    return False


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
