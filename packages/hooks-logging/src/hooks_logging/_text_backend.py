"""`TextBackend`: a sink for text lines, to a file, a `logging.Logger`, or both.

It writes what it is given. Building MMEngine's ``Epoch(train) [1][10/50]  lr: ...``
lines is the log processor's job, which hands the finished line to `log_text`;
`log_scalars` writes only a compact ``step 10  loss: 0.4321  acc: 0.9000`` line,
for loops that use the backend directly.
"""

from __future__ import annotations

import math
import os

from hooks_core import LOG_BACKENDS

from ._backend import LoggerBackend, config_to_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping
    from typing import IO, Any

__all__ = ["TextBackend"]


@LOG_BACKENDS.register_module(name=["text", "TextBackend"])
class TextBackend(LoggerBackend):
    """Write text lines to ``save_dir/filename`` and/or a logger.

    Args:
        save_dir: The folder of the log file, created if missing. None writes
            no file (unless `filename` is a path of its own).
        filename: The log file's name in `save_dir`; defaults to
            ``<YYYYmmdd_HHMMSS>.log`` (the time of construction, MMEngine's
            name). An existing file is appended to.
        logger: A `logging.Logger`, or the name of one, that receives every line
            at INFO level. When neither a file nor a logger is given, lines go
            to the ``'hooks_logging'`` logger, so they are never lost silently.

    Lines:
        - `log_text` writes `text` as it is (several lines if it has newlines);
          `name` and `step` are not added.
        - `log_scalars` writes ``step N  key: value  key: value``, separated by
          two spaces: integers as they are, other numbers with 4 decimals, or in
          ``1.2346e-05`` form when their magnitude is below 0.001 or from 1e6,
          so a small learning rate does not print as 0.0000.
        - `log_config` writes ``config:`` and the config as indented JSON.

    The file is line-buffered: each line reaches the operating system when written.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike[str] | None = None,
        filename: str | None = None,
        logger: logging.Logger | str | None = None,
    ) -> None:
        self.path: str | None = None
        self._file: IO[str] | None = None
        if save_dir is not None or filename is not None:
            if filename is None:
                import time

                filename = time.strftime("%Y%m%d_%H%M%S") + ".log"
            self.path = os.path.join(os.fspath(save_dir or ""), filename)
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self._file = open(self.path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        if isinstance(logger, str) or (logger is None and self._file is None):
            import logging

            logger = logging.getLogger(logger or "hooks_logging")
        self.logger = logger

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Write ``step N  key: value  ...`` with each value in compact form."""
        self._check_open()
        parts = [f"step {step}"]
        parts.extend(f"{key}: {_format_number(value)}" for key, value in scalars.items())
        self._write("  ".join(parts))

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """Write `text` as it is."""
        self._check_open()
        self._write(text)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Write ``config:`` followed by the config as indented JSON."""
        self._check_open()
        self._write("config:\n" + config_to_text(config))

    def flush(self) -> None:
        """Flush the file and the logger's handlers."""
        if self._closed:
            return
        if self._file is not None:
            self._file.flush()
        if self.logger is not None:
            for handler in self.logger.handlers:
                handler.flush()

    def _write(self, line: str) -> None:
        if self._file is not None:
            self._file.write(line + "\n")
        if self.logger is not None:
            self.logger.info(line)

    def _close(self) -> None:
        # The logger belongs to the caller: its handlers stay open.
        if self._file is not None:
            self._file.close()

    def __repr__(self) -> str:
        name = self.logger.name if self.logger is not None else None
        return f"TextBackend(path={self.path!r}, logger={name!r})"


def _format_number(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number == 0 or not math.isfinite(number) or 1e-3 <= abs(number) < 1e6:
        return f"{number:.4f}"
    return f"{number:.4e}"
