"""`CheckpointWriter`: write checkpoints on rank 0, now or on one background thread.

Whatever depends on a file being complete runs only once the write succeeded:
file work (the ``last_checkpoint`` pointer, removing the checkpoint it
replaces) right after it, on the writing thread and rank 0 only, so a crash
never leaves a pointer without its file; the bookkeeping in memory (the
message hub) on the training thread, on every rank. An asynchronous write
copies the state to CPU memory first, on the calling thread, so training may
change the live tensors while the copy is written.
"""

from __future__ import annotations

from hooks_core.checkpoint import save_checkpoint, weights_to_cpu
from hooks_core.dist import is_main_process

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future, ThreadPoolExecutor
    from typing import Any

__all__ = ["CheckpointWriter"]


class CheckpointWriter:
    """Write one checkpoint at a time; with `async_save`, in the background.

    Args:
        async_save: Write on a background thread. At most one write is in
            flight: a new one (or `wait`) first waits for the previous one, and
            raises its error, if it failed.
    """

    def __init__(self, async_save: bool = False) -> None:
        self.async_save = async_save
        self._executor: ThreadPoolExecutor | None = None
        self._pending: tuple[Future[None], str, Callable[[], None]] | None = None

    def write(
        self,
        checkpoint: dict[str, Any],
        path: str,
        after_write: Callable[[], None],
        then: Callable[[], None],
    ) -> None:
        """Write `checkpoint` to `path` and call `after_write` (rank 0), then `then` (every rank).

        Raises:
            RuntimeError: the previous asynchronous write failed (chained to its error).
        """
        self.wait()
        main = is_main_process()
        if not self.async_save:
            if main:
                save_checkpoint(checkpoint, path)
                after_write()
            then()
            return
        snapshot = weights_to_cpu(checkpoint, copy_tensors=True) if main else None
        self._pending = (self._submit(snapshot, path, after_write), path, then)

    def _submit(
        self, snapshot: dict[str, Any] | None, path: str, after_write: Callable[[], None]
    ) -> Future[None]:
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(1, thread_name_prefix="checkpoint-writer")

        def job() -> None:
            if snapshot is not None:  # other ranks only wait their turn for the bookkeeping
                save_checkpoint(snapshot, path)
                after_write()

        return self._executor.submit(job)

    def wait(self) -> bool:
        """Wait for the write in flight, if any, and run what waited for it; True if one did.

        Raises:
            RuntimeError: that write failed; the file it replaces is untouched.
        """
        if self._pending is None:
            return False
        future, path, then = self._pending
        self._pending = None
        try:
            future.result()
        except Exception as err:
            raise RuntimeError(f"the asynchronous save of checkpoint {path} failed") from err
        then()
        return True

    def close(self) -> None:
        """Wait for the write in flight and stop the background thread."""
        try:
            self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown()
                self._executor = None
