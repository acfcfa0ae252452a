"""`MMLogger`, MMEngine's named loggers, and `print_log`: console on rank 0, a file in the log dir.

An `MMLogger` is a `logging.Logger` outside the `logging` hierarchy: the
root logger's configuration neither duplicates nor swallows its lines, and
`logging.getLogger` does not return it; `MMLogger.get_instance(name)` does.
The runner's logger is the instance named after its experiment.
"""

from __future__ import annotations

import logging
import os
import sys

from ..dist._env import get_dist_info
from ..utils import ManagerMixin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MMLogger", "print_log", "get_runner_logger", "close_logger", "FILE_ONLY"]

# ``logger.info(..., extra=FILE_ONLY)`` writes a message to the log file but not the
# console: for long reference output such as the table of hooks at each point.
FILE_ONLY = {"file_only": True}

_CONSOLE_TIME = "%m/%d %H:%M:%S"
_FILE_TIME = "%Y/%m/%d %H:%M:%S"
_ANSI = {"ERROR": "31", "WARNING": "33", "INFO": "37", "DEBUG": "32"}  # red, yellow, white, green


class MMLogger(logging.Logger, ManagerMixin):
    """A logger shared by name: console output on rank 0, and a log file.

    Handlers carry the level: the console prints `log_level` and above on
    rank 0 and only errors on other ranks; the file gets `log_level` and
    above. A warning repeated word for word is shown once. Error lines also
    name the file, function and line that logged them.

    Args:
        name: The instance name, for `get_instance`.
        logger_name: The logger's ``name``, shown in each line.
        log_file: Write the log to this file too (its folder is created). Only
            rank 0 writes it, unless the run is distributed and `distributed`
            is set or `log_level` is DEBUG: then every rank writes its own
            ``{stem}_{user}@{host}_device{id}_rank{rank}{suffix}`` next to it.
        log_level: The level of the handlers, a name (``'INFO'``) or a number.
        file_mode: The mode the log file is opened with, ``'w'`` or ``'a'``.
        distributed: Let every rank write a log file (see `log_file`).
        file_handler_cfg: Build the file handler from ``logging.handlers``
            instead: ``dict(type='RotatingFileHandler', maxBytes=...)``; its
            ``filename`` defaults to `log_file`.

    Example:
        >>> logger = MMLogger.get_instance("demo", log_level="WARNING")
        >>> MMLogger.get_current_instance() is logger
        True
    """

    def __init__(
        self,
        name: str,
        logger_name: str = "mmengine",
        log_file: str | os.PathLike[str] | None = None,
        log_level: int | str = "INFO",
        file_mode: str = "w",
        distributed: bool = False,
        file_handler_cfg: dict[str, Any] | None = None,
    ) -> None:
        logging.Logger.__init__(self, logger_name)
        ManagerMixin.__init__(self, name)
        level = _level_number(log_level)
        rank, world_size = get_dist_info()
        console = logging.StreamHandler(sys.stdout)
        console.setFormatter(_Formatter(color=_colors_supported(), datefmt=_CONSOLE_TIME))
        console.setLevel(level if rank == 0 else logging.ERROR)
        console.addFilter(_ShowWarningsOnce())
        console.addFilter(_not_file_only)
        self.addHandler(console)
        path = None if log_file is None else os.fspath(log_file)
        if path is not None:
            per_rank = (distributed or level <= logging.DEBUG) and world_size > 1
            if per_rank:
                path = _rank_log_file(path, rank)
            if rank == 0 or per_rank:
                handler = _file_handler(path, file_mode, file_handler_cfg)
                handler.setFormatter(_Formatter(color=False, datefmt=_FILE_TIME))
                handler.setLevel(level)
                handler.addFilter(_ShowWarningsOnce())
                self.addHandler(handler)
        self._log_file = path

    @property
    def log_file(self) -> str | None:
        """The log file of this rank's logger (rank 0's path on ranks that write none)."""
        return self._log_file

    @classmethod
    def get_current_instance(cls) -> MMLogger:
        """Return the current instance; before any exists, create and return ``'mmengine'``."""
        try:
            return super().get_current_instance()
        except RuntimeError:  # no instance yet
            return cls.get_instance("mmengine")

    def callHandlers(self, record: logging.LogRecord) -> None:
        """Pass `record` to this logger's own handlers only: no parents, no last resort."""
        for handler in self.handlers:
            if record.levelno >= handler.level:
                handler.handle(record)

    def setLevel(self, level: int | str) -> None:
        """Set the logger's level; `logging`'s manager does not know this logger, so clear here."""
        super().setLevel(level)
        self._cache.clear()  # type: ignore[attr-defined]  # `isEnabledFor`'s answers


def print_log(
    msg: Any, logger: logging.Logger | str | None = None, level: int = logging.INFO
) -> None:
    """Print `msg`, or log it at `level` through the logger `logger` names.

    Args:
        msg: The message.
        logger: None to `print` it; ``'silent'`` to drop it; ``'current'`` for
            `MMLogger.get_current_instance`; the name of an existing
            `MMLogger` instance; or a `logging.Logger`.
        level: The level, when a logger is used.

    Raises:
        ValueError: `logger` names no `MMLogger` instance.
        TypeError: `logger` is of another type.
    """
    if logger is None:
        print(msg)
    elif isinstance(logger, logging.Logger):
        logger.log(level, msg)
    elif logger == "silent":
        pass
    elif logger == "current":
        MMLogger.get_current_instance().log(level, msg)
    elif isinstance(logger, str):
        if not MMLogger.check_instance_created(logger):
            raise ValueError(
                f"print_log: no MMLogger named {logger!r} exists; create it with "
                f"MMLogger.get_instance({logger!r}), or pass 'current', 'silent' or None"
            )
        MMLogger.get_instance(logger).log(level, msg)
    else:
        raise TypeError(
            "print_log: logger must be a logging.Logger, an MMLogger instance name, "
            f"'current', 'silent' or None, got {type(logger).__name__}: {logger!r}"
        )


def get_runner_logger(
    name: str,
    log_file: str | os.PathLike[str] | None,
    level: str | int,
) -> MMLogger:
    """Return the runner's `MMLogger`: the instance `name`, appending to `log_file` on rank 0."""
    return MMLogger.get_instance(name, log_file=log_file, log_level=level, file_mode="a")


def close_logger(logger: logging.Logger) -> None:
    """Detach and close the logger's handlers (closing its log file)."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


# ------------------------------------------------------------ handlers' parts
def _level_number(level: int | str) -> int:
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    number = logging.getLevelName(level) if isinstance(level, str) else None
    if not isinstance(number, int):
        raise ValueError(
            f"unknown log level {level!r}; use a number or one of "
            "'CRITICAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG'"
        )
    return number


def _not_file_only(record: logging.LogRecord) -> bool:
    return not getattr(record, "file_only", False)


class _ShowWarningsOnce(logging.Filter):
    """Let a warning through the first time its message is seen, as MMEngine's loggers do."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[Any] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        if record.msg in self._seen:
            return False
        self._seen.add(record.msg)
        return True


class _Formatter(logging.Formatter):
    """``time - name - LEVEL - message``; errors add ``path - function - line`` before the message.

    Levels above ERROR are laid out as errors; levels of other names as INFO.
    With `color`, the level name is underlined in its colour (errors and
    warnings also blink), as MMEngine's console shows it.
    """

    def __init__(self, color: bool, datefmt: str) -> None:
        super().__init__(datefmt=datefmt)
        self._formats = {
            level: logging.Formatter(_line_format(level, color), datefmt=datefmt) for level in _ANSI
        }

    def format(self, record: logging.LogRecord) -> str:
        name = "ERROR" if record.levelno >= logging.ERROR else record.levelname
        return self._formats.get(name, self._formats["INFO"]).format(record)


def _line_format(level: str, color: bool) -> str:
    label = "%(levelname)s"
    if color:
        blink = ";5" if level in ("ERROR", "WARNING") else ""
        label = f"\033[4{blink};{_ANSI[level]}m{label}\033[0m"
    where = " - %(pathname)s - %(funcName)s - %(lineno)d" if level == "ERROR" else ""
    return f"%(asctime)s - %(name)s - {label}{where} - %(message)s"


def _colors_supported() -> bool:
    """Whether stdout is a terminal that wants colours (``NO_COLOR`` unset, ``TERM`` not dumb)."""
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def _rank_log_file(path: str, rank: int) -> str:
    """``{stem}_{user}@{host}_device{id}_rank{rank}{suffix}``, next to `path`."""
    stem, suffix = os.path.splitext(os.path.basename(path))
    host = _user_at_host()
    parts = [stem, *([host] if host else []), f"device{_device_id()}", f"rank{rank}"]
    return os.path.join(os.path.dirname(path), "_".join(parts) + suffix)


def _user_at_host() -> str:
    import getpass
    import socket
    import warnings

    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (OSError, KeyError) as err:  # a user with no passwd entry, e.g. in a container
        warnings.warn(f"the log file name leaves out the user and host: {err}", stacklevel=4)
        return ""


def _device_id() -> int | str:
    """This process's GPU as the machine numbers it (its ``LOCAL_RANK`` without CUDA)."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    torch = sys.modules.get("torch")  # CUDA can be in use only once torch is imported
    if torch is None or not torch.cuda.is_available():
        return local_rank
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
    device = devices[local_rank]
    return int(device) if device.isdigit() else device  # a MIG device is a UUID


def _file_handler(path: str, mode: str, cfg: dict[str, Any] | None) -> logging.FileHandler:
    """A `logging.FileHandler` for `path`, or the ``logging.handlers`` class `cfg` names."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if cfg is None:
        return logging.FileHandler(path, mode, encoding="utf-8")
    from logging import handlers

    kwargs = dict(cfg)
    kind = kwargs.pop("type", None)
    handler_cls = getattr(handlers, kind, None) if isinstance(kind, str) else None
    if not (isinstance(handler_cls, type) and issubclass(handler_cls, logging.FileHandler)):
        known = sorted(
            name
            for name, value in vars(handlers).items()
            if isinstance(value, type) and issubclass(value, logging.FileHandler)
        )
        raise ValueError(
            f"file_handler_cfg needs a 'type' naming a file handler of logging.handlers, "
            f"one of {', '.join(known)}; got {kind!r}"
        )
    kwargs.setdefault("filename", path)
    handler: logging.FileHandler = handler_cls(**kwargs)
    return handler
