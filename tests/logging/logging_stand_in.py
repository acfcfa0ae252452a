"""The shared runner stand-in (``tests/support/stand_in.py``) set up as the logging code reads it.

MMEngine's logging tests call `LoggerHook` and `LogProcessor` methods on a
``MagicMock`` runner; here it is the shared `StandInRunner` with a real
`MessageHub`, plus a log processor, dataloader lengths, the loop's unit, and a
logger whose messages are kept for the test to read.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from stand_in import StandInRunner

from hooks_logging import LogProcessor


class KeptMessages(logging.Handler):
    """Keeps the formatted message of every record."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def logging_runner(
    work_dir: str | os.PathLike[str],
    by_epoch: bool | None = True,
    epoch: int = 1,
    iter: int = 10,
    max_epochs: int = 10,
    max_iters: int = 50,
    lengths: tuple[int, int, int] = (20, 10, 5),
    log_processor: Any = None,
    timestamp: str = "20240101_000000",
) -> StandInRunner:
    """A stand-in at `epoch`/`iter` (MMEngine's tests use 1 and 10) with the given loaders.

    Args:
        by_epoch: Whether the built train loop counts epochs; None: no train
            loop was built (a lone validation or test run).
        lengths: The train, val and test dataloader lengths.
        log_processor: ``runner.log_processor``; a default `LogProcessor` if None.
        timestamp: The run's timestamp, which names its log dir and files.

    The messages logged through ``runner.logger`` are in ``runner.messages``.
    """
    train, val, test = lengths
    runner = StandInRunner(
        work_dir,
        train_dataloader=[0] * train,
        val_dataloader=[0] * val,
        test_dataloader=[0] * test,
        max_epochs=max_epochs,
        max_iters=max_iters,
        log_processor=LogProcessor() if log_processor is None else log_processor,
    )
    runner.epoch, runner.iter = epoch, iter
    runner.timestamp = timestamp
    runner.log_dir = os.path.join(runner.work_dir, timestamp)
    os.makedirs(runner.log_dir, exist_ok=True)
    if by_epoch is None:
        runner.built_train_loop = None  # type: ignore[attr-defined]
    else:
        runner.train_loop.by_epoch = by_epoch  # type: ignore[attr-defined]
        runner.built_train_loop = runner.train_loop  # type: ignore[attr-defined]
    kept = KeptMessages()
    runner.logger.addHandler(kept)
    runner.messages = kept.messages  # type: ignore[attr-defined]
    return runner


def lines(runner: Any, start: str) -> list[str]:
    """The messages the runner's logger got that start with `start` (``'Epoch(train)'``...)."""
    return [message for message in runner.messages if message.startswith(start)]
