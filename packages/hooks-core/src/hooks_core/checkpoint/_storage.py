"""Checkpoints on object storage: fsspec URLs (``s3://``, ``memory://``, ``file://``...).

Every checkpoint function that takes a path also takes a URL; this module is
what they do with one. An object store has no rename, and some stores show an
object while it is being written, so a write goes to a temporary key beside
its target (``.NAME.<token>.tmp``), and only a complete temporary object is
moved onto the target's key (a server-side copy on S3). The runner and
`CheckpointHook` write the ``last_checkpoint`` pointer the same way, after the
checkpoint: a writer killed mid-upload leaves the previous checkpoint and
pointer as they were, plus at most a temporary key that no reader looks at
(on S3, an abandoned multipart upload is aborted when the failure is an error
rather than a kill). Local paths never come here: they keep the fsync and
rename of `write_atomically`.

MMEngine's ``backend_args`` become fsspec storage options: the optional
``backend`` key (``'fsspec'``, or the URL's protocol such as ``'s3'``) is
dropped and every other key goes to the filesystem, e.g. s3fs's
``endpoint_url``, ``key``, ``secret``, ``client_kwargs``. Without them, what
fsspec is configured with applies (``FSSPEC_S3_KEY``-style environment
variables, ``~/.config/fsspec``), then the store's own defaults (AWS's
environment variables and profiles for s3fs). fsspec and s3fs are imported on
first use of a URL, so local runs never import them.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, Any

__all__ = ["is_url", "check_storage_args", "remove_file"]

# The `backend` names of MMEngine's own clients, which fsspec options cannot stand for.
_MMENGINE_CLIENTS = ("petrel", "memcached", "lmdb")
# Protocols whose fsspec implementation is the `s3` extra.
_S3_PROTOCOLS = ("s3", "s3a")
# The local mirror of a URL work_dir: where its logs, config and lock go (see resolve_work_dir).
MIRROR_ROOT = "work_dirs"


def is_url(path: str | os.PathLike[str] | None) -> bool:
    """Whether `path` is a URL (``s3://``, ``memory://``, ``file://``...), not a local path."""
    return path is not None and "://" in os.fspath(path)


def check_storage_args(
    path: str | os.PathLike[str] | None,
    file_client_args: Mapping[str, Any] | None = None,
    backend_args: Mapping[str, Any] | None = None,
    owner: str = "",
) -> dict[str, Any] | None:
    """Check MMEngine's storage options for `path` and return the ones to use.

    For a local path, only local options (``dict(backend='local')``, or none)
    are accepted, as `check_local_path` says. For a URL, or a `path` not known
    yet (None), any fsspec storage options are; ``backend`` may name
    ``'fsspec'`` or the URL's protocol. `file_client_args` is MMEngine's older
    name: a `FutureWarning` says so.

    Returns:
        The options given (`backend_args`, else `file_client_args`) as a new
        dict, or None when neither is given.

    Raises:
        ValueError: both are given, the options take a client of MMEngine's
            own (``petrel``...), another protocol than the URL's, the local
            backend for a URL, or remote options for a local path.
        TypeError: the options are not a dict.
    """
    from ._io import _refuse_both, _report, check_local_path

    who = f"{owner} " if owner else ""
    _refuse_both(file_client_args, backend_args, who)
    name, args = (
        ("backend_args", backend_args)
        if backend_args is not None
        else ("file_client_args", file_client_args)
    )
    if args is None:
        return None
    if not isinstance(args, Mapping):
        raise TypeError(f"{who}{name} must be a dict, got {args!r}")
    backend = args.get("backend")
    if backend in _MMENGINE_CLIENTS:
        raise ValueError(
            f"{who}{name} asks for MMEngine's {backend!r} client, which is not supported: give "
            "a URL with fsspec storage options instead, e.g. "
            "backend_args=dict(backend='s3', endpoint_url=..., key=..., secret=...)"
        )
    if path is not None and not is_url(path):
        _check_local_options(os.fspath(path), name, args, who)
        check_local_path(path, file_client_args, backend_args, owner)  # the rest, and the warning
        return dict(args)
    if path is not None:
        storage_options(os.fspath(path), args, f"{who}{name}")
    if file_client_args is not None:
        _report(f"{who}file_client_args is MMEngine's deprecated name: use backend_args", None,
                FutureWarning)  # fmt: skip
    return dict(args)


def _check_local_options(path: str, name: str, args: Mapping[str, Any], who: str) -> None:
    """Refuse remote storage options for a local `path`, saying that a URL would take them."""
    from ._io import _LOCAL_BACKENDS

    backend = args.get("backend")
    options = sorted(set(args) - {"backend"})
    if backend in _LOCAL_BACKENDS and not options:
        return
    given = f"the {backend!r} backend" if backend not in _LOCAL_BACKENDS else f"options {options}"
    raise ValueError(
        f"{who}{name} gives {given} for the local path {path!r}; storage options apply to a "
        "URL only: give one (s3://bucket/folder, memory://folder...), or drop them"
    )


def storage_options(
    url: str, backend_args: Mapping[str, Any] | None, what: str = ""
) -> dict[str, Any]:
    """The fsspec storage options for `url` from MMEngine-style `backend_args` (a new dict).

    Raises:
        ValueError: ``backend`` names the local disk or another protocol than the URL's.
    """
    options = dict(backend_args or {})
    backend = options.pop("backend", None)
    protocol = _protocol(url)
    if backend not in (None, "fsspec", protocol):
        raise ValueError(
            f"{what or 'backend_args'} names the {backend!r} backend, but {url!r} is "
            f"{protocol}:// storage: drop 'backend', or set it to {protocol!r}"
        )
    return options


def _protocol(url: str) -> str:
    """The protocol of the storage `url` is on (the last of a chain: ``simplecache::s3://``)."""
    return url.split("::")[-1].split("://")[0]


def join(folder: str, name: str) -> str:
    """`name` inside the URL `folder`."""
    return posixpath.join(folder, name) if folder.endswith("/") else f"{folder}/{name}"


def filesystem(url: str, backend_args: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec filesystem of `url` (fsspec caches them) and the path inside it.

    Raises:
        ModuleNotFoundError: fsspec, or the store's implementation (s3fs), is
            missing; the message says what to install.
    """
    options = storage_options(url, backend_args)
    try:
        import fsspec.core  # type: ignore[import-untyped]  # untyped, imported on first use
    except ImportError as err:
        raise _missing(url, "fsspec", err) from err
    try:
        found: tuple[Any, str] = fsspec.core.url_to_fs(url, **options)
    except ImportError as err:  # fsspec's own message names the missing package
        raise _missing(url, getattr(err, "name", None) or "", err) from err
    return found


def _missing(url: str, module: str, err: ImportError) -> ModuleNotFoundError:
    """The error for a missing fsspec or store implementation, with what to install."""
    from ..registry._first_party import pip_install

    protocol = _protocol(url)
    if module == "fsspec" or protocol in _S3_PROTOCOLS:
        module = module or "s3fs"
        fix = pip_install("hooks-core[s3]")
    else:
        fix = f"install the fsspec implementation of {protocol}:// (fsspec says: {err})"
    return ModuleNotFoundError(
        f"checkpoints at {url} need {module or 'another package'}: {fix}", name=module or None
    )


def write_atomically(
    url: str, write: Callable[[IO[bytes]], Any], backend_args: Mapping[str, Any] | None = None
) -> None:
    """Write the object `url` through a temporary key, so readers never see it half done.

    `write` gets the open temporary object. Only once it is complete (closed:
    uploaded) is it moved onto `url`. On any failure the temporary object is
    discarded (an S3 multipart upload aborted) and removed, `url` keeps its
    previous content, and an `OSError` naming `url` is raised, chained to the
    cause (the store's error, or the first write's).
    """
    import contextlib
    import uuid

    from ._io import _FailureRecorder

    fs, target = filesystem(url, backend_args)
    folder, _, name = target.rpartition("/")
    temporary = f"{folder}/.{name}.{uuid.uuid4().hex[:12]}.tmp" if folder else f".{name}.tmp"
    file: Any = None
    recorder: _FailureRecorder | None = None
    try:
        file = fs.open(temporary, "wb")
        recorder = _FailureRecorder(file)
        write(recorder)  # type: ignore[arg-type]  # a file object in all but its class
        if recorder.error is not None:  # the writer swallowed it and went on
            raise recorder.error
        file.close()  # the upload completes here
        fs.mv(temporary, target)
    except BaseException as err:
        if file is not None:
            _abandon(file)
        with contextlib.suppress(Exception):
            fs.rm_file(temporary)
        if not isinstance(err, Exception):
            raise
        failure = recorder.error if recorder is not None and recorder.error else err
        raise _write_error(url, failure) from failure


def _abandon(file: Any) -> None:
    """Throw away a half-written object: abort its upload, then close it without committing."""
    import contextlib

    with contextlib.suppress(Exception):
        file.discard()  # s3fs: abort the multipart upload; a no-op where there is none
    with contextlib.suppress(Exception):
        file.close()  # fails once discarded, which is the point: nothing more is sent


def _write_error(url: str, err: BaseException) -> OSError:
    reason = (err.strerror if isinstance(err, OSError) else None) or f"{type(err).__name__}: {err}"
    message = f"could not write {url}: {reason}; any earlier object of that name is unchanged"
    code = err.errno if isinstance(err, OSError) else None
    return OSError(code, message) if code is not None else OSError(message)


def load(
    url: str,
    map_location: Any,
    weights_only: bool,
    backend_args: Mapping[str, Any] | None = None,
    verify: bool = True,
) -> Any:
    """`load_checkpoint_file` for a URL: read the object, check its checksum, `torch.load` it.

    The bytes are read into memory once; `verify=False` skips the checksum (a
    cheap look at ``meta``, as `_peek_meta` does for a file).
    """
    import io

    from ._io import _torch_load, _verify_stream

    data = read_bytes(url, backend_args, "checkpoint file not found")
    source = io.BytesIO(data)
    intact = _verify_stream(source, len(data), url) if verify else False
    source.seek(0)
    return _torch_load(url, intact, source=source, map_location=map_location,
                       weights_only=weights_only)  # fmt: skip


def read_bytes(
    url: str, backend_args: Mapping[str, Any] | None = None, missing: str = "not found"
) -> bytes:
    """The content of the object `url`; `FileNotFoundError` (saying `missing`) if there is none."""
    import errno

    fs, path = filesystem(url, backend_args)
    try:
        data: bytes = fs.cat_file(path)
    except FileNotFoundError as err:
        raise FileNotFoundError(errno.ENOENT, missing, url) from err
    return data


def is_file(url: str, backend_args: Mapping[str, Any] | None = None) -> bool:
    """Whether the object `url` exists."""
    fs, path = filesystem(url, backend_args)
    return bool(fs.isfile(path))


def remove_file(path: str, backend_args: Mapping[str, Any] | None = None) -> bool:
    """Remove a file or, for a URL, an object; one already gone is fine. True if it was there.

    `backend_args` are the storage options of a URL (see `check_storage_args`).
    """
    if not is_url(path):
        try:
            os.remove(path)
        except FileNotFoundError:
            return False
        return True
    fs, key = filesystem(path, backend_args)
    try:
        fs.rm_file(key)
    except FileNotFoundError:
        return False
    return True


def copy(source: str, target: str, backend_args: Mapping[str, Any] | None = None) -> None:
    """Copy the object `source` to `target` on the same store (server-side where it can)."""
    fs, source_key = filesystem(source, backend_args)
    fs.copy(source_key, filesystem(target, backend_args)[1])


def checkpoints_in(folder: str) -> list[tuple[str, float]]:
    """The ``*.pth`` objects in the URL `folder`, with their times (0 where the store has none)."""
    fs, path = filesystem(folder)
    found = []
    for key, info in fs.glob(join(path, "*.pth"), detail=True).items():
        if info.get("type") != "file":
            continue
        modified = info.get("LastModified") or info.get("mtime") or info.get("created")
        stamp = modified.timestamp() if hasattr(modified, "timestamp") else float(modified or 0)
        found.append((join(folder, posixpath.basename(key)), stamp))
    return sorted(found)


def resolve_work_dir(work_dir: str | os.PathLike[str]) -> tuple[str, str]:
    """The local folder of a run and where its checkpoints and ``last_checkpoint`` go.

    A local `work_dir` is both (made absolute). A URL's checkpoints go to the
    URL; the logs, the dumped config and the work_dir's lock need a local folder
    that files can be appended to and locked, so they go to a mirror:
    ``work_dirs/<protocol>/<the URL's path>`` below the current directory
    (``file://`` URLs: their own folder), the same for every run of that URL,
    so a resumed run's logs land next to the first run's.
    """
    path = os.fspath(work_dir)
    if not is_url(path):
        folder = os.path.abspath(path)
        return folder, folder
    storage = path.split("::")[-1]
    protocol, _, rest = storage.partition("://")
    if protocol in ("file", "local") and "::" not in path:
        return os.path.abspath(rest), path
    parts = [part for part in rest.split("/") if part not in ("", ".", "..")]
    return os.path.abspath(os.path.join(MIRROR_ROOT, protocol, *parts)), path
