"""Stopping training cleanly on SIGTERM: finish the iteration, save, exit.

Schedulers and clusters send SIGTERM before they kill a job. The runner turns
it into a request that the training loop honours after the current iteration,
so the checkpoint it then writes is consistent and ``resume=True`` continues
from it.
"""

from __future__ import annotations

import contextlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["StopRequested", "TrainingInterrupted", "stop_requests_on_sigterm"]


class StopRequested(Exception):
    """Raised by a training loop, after an iteration, when a stop signal has arrived."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(f"received {signal.Signals(signum).name}")
        self.signum = signum


class TrainingInterrupted(SystemExit):
    """Training stopped on a signal after saving a checkpoint.

    A `SystemExit` with code 0: an uncaught one ends the process cleanly, without
    a traceback, and the next run with ``resume=True`` continues from the checkpoint.
    """

    def __init__(self, checkpoint: str) -> None:
        super().__init__(0)
        self.checkpoint = checkpoint


@contextlib.contextmanager
def stop_requests_on_sigterm(request_stop: Callable[[int], None]) -> Iterator[None]:
    """While active, SIGTERM calls `request_stop(signum)` instead of killing the process.

    Nothing is installed outside the main thread, or when the program already
    handles SIGTERM itself; the previous handler is restored on exit.
    """
    import signal
    import threading

    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: request_stop(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
