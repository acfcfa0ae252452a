"""Whether a metric is better greater or less: MMEngine's rules, inferred from the name."""

from __future__ import annotations

import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = [
    "GREATER_KEYS",
    "LESS_KEYS",
    "RULES",
    "check_rule",
    "key_names",
    "str_names",
    "infer_rule",
    "improves",
    "worst",
]

# MMEngine's defaults: a metric whose name matches one of these is better greater (or less).
GREATER_KEYS = ("acc", "top", "AR@", "auc", "precision", "mAP", "mDice", "mIoU", "mAcc", "aAcc")
LESS_KEYS = ("loss",)
RULES = ("greater", "less")


def check_rule(rule: str, owner: str) -> str:
    """Return `rule` if it is ``'greater'`` or ``'less'``; otherwise raise, listing both."""
    if rule not in RULES:
        raise ValueError(f"{owner}: unknown rule {rule!r}; valid rules are {RULES}")
    return rule


def key_names(
    given: str | Sequence[str] | None, default: Sequence[str], option: str, owner: str
) -> Sequence[str]:
    """MMEngine's `greater_keys`/`less_keys`: None gives `default`, a str a 1-tuple, a list stays.

    Raises:
        TypeError: `given` is neither a str nor a list or tuple of them.
    """
    if given is None:
        return default
    names = str_names(given)
    if names is None:
        raise TypeError(f"{owner} {option} must be a str or a list of str, got {given!r}")
    return names


def str_names(value: Any) -> Sequence[str] | None:
    """`value` as names: a str gives a 1-tuple, a list or tuple of str stays; None otherwise."""
    names = (value,) if isinstance(value, str) else value
    if isinstance(names, (list, tuple)) and all(isinstance(name, str) for name in names):
        return names
    return None


def infer_rule(
    key: str,
    owner: str,
    greater_keys: Sequence[str] = GREATER_KEYS,
    less_keys: Sequence[str] = LESS_KEYS,
) -> str:
    """Infer the rule of metric `key` as MMEngine does, ignoring case.

    An exact match in `greater_keys`, then in `less_keys`, then a key of
    `greater_keys` inside `key`, then one of `less_keys`.

    Raises:
        ValueError: nothing matches; the message says to give the rule.
    """
    name = key.lower()
    greater = [k.lower() for k in greater_keys]
    less = [k.lower() for k in less_keys]
    if name in greater:
        return "greater"
    if name in less:
        return "less"
    if any(k in name for k in greater):
        return "greater"
    if any(k in name for k in less):
        return "less"
    raise ValueError(
        f"{owner}: cannot infer whether {key!r} is better greater or less from "
        f"greater_keys={list(greater_keys)} and less_keys={list(less_keys)}; give rule='greater' "
        "or rule='less'"
    )


def improves(rule: str, score: float, best: float) -> bool:
    """Whether `score` is strictly better than `best` under `rule`."""
    return score > best if rule == "greater" else score < best


def worst(rule: str) -> float:
    """The score every finite score improves on."""
    return -math.inf if rule == "greater" else math.inf
