"""Telling the hooks that a run stops with an exception (`Hook.on_exception`).

`after_run` is not called when an error stops a run, as in MMEngine, so a hook
that must act on every end of a run (mark a tracker's run failed, close files)
gets the exception here first. A hook that fails in turn is reported and does
not hide the error that stopped the run.
"""

from __future__ import annotations

import contextlib

from ..runtime._signals import TrainingInterrupted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

__all__ = ["exceptions_to_hooks", "notify_exception"]


@contextlib.contextmanager
def exceptions_to_hooks(runner: Any) -> Iterator[None]:
    """Call `notify_exception` for an exception leaving the body, then re-raise it.

    `TrainingInterrupted` is not one: the stop it reports was notified before
    `after_run` (see `Runner._stop_after_signal`).
    """
    try:
        yield
    except TrainingInterrupted:
        raise
    except BaseException as exception:
        notify_exception(runner, exception)
        raise


def notify_exception(runner: Any, exception: BaseException) -> None:
    """Call ``hook.on_exception(runner, exception)`` on every hook, in priority order.

    An error raised by one is logged with the hook's name, and the others still run.
    """
    for hook in list(runner.hooks):
        try:
            hook.on_exception(runner, exception)
        except Exception as err:
            runner.logger.warning(
                "%s.on_exception failed while the run stopped with %s: %s: %s",
                type(hook).__name__,
                type(exception).__name__,
                type(err).__name__,
                err,
            )
