"""Reading a field of a data sample, whether it is a dict or an object (MMEngine's DataSample)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MISSING", "sample_field"]

MISSING: Any = object()


def sample_field(sample: Any, name: str, owner: str, default: Any = MISSING) -> Any:
    """Return ``sample[name]`` for a mapping, else ``sample.name``; `default` if it has none.

    Raises:
        KeyError: the sample has no `name` and no default is given; the message
            names the metric (`owner`) and the fields the sample has.
    """
    if isinstance(sample, dict):
        value = sample.get(name, default)
    else:
        value = getattr(sample, name, default)
    if value is MISSING:
        fields = sorted(sample) if isinstance(sample, dict) else sorted(vars(sample))
        raise KeyError(f"{owner} reads {name!r} from each data sample, which has only {fields}")
    return value
