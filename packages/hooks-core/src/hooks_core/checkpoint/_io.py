"""Checkpoint files: atomic save, safe load, the ``last_checkpoint`` pointer, RNG states.

A checkpoint is first written to a temporary file next to its target, flushed
to disk, then renamed over the target, so a crash never leaves a truncated file
under a checkpoint's name. Loading uses ``torch.load(weights_only=True)``, which
refuses to run code stored in the file, unless the caller explicitly opts out.
None of this needs a runner. Torch and numpy are imported inside the functions,
so importing this module stays cheap.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from ..model._wrapper import unwrap_model

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import IO, Any

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "load_checkpoint_file",
    "update_last_checkpoint",
    "point_latest",
    "find_latest_checkpoint",
    "write_atomically",
    "weights_to_cpu",
    "load_state_dict",
    "get_state_dict",
    "check_local_path",
    "get_rng_state",
    "set_rng_state",
]

# The pointer file in a work dir that names the newest complete checkpoint (MMEngine's name).
LAST_CHECKPOINT = "last_checkpoint"


# ------------------------------------------------------------ files
def save_checkpoint(
    checkpoint: dict[str, Any],
    filename: str | os.PathLike[str],
    file_client_args: dict[str, Any] | None = None,
    backend_args: dict[str, Any] | None = None,
) -> None:
    """Write `checkpoint` with `torch.save` atomically, so `filename` is always complete.

    The data goes to a temporary file in the same folder, which is flushed,
    fsynced and then renamed onto `filename`; the parent folder is created if
    needed. If anything fails, the temporary file is removed, a previous file at
    `filename` is left untouched and the error propagates. `file_client_args`
    and `backend_args` are MMEngine's storage options: accepted for a local path,
    where they change nothing (see `check_local_path`).
    """
    import torch

    check_local_path(filename, file_client_args, backend_args)
    write_atomically(filename, lambda file: torch.save(checkpoint, file))


# The backend names of MMEngine's local file backends.
_LOCAL_BACKENDS = (None, "local", "disk")


def check_local_path(
    path: str | os.PathLike[str] | None,
    file_client_args: Mapping[str, Any] | None = None,
    backend_args: Mapping[str, Any] | None = None,
    owner: str = "",
) -> None:
    """Refuse what only MMEngine's remote file backends could do, naming `owner` in the error.

    Local storage options (``dict(backend='local')``, or none) are accepted and
    change nothing; everything else waits for object-storage support. Like
    MMEngine, `file_client_args` gets a `FutureWarning`: it is the older name.

    Raises:
        ValueError: both `file_client_args` and `backend_args` are given (MMEngine
            refuses that too), either selects another backend or takes options only
            remote storage has, or `path` is a URL (``s3://``, ``http://``, ...).
        TypeError: `file_client_args` or `backend_args` is not a dict.
    """
    who = f"{owner} " if owner else ""
    if file_client_args is not None and backend_args is not None:
        raise ValueError(
            f"{who}takes file_client_args or backend_args, not both: file_client_args is the "
            "deprecated name; keep backend_args"
        )
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


def _report(message: str, logger: Any, category: type[Warning] = UserWarning) -> None:
    """Warn through `logger` if one is given, else by `warnings.warn` at the caller's caller."""
    if logger is not None:
        logger.warning(message)
        return
    import warnings

    warnings.warn(message, category, stacklevel=3)


def load_checkpoint_file(
    filename: str | os.PathLike[str],
    map_location: Any = "cpu",
    weights_only: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint with `torch.load`, safely (no code from the file runs) by default.

    Args:
        filename: The checkpoint file.
        map_location: Where to put the tensors, as for `torch.load`.
        weights_only: Keep True unless you trust the file: False unpickles
            arbitrary objects and so runs any code the file contains.

    Raises:
        FileNotFoundError: `filename` does not exist.
        pickle.UnpicklingError: the safe load met an object it refuses; the
            message says which one and how to opt out.
    """
    import errno
    import pickle

    import torch

    path = os.fspath(filename)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "checkpoint file not found", path)
    try:
        checkpoint: dict[str, Any] = torch.load(
            path, map_location=map_location, weights_only=weights_only
        )
    except pickle.UnpicklingError as err:
        if not weights_only or "Weights only load failed" not in str(err):
            raise
        raise pickle.UnpicklingError(_unsafe_file_message(path, str(err))) from err
    return checkpoint


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
    work_dir: str | os.PathLike[str], filename: str | os.PathLike[str]
) -> None:
    """Point ``work_dir/last_checkpoint`` at `filename`, atomically, for auto-resume.

    Call this only after the checkpoint itself has been written, so the pointer
    never names an incomplete file. The absolute path is stored, so resuming
    works from any current directory.
    """
    data = os.path.abspath(os.fspath(filename)).encode("utf-8")
    write_atomically(os.path.join(os.fspath(work_dir), LAST_CHECKPOINT), lambda f: f.write(data))


def find_latest_checkpoint(work_dir: str | os.PathLike[str]) -> str | None:
    """Return the checkpoint ``work_dir/last_checkpoint`` names, or None if there is none.

    None when the pointer is missing or empty, or names a file that no longer
    exists; other files in `work_dir` are never guessed at.
    """
    pointer = os.path.join(os.fspath(work_dir), LAST_CHECKPOINT)
    try:
        with open(pointer, encoding="utf-8") as file:
            path = file.read().strip()
    except FileNotFoundError:
        return None
    return path if path and os.path.isfile(path) else None


def write_atomically(filename: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> None:
    """Write a file through a temporary sibling and a rename, so readers never see it half done."""
    target = os.path.abspath(os.fspath(filename))
    folder, name = os.path.split(target)
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        import contextlib

        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    _fsync_directory(folder)


def _fsync_directory(folder: str) -> None:
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

    result = module.load_state_dict(revised, strict=False)
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if strict and (missing or unexpected):
        problems = []
        if mismatched:
            problems.append(f"shapes differ for {', '.join(mismatched.values())}")
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
            f"not loaded into {type(module).__name__} because the shapes differ: "
            f"{', '.join(mismatched.values())}",
            logger,
        )
    return missing, unexpected


def get_state_dict(
    module: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False
) -> Any:
    """The state dict of `module` without a DDP/DataParallel wrapper's ``module.`` prefix."""
    return unwrap_model(module).state_dict(
        destination=destination, prefix=prefix, keep_vars=keep_vars
    )


# ------------------------------------------------------------ random number generators
def get_rng_state() -> dict[str, Any]:
    """Capture the state of python's, numpy's and torch's generators, for an exact resume.

    The result holds only tensors, numbers, strings, tuples, lists and dicts, so
    it survives a safe load. Numpy is skipped when it is not installed, CUDA
    when it is not available.
    """
    import random

    import torch

    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    try:
        import numpy as np
    except ImportError:
        pass
    else:
        legacy: Any = np.random.get_state(legacy=True)  # typed as a union with the dict form
        bit_generator, keys, pos, has_gauss, cached_gaussian = legacy
        state["numpy"] = {
            "bit_generator": str(bit_generator),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        }
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore generator states from `get_rng_state`, so the next draws repeat exactly.

    Only the generators present in `state` are restored. A numpy state is
    ignored when numpy is not installed (nothing could draw from it), and a CUDA
    state when CUDA is not available; with fewer GPUs than saved, the first ones
    are restored.
    """
    import random

    import torch

    if "python" in state:
        version, internal, gauss_next = state["python"]
        random.setstate((version, tuple(internal), gauss_next))
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "numpy" in state:
        try:
            import numpy as np
        except ImportError:
            pass
        else:
            saved = state["numpy"]
            keys = saved["keys"]
            if isinstance(keys, torch.Tensor):
                keys = keys.cpu().numpy()
            np.random.set_state(
                (
                    saved["bit_generator"],
                    np.asarray(keys, dtype=np.uint32),
                    int(saved["pos"]),
                    int(saved["has_gauss"]),
                    float(saved["cached_gaussian"]),
                )
            )
    if "torch_cuda" in state and torch.cuda.is_available():
        for device, device_state in enumerate(state["torch_cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(device_state.cpu(), device)


def point_latest(path: str) -> None:
    """Point ``latest.pth`` beside `path` at it, as MMCV does: a relative symlink, else a copy."""
    latest = os.path.join(os.path.dirname(path), "latest.pth")
    if os.path.lexists(latest):
        os.remove(latest)
    try:
        os.symlink(os.path.basename(path), latest)
    except OSError:
        shutil.copy(path, latest)
