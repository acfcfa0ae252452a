"""One training run per work_dir: a lock rank 0 holds while it trains, and what it makes safe.

Two runs training into one work_dir would overwrite and delete each other's
checkpoints. While `Runner.train` (or an MMCV runner's ``run``) trains, rank 0
holds a POSIX record lock (``fcntl.lockf``) on ``<work_dir>/.hooks.lock``, a
JSON line naming the holder (pid, host, start time, experiment); a second run
fails at once with that name in its error. The OS drops the lock when the
holder's process ends, even by SIGKILL, so a killed run never blocks the next.
A record lock belongs to the process, not to the file descriptor: forked
dataloader workers do not inherit it (an ``flock`` would stay held by workers
outliving a killed holder), and it works over NFS. Record locks do not
conflict within one process, so a second runner of the same process is caught
by this module's own table of the work_dirs it holds. With the lock held no
other run writes into the work_dir, so the temporary files that killed writers
left there (``.{name}.{pid}.tmp``, see `write_atomically`) are removed.
Without ``fcntl`` (Windows), or on a file system that refuses locks, training
goes on unlocked, with a warning saying what is not checked then.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import os.path as osp
import re
import socket
import time

from ..checkpoint import find_latest_checkpoint, is_url
from ..dist import broadcast_object
from ..runtime._logging import FILE_ONLY, MMLogger

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Iterator
    from typing import Any

__all__ = ["LOCK_FILE", "WorkDirLockedError", "WorkDirLock", "hold_work_dir", "errors_to_log_file",
           "remove_dead_writers_files"]  # fmt: skip

LOCK_FILE = ".hooks.lock"
# The lock files this process holds (record locks never conflict within a process).
_HELD: set[str] = set()
# `write_atomically`'s temporary names: a dot, the target's name, the writer's pid, ``.tmp``.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.tmp")
# A temporary file of this process's pid older than this was left by an earlier process
# that had the same pid (a restarted container numbers its processes alike).
_IMPORTED = time.time()


class WorkDirLockedError(RuntimeError):
    """Another run is training into the work_dir: it holds ``<work_dir>/.hooks.lock``."""


class WorkDirLock:
    """The held lock on a work_dir; `acquire` takes it, `release` gives it up.

    Args:
        path: The lock file.
        fd: The open, locked file descriptor.
    """

    __slots__ = ("_fd", "path")

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def acquire(cls, work_dir: str, experiment: str, logger: logging.Logger) -> WorkDirLock | None:
        """Lock `work_dir` and record this process in the lock file, without waiting.

        Returns None, after a warning, where the OS offers no lock.

        Raises:
            WorkDirLockedError: another process (or another runner of this one)
                holds it; the message names the holder and what to do.
        """
        try:
            import fcntl
        except ImportError:
            _warn_unlocked(logger, work_dir, "this platform has no fcntl to lock files with")
            return None
        path = osp.join(work_dir, LOCK_FILE)
        key = osp.realpath(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not truncated: it names the holder
        try:
            if key in _HELD:  # this process trains there already
                raise BlockingIOError(errno.EAGAIN, "held by this process", path)
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError) as err:  # EAGAIN or EACCES: another holder
            holder = _read_holder(fd)
            os.close(fd)
            raise WorkDirLockedError(_locked_message(work_dir, path, holder)) from err
        except OSError as err:  # e.g. ENOLCK on a network file system without lock support
            os.close(fd)
            _warn_unlocked(logger, work_dir, f"{path} cannot be locked ({err})")
            return None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "experiment": experiment,
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder) + "\n").encode("utf-8"), 0)
        except BaseException:
            os.close(fd)  # which unlocks it
            raise
        _HELD.add(key)
        return cls(path, fd)

    def release(self) -> None:
        """Empty the lock file (it names no holder then) and unlock it."""
        import fcntl

        try:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            fcntl.lockf(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            _HELD.discard(osp.realpath(self.path))


@contextlib.contextmanager
def hold_work_dir(runner: Any) -> Iterator[None]:
    """Hold ``runner.work_dir``'s lock on rank 0 for the body, after clearing dead writers' files.

    Every rank learns whether rank 0 got it, so all of them fail together
    instead of the others waiting for rank 0 in the first collective.
    """
    lock: WorkDirLock | None = None
    problem: Exception | None = None
    if runner.rank == 0:
        try:
            lock = WorkDirLock.acquire(runner.work_dir, runner.experiment_name, runner.logger)
        except (WorkDirLockedError, OSError) as err:
            problem = err
    if runner.distributed:
        message = broadcast_object(None if problem is None else str(problem))
        if message is not None and problem is None:
            problem = RuntimeError(f"rank 0 could not start training: {message}")
    if problem is not None:
        raise problem
    try:
        if lock is not None:
            remove_dead_writers_files(runner.work_dir, runner.logger)
        yield
    finally:
        if lock is not None:
            lock.release()


@contextlib.contextmanager
def errors_to_log_file(logger: logging.Logger, what: str) -> Iterator[None]:
    """Write an error leaving the body, with its traceback, to the run's log file, then re-raise.

    Only the file gets it (`FILE_ONLY`): the console shows the traceback once,
    from whoever handles the error (Python, for an uncaught one). A logger
    that is not an `MMLogger` (one given to an MMCV runner) has no such filter
    and is left alone. `SystemExit` (`TrainingInterrupted`) and
    `KeyboardInterrupt` are not errors and are not written.
    """
    try:
        yield
    except Exception:
        if isinstance(logger, MMLogger):
            logger.error("%s stopped by an error:", what, exc_info=True, extra=FILE_ONLY)
        raise


def remove_dead_writers_files(work_dir: str, logger: logging.Logger) -> None:
    """Remove the temporary files of killed writers in `work_dir` and its checkpoints' folder.

    Call it only while holding the work_dir's lock. The checkpoints' folder is
    the one ``last_checkpoint`` points into, when it is inside `work_dir` (out_dir
    elsewhere may be shared with other work_dirs, whose live writers the lock
    does not cover). A file is kept while its writer may still write it: a live
    process on this host, or this process since it started.
    """
    folders = [work_dir]
    latest = find_latest_checkpoint(work_dir)
    if latest is not None and not is_url(latest):  # a store's files are not this host's
        folder = osp.dirname(osp.abspath(latest))
        if folder != work_dir and osp.commonpath([folder, work_dir]) == work_dir:
            folders.append(folder)
    count = size = 0
    for folder in folders:
        with os.scandir(folder) as entries:
            for entry in entries:
                found = _TEMPORARY.fullmatch(entry.name)
                if found is None or not entry.is_file(follow_symlinks=False):
                    continue
                with contextlib.suppress(OSError):  # gone already, or not ours to remove
                    stat = entry.stat(follow_symlinks=False)
                    if _writer_may_be_alive(int(found["pid"]), stat.st_mtime):
                        continue
                    os.remove(entry.path)
                    count += 1
                    size += stat.st_size
    if count:
        logger.info(
            "Removed %d temporary files (%s) that killed runs left in %s while writing them",
            count,
            _size(size),
            work_dir if len(folders) == 1 else " and ".join(folders),
        )


def _writer_may_be_alive(pid: int, mtime: float) -> bool:
    if pid == os.getpid():
        return mtime >= _IMPORTED
    return _alive(pid)


def _alive(pid: int) -> bool:
    """Whether process `pid` runs on this host (signal 0 only checks, it sends nothing)."""
    if pid <= 0:  # 0 and negative numbers address process groups
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:  # another user's process
        return True
    except (OSError, OverflowError):  # no such process (ProcessLookupError), or no valid pid
        return False
    return True


def _read_holder(fd: int) -> dict[str, Any]:
    """What the lock file says of its holder; empty while the holder has not written it yet."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _locked_message(work_dir: str, path: str, holder: dict[str, Any]) -> str:
    pid, host = holder.get("pid"), holder.get("host")
    if pid is None:
        who = "a process that has not recorded itself yet"
    else:
        experiment, since = holder.get("experiment"), holder.get("since")
        who = f"experiment {experiment!r}, pid {pid} on host {host}, since {since}"
    return (
        f"work_dir {work_dir} is in use: another run is training into it ({who}; lock file "
        f"{path}). Two runs in one work_dir would overwrite and delete each other's "
        "checkpoints: wait for that run to end (or stop it), or give this run another work_dir "
        "(hooks-train --work-dir DIR)."
    )


def _warn_unlocked(logger: logging.Logger, work_dir: str, reason: str) -> None:
    logger.warning(
        "%s: training into %s unlocked, so a second run training there is not detected and "
        "temporary files that killed writers left there are not removed",
        reason,
        work_dir,
    )


def _size(count: int) -> str:
    """A byte count for people: ``512 bytes``, ``1.08 GB``."""
    if count < 1000:
        return f"{count} bytes"
    value = float(count)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.2f} {unit}"
