"""A live progress bar for train, validation and test epochs, drawn by tqdm on a terminal.

While a bar is shown, the log lines that the runner's logger prints on the same
terminal are written through ``tqdm.write``, so they appear above the bar
instead of breaking it.
"""

from __future__ import annotations

import logging
import sys

from hooks_core.registry import pip_install

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ProgressBar", "MISSING_TQDM", "progress_wanted"]

MISSING_TQDM = f"the progress bar needs tqdm: {pip_install('hooks-logging[progress]')}"


def progress_wanted(setting: bool | None) -> bool:
    """Whether to draw bars: `setting` if given, else when stdout is a terminal and tqdm is here.

    Raises:
        ImportError: ``progress_bar=True`` without tqdm; the message is the fix.
    """
    if setting is False:
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        if setting:
            raise ImportError(MISSING_TQDM) from None
        return False
    return bool(setting) or sys.stdout.isatty()


class ProgressBar:
    """One bar at a time on stdout; `start` replaces the current bar.

    Args:
        logger: The runner's logger; its handlers that write to stdout or
            stderr go through ``tqdm.write`` while a bar is shown.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._bar: Any = None
        self._streams: list[tuple[logging.StreamHandler[Any], Any]] = []

    def start(self, total: int, description: str, done: int = 0) -> None:
        """Show a new bar of `total` steps, `done` of them already done."""
        from tqdm.auto import tqdm

        self.close()
        self._bar = tqdm(
            total=total,
            initial=done,
            desc=description,
            file=sys.stdout,
            dynamic_ncols=True,
            leave=False,
        )
        self._route_console_lines()

    def update(self) -> None:
        """Advance the bar by one step (cheap: tqdm redraws at most ten times a second)."""
        if self._bar is not None:
            self._bar.update()

    def show(self, values: dict[str, Any]) -> None:
        """Show `values` (e.g. the latest loss) after the bar."""
        if self._bar is not None:
            self._bar.set_postfix(values, refresh=False)

    def close(self) -> None:
        """Remove the bar and give the console its lines back."""
        if self._bar is None:
            return
        self._bar.close()
        self._bar = None
        for handler, stream in self._streams:
            handler.setStream(stream)
        self._streams = []

    def _route_console_lines(self) -> None:
        if self._streams:
            return
        for handler in self._logger.handlers:
            console = isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            )
            if console and handler.stream in (sys.stdout, sys.stderr):  # type: ignore[attr-defined]
                original = handler.setStream(_TqdmStream())  # type: ignore[attr-defined]
                self._streams.append((handler, original))  # type: ignore[arg-type]


class _TqdmStream:
    """A file-like object that prints through ``tqdm.write``."""

    def write(self, text: str) -> None:
        from tqdm.auto import tqdm

        if text.strip():
            tqdm.write(text.rstrip("\n"), file=sys.stdout)

    def flush(self) -> None:
        sys.stdout.flush()
