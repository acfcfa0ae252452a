"""The runner's logger: a standard `logging` logger, console on rank 0 and a file in the log dir."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging

__all__ = ["get_runner_logger", "close_logger", "FILE_ONLY"]

_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"

# ``logger.info(..., extra=FILE_ONLY)`` writes a message to the log file but not the
# console: for long reference output such as the table of hooks at each point.
FILE_ONLY = {"file_only": True}


def _not_file_only(record: logging.LogRecord) -> bool:
    return not getattr(record, "file_only", False)


def get_runner_logger(
    name: str, log_file: str | os.PathLike[str] | None, level: str | int, rank: int
) -> logging.Logger:
    """Return a logger that prints on rank 0 and also writes `log_file` there.

    Other ranks only report errors, so a multi-process run prints one copy of
    each message. The logger does not propagate to the root logger, so user
    logging configuration neither duplicates nor swallows its lines.
    """
    import logging  # slow to import; needed once a runner exists
    import sys

    logger = logging.getLogger(name)
    close_logger(logger)
    logger.setLevel(level if rank == 0 else logging.ERROR)
    logger.propagate = False
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(logging.Formatter(_FORMAT, datefmt="%m/%d %H:%M:%S"))
    console.addFilter(_not_file_only)
    logger.addHandler(console)
    if log_file is not None and rank == 0:
        os.makedirs(os.path.dirname(os.fspath(log_file)) or ".", exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%Y/%m/%d %H:%M:%S"))
        logger.addHandler(file_handler)
    return logger


def close_logger(logger: logging.Logger) -> None:
    """Detach and close the logger's handlers (closing its log file)."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
