"""Parts shared by the logger-hook tests: runs of the toy model, and reading their logs back."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from tensorboard.backend.event_processing import event_accumulator as ea
from toy import runner_kwargs

from hooks_core import Runner
from hooks_logging import LoggerBackend


def logged_run(tmp_path: Path, logger: dict[str, Any] | None = None, **overrides: Any) -> Runner:
    """A toy runner at INFO level whose default logger hook is `logger` (a LoggerHook config)."""
    kwargs = runner_kwargs(tmp_path, log_level="INFO", **overrides)
    kwargs.setdefault("default_hooks", {"logger": {"type": "LoggerHook", **(logger or {})}})
    return Runner(**kwargs)


def log_lines(runner: Runner) -> list[str]:
    """The messages of the run's text log file, without the time/name/level prefix."""
    path = Path(runner.log_dir) / f"{runner.timestamp}.log"
    return [line.split(" - INFO - ", 1)[1] for line in path.read_text().splitlines()
            if " - INFO - " in line]  # fmt: skip


def read_events(log_dir: Path | str) -> ea.EventAccumulator:
    accumulator = ea.EventAccumulator(
        str(log_dir), size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0}
    )
    accumulator.Reload()
    return accumulator


class RecordingBackend(LoggerBackend):
    """Keeps every call; `fail_calls` lists the 1-based `log_scalars` calls that raise.

    The failure is faked (a network outage cannot be produced here); the
    backend around it is a real `LoggerBackend`.
    """

    def __init__(self, fail_calls: set[int] | None = None, fail_from: int | None = None) -> None:
        self.records: list[tuple[dict[str, Any], int]] = []
        self.axes: dict[str, str] = {}
        self.calls = 0
        self.threads: set[str] = set()
        self._fail_calls = fail_calls or set()
        self._fail_from = fail_from

    def log_scalars(self, scalars: Any, step: int) -> None:
        self._check_open()
        self.threads.add(threading.current_thread().name)
        self.calls += 1
        if self.calls in self._fail_calls or (
            self._fail_from is not None and self.calls >= self._fail_from
        ):
            raise ConnectionError(f"tracking server unreachable (call {self.calls})")
        self.records.append((dict(scalars), step))

    def define_step_axes(self, axes: Any) -> None:
        self.axes.update(axes)


class BlockedBackend(RecordingBackend):
    """Waits for `release` in every write: a tracking server that hangs."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def log_scalars(self, scalars: Any, step: int) -> None:
        self.release.wait()
        super().log_scalars(scalars, step)
