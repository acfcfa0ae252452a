"""Checkpoint files: atomic save, safe load, the ``last_checkpoint`` pointer.

A checkpoint is first written to a temporary file next to its target, flushed
to disk, then renamed over the target, so a crash never leaves a truncated file
under a checkpoint's name; a failed write says which file and why. Every
checkpoint carries a SHA-256 of its content, checked when it is loaded, so a file
damaged later is refused by name instead of resuming silently from corrupt state.
Loading uses ``torch.load(weights_only=True)``, which refuses to run code stored in
the file, unless the caller explicitly opts out. None of this needs a runner.
Torch and numpy are imported inside the functions, so importing this module
stays cheap. Every path may also be a URL (``s3://``, ``memory://``...), which
`_storage` writes and reads through fsspec.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Mapping

from ..model._wrapper import unwrap_model
from . import _storage
from ._storage import check_storage_args, is_url, remove_file

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    import io
    from collections.abc import Callable, Sequence
    from typing import IO, Any

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "load_checkpoint_file",
    "update_last_checkpoint",
    "point_latest",
    "find_latest_checkpoint",
    "read_last_checkpoint",
    "write_atomically",
    "weights_to_cpu",
    "load_state_dict",
    "get_state_dict",
    "check_local_path",
    "check_storage_args",
    "is_url",
    "remove_file",
]

# The pointer file in a work dir that names the newest complete checkpoint (MMEngine's name).
LAST_CHECKPOINT = "last_checkpoint"


# ------------------------------------------------------------ files
def save_checkpoint(
    checkpoint: dict[str, Any],
    filename: str | os.PathLike[str],
    file_client_args: Mapping[str, Any] | None = None,
    backend_args: Mapping[str, Any] | None = None,
    *,
    sync_folder: bool = True,
) -> None:
    """Write `checkpoint` with `torch.save` atomically, so `filename` is always complete.

    The data goes to a temporary file in the same folder, which is flushed,
    fsynced and then renamed onto `filename`; the parent folder is created if
    needed, and synced so the rename survives a power cut (`sync_folder=False`
    leaves that to `update_last_checkpoint`, which syncs it once for the
    checkpoint and the pointer). If anything fails, the temporary file is
    removed, a previous file at `filename` is left untouched and the error
    propagates. `filename` may be a URL (``s3://bucket/run/epoch_1.pth``): see
    `check_storage_args` for what `file_client_args` and `backend_args`
    (MMEngine's storage options) then mean; for a local path they change nothing.
    """
    options = check_storage_args(filename, file_client_args, backend_args)
    write_atomically(filename, lambda file: _write_checkpoint(checkpoint, file), options,
                     sync_folder=sync_folder)  # fmt: skip


def _write_checkpoint(checkpoint: Any, file: IO[bytes]) -> None:
    """`torch.save` `checkpoint` to `file`, front to back, with its checksum as the comment.

    A store's object (a URL's) cannot be written at an offset, so the file
    gets the same bytes in the same order whether it is local or not.
    """
    import torch

    writer = _ChecksummedWriter(file)
    torch.save(checkpoint, writer)  # type: ignore[arg-type]  # it only writes and flushes
    writer.finish()


class CheckpointError(RuntimeError):
    """A checkpoint file that is damaged or is no torch checkpoint: empty, truncated, altered.

    A `RuntimeError`, as torch's own report of a corrupt archive is, so handlers
    written for that keep working. `filename` is the file and `problem` what is
    wrong with it; the message adds what to do. Torch's error, if any, is the cause.
    """

    def __init__(
        self,
        problem: str,
        filename: str | None = None,
        fix: str = "Resume from another checkpoint, or restore this file from a copy",
    ) -> None:
        super().__init__(f"{problem}. {fix}")
        self.problem = problem
        self.filename = filename


# ------------------------------------------------------------ checksums
# Where the checksum lives, and why there: a torch checkpoint is a zip archive, and a
# zip archive ends with a record (EOCD, 22 bytes) whose last field is the length of a
# free-form comment that follows it. `save_checkpoint` hashes every byte torch writes
# (SHA-256, while they stream to the file) and then stores the digest as that comment.
# The file stays one ordinary archive: `torch.load` (with or without mmap), python's
# `zipfile` and copies made with `shutil` read it as before, while a sidecar file
# would be lost whenever a checkpoint is copied alone. The digest covers the archive
# exactly as torch wrote it, i.e. with an empty comment. Files without such a comment
# (older ones, MMEngine's) load unverified, as before.
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_CHECKSUM_TAG = b"hooks-core sha256 "
_COMMENT_SIZE = len(_CHECKSUM_TAG) + 64  # the tag and a hex digest
_EMPTY_COMMENT = b"\0\0"


# Archives up to this size are serialized in memory and written with one call; larger ones
# stream to the file as torch writes them. Beyond that size the Python call per record
# torch writes is small next to the bytes, and a larger buffer only copies more weights.
_IN_MEMORY_LIMIT = 4 << 20


class _ChecksummedWriter:
    """What `torch.save` writes a checkpoint to: it hashes the archive, `finish` adds the digest.

    The archive is kept in memory while it holds at most `limit` bytes (torch
    writes it a record at a time, and a small save is then one write to
    `file`); a larger one streams to `file` from there on, so a save never
    holds a second copy of big weights. Either way the last two bytes (the
    archive's empty comment length) are held back and `finish` writes the
    checksum comment in their place, so `file` is written front to back once,
    which a store's object needs.
    """

    __slots__ = ("_file", "_held", "_limit", "_memory", "_sha", "_tail")

    def __init__(self, file: IO[bytes], limit: int = _IN_MEMORY_LIMIT) -> None:
        import hashlib
        import io

        self._file = file
        self._limit = limit
        self._memory: io.BytesIO | None = io.BytesIO()
        self._sha = hashlib.sha256()  # releases the GIL for large writes (async saves)
        self._held = b""  # the last bytes streamed, not yet passed on
        self._tail = b""  # the archive's last bytes streamed, for `_checksum_comment`

    def write(self, data: Any) -> int:
        memory = self._memory
        if memory is not None:
            written = memory.write(data)
            if memory.tell() > self._limit:
                self._spill()
            return written
        return self._stream(memoryview(data).cast("B"))

    def _spill(self) -> None:
        """Stream what memory holds and stream from now on."""
        assert self._memory is not None
        buffer, self._memory = self._memory, None
        self._stream(buffer.getbuffer())

    def _stream(self, view: memoryview) -> int:
        self._sha.update(view)
        self._tail = (self._tail + view[-_EOCD_SIZE:].tobytes())[-_EOCD_SIZE:]
        if len(view) >= len(_EMPTY_COMMENT):
            if self._held:
                self._file.write(self._held)
            self._file.write(view[: -len(_EMPTY_COMMENT)])
            self._held = view[-len(_EMPTY_COMMENT) :].tobytes()
        else:
            joined = self._held + view.tobytes()
            self._file.write(joined[: -len(_EMPTY_COMMENT)])
            self._held = joined[-len(_EMPTY_COMMENT) :]
        return len(view)

    def flush(self) -> None:
        if self._memory is None:
            self._file.flush()

    def finish(self) -> None:
        """Write what is left, the checksum comment in place of the held bytes.

        An archive that does not end as torch's do gets its own bytes back instead.
        """
        if self._memory is not None:  # a small archive: hashed and written at once
            self._spill()
        comment = _checksum_comment(self._sha.hexdigest(), self._tail)
        self._file.write(self._held if comment is None else comment)


def _checksum_comment(digest: str, tail: bytes) -> bytes | None:
    """The bytes that replace an archive's empty comment length: a length and the digest.

    None when `tail`, the archive's last bytes, does not end as torch's archives do,
    so the file is left as torch wrote it.
    """
    if not (tail.startswith(_EOCD) and tail.endswith(_EMPTY_COMMENT)):
        return None
    comment = _CHECKSUM_TAG + digest.encode("ascii")
    return struct.pack("<H", len(comment)) + comment


def _verify_checksum(path: str) -> bool:
    """Check the file's stored SHA-256; True when it matches, False when the file has none.

    Reads the file once. Raises `CheckpointError` for an empty file or a digest that
    differs; a file that cannot be opened raises its `OSError` (permissions, a folder).
    """
    with open(path, "rb") as file:
        return _verify_stream(file, os.fstat(file.fileno()).st_size, path)


def _verify_stream(file: io.BufferedIOBase, size: int, path: str) -> bool:
    """`_verify_checksum` of the open `file` of `size` bytes, named `path` in errors."""
    import hashlib

    if size == 0:
        raise CheckpointError(
            f"checkpoint {path!r} is empty (0 bytes): it was truncated, or the copy or "
            "download that made it did not finish",
            path,
        )
    end = _EOCD_SIZE + _COMMENT_SIZE
    if size < end:
        return False
    file.seek(size - end)
    record = file.read(end)
    if not (
        record.startswith(_EOCD)
        and record[_EOCD_SIZE - 2 : _EOCD_SIZE] == struct.pack("<H", _COMMENT_SIZE)
        and record[_EOCD_SIZE:].startswith(_CHECKSUM_TAG)
    ):
        return False
    expected = record[_EOCD_SIZE + len(_CHECKSUM_TAG) :].decode("ascii", "replace")
    sha = hashlib.sha256()
    file.seek(0)
    remaining = size - _COMMENT_SIZE - len(_EMPTY_COMMENT)  # up to the comment's length
    buffer = memoryview(bytearray(1 << 20))
    while remaining:
        count = file.readinto(buffer[: min(remaining, len(buffer))])
        if not count:  # shrank while being read
            break
        sha.update(buffer[:count])
        remaining -= count
    sha.update(_EMPTY_COMMENT)
    found = sha.hexdigest()
    if remaining or found != expected:
        raise CheckpointError(
            f"checkpoint {path!r} was damaged after it was written: the SHA-256 of its "
            f"content is {found}, but {expected} was recorded when it was saved",
            path,
        )
    return True


# The backend names of MMEngine's local file backends.
_LOCAL_BACKENDS = (None, "local", "disk")


def check_local_path(
    path: str | os.PathLike[str] | None,
    file_client_args: Mapping[str, Any] | None = None,
    backend_args: Mapping[str, Any] | None = None,
    owner: str = "",
) -> None:
    """Refuse what only MMEngine's remote file backends could do, naming `owner` in the error.

    For what writes only local files (logs). Local storage options
    (``dict(backend='local')``, or none) are accepted and change nothing;
    checkpoints also take URLs, see `check_storage_args`. Like MMEngine,
    `file_client_args` gets a `FutureWarning`: it is the older name.

    Raises:
        ValueError: both `file_client_args` and `backend_args` are given (MMEngine
            refuses that too), either selects another backend or takes options only
            remote storage has, or `path` is a URL (``s3://``, ``http://``, ...).
        TypeError: `file_client_args` or `backend_args` is not a dict.
    """
    who = f"{owner} " if owner else ""
    _refuse_both(file_client_args, backend_args, who)
    for name, args in (("file_client_args", file_client_args), ("backend_args", backend_args)):
        if args is None:
            continue
        if not isinstance(args, Mapping):
            raise TypeError(f"{who}{name} must be a dict, got {args!r}")
        if args.get("backend") not in _LOCAL_BACKENDS:
            raise ValueError(
                f"{who}{name} asks for the {args['backend']!r} storage backend; remote storage "
                "is not supported yet: give a local or mounted path, with "
                "backend_args=dict(backend='local') or none"
            )
        if options := sorted(set(args) - {"backend"}):
            raise ValueError(
                f"{who}{name} has options {options} that only remote storage takes; remote "
                "storage is not supported yet: drop them and give a local or mounted path"
            )
    if path is not None and "://" in os.fspath(path):
        raise ValueError(
            f"{who}{os.fspath(path)!r} is remote storage; remote storage is not supported yet: "
            "give a local or mounted path"
        )
    if file_client_args is not None:
        _report(f"{who}file_client_args is MMEngine's deprecated name: use backend_args", None,
                FutureWarning)  # fmt: skip


def _refuse_both(file_client_args: Any, backend_args: Any, who: str) -> None:
    """MMEngine refuses both names of the storage options at once; so do we."""
    if file_client_args is not None and backend_args is not None:
        raise ValueError(
            f"{who}takes file_client_args or backend_args, not both: file_client_args is the "
            "deprecated name; keep backend_args"
        )


def load_checkpoint(
    model: Any,
    filename: str | os.PathLike[str],
    map_location: Any = None,
    strict: bool = False,
    logger: Any = None,
    revise_keys: Sequence[tuple[str, str]] = ((r"^module\.", ""),),
    weights_only: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint file's weights into `model` and return the whole checkpoint (MMEngine's).

    The weights are the checkpoint's ``state_dict`` entry, or the file itself
    when it has none (a bare state dict). Keys the model lacks or misses are
    reported to `logger` (a `logging.Logger`) or, without one, as a warning.
    Unlike MMEngine's, the file is loaded safely unless `weights_only=False`.
    """
    checkpoint = load_checkpoint_file(filename, map_location, weights_only)
    state_dict = checkpoint.get("state_dict", checkpoint)
    missing, unexpected = load_state_dict(model, state_dict, strict, logger, revise_keys)
    problems = [
        f"{what} in {os.fspath(filename)}: {', '.join(keys)}"
        for what, keys in (("missing keys", missing), ("unexpected keys", unexpected))
        if keys
    ]
    if problems:
        _report("; ".join(problems), logger)
    return checkpoint


def _report(
    message: str, logger: Any, category: type[Warning] = UserWarning, depth: int = 1
) -> None:
    """Warn through `logger` if one is given, else by `warnings.warn` in the user's code.

    The user's code is `depth` frames above `_report`'s caller: 1 when that caller
    is the public function the user called.
    """
    if logger is not None:
        logger.warning(message)
        return
    import warnings

    warnings.warn(message, category, stacklevel=2 + depth)


def load_checkpoint_file(
    filename: str | os.PathLike[str],
    map_location: Any = "cpu",
    weights_only: bool = True,
    *,
    backend_args: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Load a checkpoint with `torch.load`, safely (no code from the file runs) by default.

    A checkpoint written by `save_checkpoint` is first checked against the SHA-256
    stored in it, which costs one read of the file; one without (an older file,
    MMEngine's) is loaded as it is.

    Args:
        filename: The checkpoint file, or its URL (``s3://bucket/run/epoch_1.pth``),
            whose bytes are read into memory and checked the same way.
        map_location: Where to put the tensors, as for `torch.load`.
        weights_only: Keep True unless you trust the file: False unpickles
            arbitrary objects and so runs any code the file contains.
        backend_args: A URL's storage options (see `check_storage_args`).

    Raises:
        FileNotFoundError: `filename` does not exist.
        CheckpointError: the file is empty, truncated, no torch checkpoint, or
            differs from what was saved; the message says which.
        pickle.UnpicklingError: the safe load met an object it refuses; the
            message says which one and how to opt out.
    """
    import errno

    path = os.fspath(filename)
    if is_url(path):
        loaded: dict[str, Any] = _storage.load(path, map_location, weights_only, backend_args)
        return loaded
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "checkpoint file not found", path)
    intact = _verify_checksum(path)
    checkpoint: dict[str, Any] = _torch_load(
        path, intact, map_location=map_location, weights_only=weights_only
    )
    return checkpoint


def _peek_meta(path: str) -> Any:
    """The ``meta`` entry of checkpoint `path`, reading no tensor data (an mmap load); else None.

    The file is not verified, so this is cheap. Raises `CheckpointError` for a file
    torch cannot read as a checkpoint. A URL's object is read whole, unverified.
    """
    if is_url(path):
        checkpoint = _storage.load(path, "cpu", True, verify=False)
        return checkpoint.get("meta") if isinstance(checkpoint, dict) else None
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"checkpoint {path!r} is empty (0 bytes)", path)
    checkpoint = _torch_load(path, False, map_location="cpu", weights_only=True, mmap=True)
    return checkpoint.get("meta") if isinstance(checkpoint, dict) else None


# What torch raises for bytes that are no (complete) checkpoint; a damaged pickle can
# make the unpickler fail in more ways than torch's archive reader.
_DAMAGE_ERRORS = (OSError, EOFError, RuntimeError, LookupError, ValueError)


def _torch_load(path: str, intact: bool, source: io.BytesIO | None = None, **options: Any) -> Any:
    """`torch.load` with its errors explained: damage for an unverified file, else as raised.

    `intact` says the file matched its stored checksum: it is exactly what was
    saved, so a failure then is not damage and keeps torch's own error. `source`
    holds the bytes of `path` when they came from a store.
    """
    import pickle

    import torch

    try:
        return torch.load(path if source is None else source, **options)
    except pickle.UnpicklingError as err:
        message = str(err)
        safe_load_failed = options.get("weights_only") and "Weights only load failed" in message
        # A safe load refuses objects by name; garbage fails on opcodes instead.
        if safe_load_failed and (intact or "GLOBAL " in message or "allowlisted" in message):
            raise pickle.UnpicklingError(_unsafe_file_message(path, message)) from err
        if intact:
            raise
        raise _unreadable(path, err, source) from err
    except _DAMAGE_ERRORS as err:
        if intact:
            raise
        raise _unreadable(path, err, source) from err


def _unreadable(path: str, err: BaseException, source: io.BytesIO | None) -> CheckpointError:
    """The error for a file torch cannot read, with the first sentence of torch's reason."""
    reason = str(err).split("WeightsUnpickler error:")[-1].strip().split(". ")[0].split("\n")[0]
    size = os.path.getsize(path) if source is None else source.getbuffer().nbytes
    return CheckpointError(
        f"checkpoint {path!r} ({size} bytes) is truncated or is not a torch checkpoint "
        f"(torch: {type(err).__name__}: {reason})",
        path,
    )


def _unsafe_file_message(path: str, torch_message: str) -> str:
    """Explain a refused safe load: what the file needs and the two ways forward."""
    import re

    found = re.search(r"GLOBAL ([\w.]+)", torch_message)
    blocked = re.search(r"whose module ([\w.]+) is blocked", torch_message)
    what = f"the global {found.group(1)!r}" if found else "objects"
    message = (
        f"checkpoint {path!r} contains {what}, which a safe load "
        "(torch.load(weights_only=True)) refuses because unpickling it could run "
        "arbitrary code. Only if you trust the file's source, load it with "
        "weights_only=False."
    )
    if found and blocked:
        message += f" Torch never allows globals from module {blocked.group(1)!r}."
    elif found:
        name = found.group(1)
        message += (
            f" Alternatively, keep the safe load and allow this one type with "
            f"torch.serialization.add_safe_globals([{name}])."
        )
    else:
        message += " Torch's own message is in the cause below."
    return message


def update_last_checkpoint(
    work_dir: str | os.PathLike[str],
    filename: str | os.PathLike[str],
    backend_args: Mapping[str, Any] | None = None,
) -> None:
    """Point ``work_dir/last_checkpoint`` at `filename`, atomically, for auto-resume.

    Call this only after the checkpoint itself has been written, so the pointer
    never names an incomplete file. The absolute path (or the URL) is stored,
    so resuming works from any current directory. Either may be a URL;
    `backend_args` are its storage options (see `check_storage_args`).

    A local pointer is overwritten in place and synced, then the folders of
    the pointer and of a local `filename` are synced, so after a power cut the
    rename of `filename` and the new pointer are both there. In place costs a
    third of a new file renamed over the old one (no inode made, no name
    changed). A crash in the middle of the pointer's update leaves the old
    path, the new one, or bytes naming no file; resuming then takes the newest
    intact checkpoint, as it does for an empty pointer or one whose file is
    gone. A pointer on a store is replaced through a temporary key.
    """
    name = os.fspath(filename)
    target = name if is_url(name) else os.path.abspath(name)
    pointer = _pointer(work_dir)
    data = target.encode("utf-8")
    synced = None  # the local folder synced for the pointer
    if is_url(pointer):
        write_atomically(pointer, lambda f: f.write(data), backend_args)
    else:
        _overwrite(pointer, data)
        synced = os.path.dirname(os.path.abspath(pointer))
        fsync_directory(synced)
    if is_url(target):
        return
    folder = os.path.dirname(target)
    if folder != synced:
        fsync_directory(folder)  # the pointer's sync covered only its own folder


def _overwrite(path: str, data: bytes) -> None:
    """Write `data` over the start of file `path` (made if missing), cut it there, and sync it."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0)
    try:
        try:
            fd = os.open(path, flags, 0o666)
        except FileNotFoundError:  # its folder is missing: made once, not checked at every save
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            fd = os.open(path, flags, 0o666)
        try:
            view = memoryview(data)
            while view:  # a regular file takes it all at once; a short write goes on
                view = view[os.write(fd, view) :]
            os.ftruncate(fd, len(data))
            getattr(os, "fdatasync", os.fsync)(fd)
        finally:
            os.close(fd)
    except OSError as err:
        raise _write_error(os.path.abspath(path), err) from err


def _pointer(work_dir: str | os.PathLike[str]) -> str:
    folder = os.fspath(work_dir)
    return (
        _storage.join(folder, LAST_CHECKPOINT)
        if is_url(folder)
        else os.path.join(folder, LAST_CHECKPOINT)
    )


def read_last_checkpoint(
    work_dir: str | os.PathLike[str], backend_args: Mapping[str, Any] | None = None
) -> str | None:
    """What ``work_dir/last_checkpoint`` says: a path, ``''`` if it is empty, None if absent.

    The path is not checked: it may name a file that no longer exists. Zero
    bytes around it (a file extended whose data a crash lost) are dropped like
    whitespace, and bytes that are not UTF-8 read as U+FFFD, so such a
    pointer names no file rather than failing to be read.
    """
    pointer = _pointer(work_dir)
    try:
        if is_url(pointer):
            data = _storage.read_bytes(pointer, backend_args)
        else:
            with open(pointer, "rb") as file:
                data = file.read()
    except FileNotFoundError:
        return None
    return data.decode("utf-8", "replace").strip(_PADDING)


_PADDING = "\0 \t\r\n\x0b\x0c"  # whitespace and the zeros of a lost extension


def checkpoint_exists(path: str, backend_args: Mapping[str, Any] | None = None) -> bool:
    """Whether `path` (a file, a sharded folder or a URL) is there."""
    return _storage.is_file(path, backend_args) if is_url(path) else os.path.exists(path)


def find_latest_checkpoint(
    work_dir: str | os.PathLike[str], backend_args: Mapping[str, Any] | None = None
) -> str | None:
    """Return the checkpoint ``work_dir/last_checkpoint`` names, or None if there is none.

    None when the pointer is missing or empty, or names a file that no longer
    exists; other files in `work_dir` are never guessed at (resuming does, see
    `hooks_core.runner`). Either may be a URL; `backend_args` are its storage
    options (see `check_storage_args`).
    """
    path = read_last_checkpoint(work_dir, backend_args)
    # A local folder is a sharded checkpoint (see `_distributed`), complete once named here.
    return path if path and checkpoint_exists(path, backend_args) else None


def write_atomically(
    filename: str | os.PathLike[str],
    write: Callable[[IO[bytes]], Any],
    backend_args: Mapping[str, Any] | None = None,
    *,
    sync_file: bool = True,
    sync_folder: bool = True,
) -> None:
    """Write a file through a temporary sibling and a rename, so readers never see it half done.

    `write` gets the open temporary file. If anything fails, the temporary file is
    removed and a previous file at `filename` is left untouched. A failure of the
    disk or the folder (full, over a size limit, read-only, denied) raises an
    `OSError` of the same errno that names `filename`, chained to the original;
    that includes one a writer such as `torch.save` caught and replaced by its own.
    A URL is written through a temporary key instead, with its storage options
    `backend_args` (see `check_storage_args`).

    Before the rename the file's bytes are synced to the disk, and after it the
    folder, so a power cut leaves the old file or the whole new one. A caller
    writing several files into one folder may sync it once (`sync_folder`), and
    one whose readers survive a lost file may skip syncing it (`sync_file`);
    both apply to local paths only.
    """
    if is_url(filename):
        _storage.write_atomically(os.fspath(filename), write, backend_args)
        return
    target = os.path.abspath(os.fspath(filename))
    folder, name = os.path.split(target)
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    recorder: _FailureRecorder | None = None
    in_writer = False  # an OSError the writer raises on its own is its business
    try:
        os.makedirs(folder, exist_ok=True)
        with open(temporary, "wb") as file:
            recorder = _FailureRecorder(file)
            in_writer = True
            write(recorder)  # type: ignore[arg-type]  # a file object in all but its class
            in_writer = False
            if recorder.error is not None:  # the writer swallowed it and went on
                raise recorder.error
            file.flush()
            if sync_file:
                os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException as err:
        import contextlib

        with contextlib.suppress(OSError):
            os.remove(temporary)
        failure = recorder.error if recorder is not None else None
        if failure is None and isinstance(err, OSError) and not in_writer:
            failure = err
        if failure is None or not isinstance(err, Exception):
            raise
        raise _write_error(target, failure) from failure
    if sync_folder:
        fsync_directory(folder)


class _FailureRecorder:
    """The temporary file as `write_atomically`'s writer sees it; keeps the OSError of a write.

    `torch.save` turns an OSError raised by ``write`` into a RuntimeError about
    positions; the recorded error tells what really failed.
    """

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        return self._record(self._file.write, data)  # type: ignore[no-any-return]

    def flush(self) -> None:
        self._record(self._file.flush)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._record(self._file.seek, offset, whence)  # type: ignore[no-any-return]

    def _record(self, method: Callable[..., Any], *args: Any) -> Any:
        try:
            return method(*args)
        except OSError as err:
            self.error = err
            raise

    def __getattr__(self, name: str) -> Any:  # tell, fileno, ...
        return getattr(self._file, name)


# What to do about a failed write, by errno.
_WRITE_FIXES = {
    "ENOSPC": "free disk space or save elsewhere",
    "EDQUOT": "free space within the disk quota or save elsewhere",
    "EFBIG": "over the file-size limit of the process, see ulimit -f, or of the file system",
    "EACCES": "check the folder's permissions or save elsewhere",
    "EPERM": "check the folder's permissions or save elsewhere",
    "EROFS": "the file system is read-only: save elsewhere",
}


def _write_error(target: str, err: OSError) -> OSError:
    """An OSError of `err`'s errno (and so its subclass) that names the file being written."""
    import errno

    reason = err.strerror or str(err)
    fix = _WRITE_FIXES.get(errno.errorcode.get(err.errno or 0, ""))
    message = f"could not write {target}: {reason}" + (f" ({fix})" if fix else "")
    message += "; any earlier file of that name is unchanged"
    return OSError(err.errno, message) if err.errno is not None else OSError(message)


def fsync_directory(folder: str) -> None:
    """Persist a rename in `folder`; best effort, as some platforms cannot open folders."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # e.g. EINVAL on file systems that do not sync folders
    finally:
        os.close(fd)


# ------------------------------------------------------------ state dicts
def weights_to_cpu(state_dict: Any, copy_tensors: bool = False) -> Any:
    """Return a copy of a (nested) state dict with every tensor on the CPU, for saving.

    Dicts (keeping their type, e.g. `OrderedDict`, and the ``_metadata`` that
    `Module.state_dict` attaches), lists and tuples are copied; tensors are
    detached and moved, which copies nothing for those already on the CPU;
    anything else is kept as it is.

    Args:
        state_dict: The (nested) state to convert.
        copy_tensors: Copy CPU tensors too, so the result stays as it is while
            training goes on changing the originals in place (for a write on
            another thread).
    """
    import torch

    def convert(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            if value.is_cpu and not value.requires_grad and not copy_tensors:
                return value  # what detach and `to` would give, without making two tensors
            return value.detach().to("cpu", copy=copy_tensors)
        if isinstance(value, dict):
            copy: Any = value.copy()  # keeps the dict's type, e.g. a defaultdict's factory
            for key, item in copy.items():
                copy[key] = convert(item)
            if hasattr(value, "_metadata"):
                copy._metadata = value._metadata
            return copy
        if isinstance(value, list):
            return [convert(item) for item in value]
        if isinstance(value, tuple):
            items = [convert(item) for item in value]
            return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
        return value

    return convert(state_dict)


def load_state_dict(
    module: Any,
    state_dict: dict[str, Any],
    strict: bool = False,
    logger: Any = None,
    revise_keys: Sequence[tuple[str, str]] = ((r"^module\.", ""),),
) -> tuple[list[str], list[str]]:
    """Load `state_dict` into `module` after renaming keys, e.g. dropping DDP's ``module.``.

    Args:
        module: The model; a `DataParallel`/`DistributedDataParallel` wrapper is
            unwrapped, so weights saved from a plain or a wrapped model both load.
        state_dict: The weights. It is not modified.
        strict: Raise if any key is missing, unexpected or has the wrong shape.
        logger: Where the warning about tensors of another shape goes (a
            `logging.Logger`); without one, `warnings.warn`.
        revise_keys: ``(pattern, replacement)`` regex substitutions applied in
            order to every key.

    Returns:
        ``(missing_keys, unexpected_keys)``. A tensor whose shape differs from
        the model's is not loaded: it counts as missing and, unless `strict`,
        a warning names it (a fine-tuned head with another number of classes).

    Raises:
        RuntimeError: with `strict`, listing the missing, unexpected and
            mismatched keys.
    """
    return _load_state_dict(module, state_dict, strict, logger, revise_keys)


def _load_state_dict(
    module: Any,
    state_dict: dict[str, Any],
    strict: bool,
    logger: Any,
    revise_keys: Sequence[tuple[str, str]],
    resuming_from: str | None = None,
) -> tuple[list[str], list[str]]:
    """`load_state_dict`; when `resuming_from` names the checkpoint, other shapes are an error.

    A resume continues the same model, so a tensor of another shape means the
    wrong checkpoint or config: it raises before anything is loaded.
    """
    import re
    from collections import OrderedDict

    import torch

    module = unwrap_model(module)

    def revise(key: str) -> str:
        for pattern, replacement in revise_keys:
            key = re.sub(pattern, replacement, key)
        return key

    revised: Any = OrderedDict((revise(key), value) for key, value in state_dict.items())
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:  # per-module versions, keyed by module prefix
        revised._metadata = OrderedDict((revise(key), value) for key, value in metadata.items())

    # Torch raises on a shape mismatch even with strict=False; MMEngine skips the tensor.
    own = module.state_dict()
    mismatched: dict[str, str] = {}
    for key, value in list(revised.items()):
        target = own.get(key)
        if (
            isinstance(value, torch.Tensor)
            and isinstance(target, torch.Tensor)
            and not torch.nn.parameter.is_lazy(target)
            and value.shape != target.shape
        ):
            mismatched[key] = (
                f"{key} (checkpoint {tuple(value.shape)}, model {tuple(target.shape)})"
            )
            del revised[key]
    shapes = ", ".join(mismatched.values())
    if mismatched and resuming_from is not None:
        raise RuntimeError(
            f"cannot resume from {resuming_from}: its tensors differ in shape from "
            f"{type(module).__name__}'s: {shapes}. A resume continues the same model: build "
            "it as the checkpoint's run did, or use load_from without resume to start from "
            "the weights that fit"
        )

    result = module.load_state_dict(revised, strict=False)
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if strict and (missing or unexpected):
        problems = []
        if mismatched:
            problems.append(f"shapes differ for {shapes}")
        if not_mismatched := [key for key in missing if key not in mismatched]:
            problems.append(f"missing keys: {', '.join(not_mismatched)}")
        if unexpected:
            problems.append(f"unexpected keys: {', '.join(unexpected)}")
        raise RuntimeError(
            f"state dict does not match {type(module).__name__}: {'; '.join(problems)}. "
            "Pass strict=False to load only the matching keys, or revise_keys to rename keys."
        )
    if mismatched:
        _report(
            f"not loaded into {type(module).__name__} because the shapes differ: {shapes}",
            logger,
            depth=2,  # the caller of load_state_dict
        )
    return missing, unexpected


def get_state_dict(
    module: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False
) -> Any:
    """The state dict of `module` without a DDP/DataParallel wrapper's ``module.`` prefix."""
    return unwrap_model(module).state_dict(
        destination=destination, prefix=prefix, keep_vars=keep_vars
    )


def point_latest(path: str, backend_args: Mapping[str, Any] | None = None) -> None:
    """Point ``latest.pth`` beside `path` at it, as MMCV does: a relative symlink, else a copy.

    On a store (a URL, with its storage options `backend_args`) it is a copy.
    """
    if is_url(path):
        _storage.copy(path, _storage.join(path.rpartition("/")[0], "latest.pth"), backend_args)
        return
    latest = os.path.join(os.path.dirname(path), "latest.pth")
    if os.path.lexists(latest):
        os.remove(latest)
    try:
        os.symlink(os.path.basename(path), latest)
    except OSError:
        shutil.copy(path, latest)
