"""Hook priorities: nine named levels and the function that normalises them."""

from __future__ import annotations

from enum import Enum

__all__ = ["Priority", "UnknownPriorityError", "get_priority", "priority_name"]


class Priority(Enum):
    """Named hook priorities; a lower value runs earlier.

    The levels and values are MMEngine's, so configs written for it keep their order.
    """

    HIGHEST = 0
    VERY_HIGH = 10
    HIGH = 30
    ABOVE_NORMAL = 40
    NORMAL = 50
    BELOW_NORMAL = 60
    LOW = 70
    VERY_LOW = 90
    LOWEST = 100


class UnknownPriorityError(ValueError, KeyError):
    """A priority name that is not a level: a `ValueError`, and a `KeyError` as MMEngine raises."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


_VALID = (
    f"an int from 0 to 100, a Priority, or one of the names "
    f"{', '.join(level.name for level in Priority)} (any case)"
)


def get_priority(priority: int | str | Priority) -> int:
    """Return the integer value of a priority given as an int, a name or a `Priority`.

    Args:
        priority: An int in [0, 100], a level name in any case (``'very_high'``),
            or a `Priority` member.

    Returns:
        The priority value; lower runs earlier.

    Raises:
        ValueError: for an int out of range; `UnknownPriorityError` (a
            `ValueError` and a `KeyError`) for an unknown name.
        TypeError: for any other type, a bool included.
    """
    if isinstance(priority, Priority):
        return priority.value
    if isinstance(priority, int) and not isinstance(priority, bool):
        if not 0 <= priority <= 100:
            raise ValueError(f"priority {priority} is out of range: expected {_VALID}")
        return priority
    if isinstance(priority, str):
        try:
            return Priority[priority.strip().upper()].value
        except KeyError:
            raise UnknownPriorityError(
                f"unknown priority {priority!r}: expected {_VALID}"
            ) from None
    raise TypeError(f"priority must be {_VALID}, got {type(priority).__name__} {priority!r}")


def priority_name(priority: int | str | Priority) -> str:
    """Return the level name for display (``'NORMAL'``), or the number for an in-between value."""
    value = get_priority(priority)
    try:
        return Priority(value).name
    except ValueError:
        return str(value)
