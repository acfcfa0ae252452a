"""`CheckpointWriter`: write checkpoints on rank 0, now or on one background thread.

Whatever depends on a file being complete runs only once the write succeeded:
file work (the ``last_checkpoint`` pointer, removing the checkpoint it
replaces) right after it, on the writing thread and rank 0 only, so a crash
never leaves a pointer without its file; the bookkeeping in memory (the
message hub) on the training thread, on every rank. An asynchronous write
copies the state to CPU memory first, on the calling thread, so training may
change the live tensors while the copy is written. A sharded checkpoint (a
folder) is written by every rank with ``torch.distributed.checkpoint``; its
asynchronous write is ``dcp.async_save``, which stages the copy the same way.
"""

from __future__ import annotations

import functools

from hooks_core.checkpoint import save_checkpoint, save_sharded, weights_to_cpu
from hooks_core.dist import is_main_process

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from concurrent.futures import Future, ThreadPoolExecutor
    from typing import Any

__all__ = ["CheckpointWriter"]


class CheckpointWriter:
    """Write one checkpoint at a time; with `async_save`, in the background.

    Args:
        async_save: Write on a background thread. At most one write is in
            flight: a new one (or `wait`) first waits for the previous one, and
            raises its error, if it failed.
        backend_args: The storage options of checkpoints at a URL (see
            `hooks_core.checkpoint.check_storage_args`), for what the hooks
            write, remove and point at there too.
    """

    def __init__(
        self, async_save: bool = False, backend_args: Mapping[str, Any] | None = None
    ) -> None:
        self.async_save = async_save
        self.backend_args = None if backend_args is None else dict(backend_args)
        self._executor: ThreadPoolExecutor | None = None
        self._pending: tuple[Future[None], str, Callable[[], None]] | None = None

    def write(
        self,
        checkpoint: dict[str, Any],
        path: str,
        after_write: Callable[[], None],
        then: Callable[[], None],
        sharded: bool = False,
        sync_folder: bool = True,
    ) -> None:
        """Write `checkpoint` to `path` and call `after_write` (rank 0), then `then` (every rank).

        `sharded`: `checkpoint` holds this rank's shards and `path` is the folder
        every rank writes (see `hooks_core.checkpoint.save_sharded`).
        `sync_folder=False`: `after_write` persists the file's rename, as
        `hooks_core.checkpoint.update_last_checkpoint` does.

        Raises:
            RuntimeError: the previous asynchronous write failed (chained to its error).
        """
        self.wait()
        main = is_main_process()
        finish: Callable[[], None] | None
        if sharded:  # every rank writes; asynchronously only the staging copy happens now
            finish = save_sharded(checkpoint, path, self.async_save)
        else:  # an asynchronous write gets a copy: training goes on changing the tensors
            copy = self.async_save and main
            state = weights_to_cpu(checkpoint, copy_tensors=True) if copy else checkpoint
            finish = functools.partial(
                save_checkpoint,
                state,
                path,
                backend_args=self.backend_args,
                sync_folder=sync_folder,
            )
        if not (main or sharded):
            finish = None  # other ranks only wait their turn for the bookkeeping
        if not self.async_save:
            if finish is not None:
                finish()
            if main:
                after_write()
            then()
            return
        self._pending = (self._submit(finish, after_write, main), path, then)

    def _submit(
        self, finish: Callable[[], None] | None, after_write: Callable[[], None], main: bool
    ) -> Future[None]:
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(1, thread_name_prefix="checkpoint-writer")

        def job() -> None:
            if finish is not None:
                finish()
            if main:
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
