"""`LogBuffer`: MMCV 1.x's store of logged values, which hooks written for MMCV read and write.

The MMCV runners put each step's ``log_vars`` in it; MMCV's evaluation hooks
leave their results in `output` with `ready` set, for the logger hooks to print.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["LogBuffer"]


class LogBuffer:
    """Values logged since the last `clear`, with the count of samples each stands for.

    Attributes:
        val_history: Per key, every value given to `update`.
        n_history: Per key, the count given with each value.
        output: What `average` computed, or what a hook put there to be logged.
        ready: Whether `output` holds values to log.
    """

    def __init__(self) -> None:
        self.val_history: dict[str, list[Any]] = {}
        self.n_history: dict[str, list[int]] = {}
        self.output: dict[str, Any] = {}
        self.ready = False

    def clear(self) -> None:
        """Forget every value and the output."""
        self.val_history.clear()
        self.n_history.clear()
        self.clear_output()

    def clear_output(self) -> None:
        """Forget the output (after it was logged)."""
        self.output.clear()
        self.ready = False

    def update(self, vars: Mapping[str, Any], count: int = 1) -> None:
        """Record `vars` (name -> value), each standing for `count` samples."""
        if not isinstance(vars, dict):
            raise TypeError(f"LogBuffer.update takes a dict of values, got {type(vars).__name__}")
        for key, value in vars.items():
            self.val_history.setdefault(key, []).append(value)
            self.n_history.setdefault(key, []).append(count)

    def average(self, n: int = 0) -> None:
        """Average each key's last `n` values (all with 0) into `output`, weighted by count."""
        if n < 0:
            raise ValueError(f"LogBuffer.average takes n >= 0, got {n}")
        for key, values in self.val_history.items():
            counts = self.n_history[key][-n:]
            recent = values[-n:]
            self.output[key] = sum(float(v) * c for v, c in zip(recent, counts, strict=True)) / sum(
                counts
            )
        self.ready = True
