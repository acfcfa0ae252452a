"""Sharded checkpoints: a folder every rank writes with ``torch.distributed.checkpoint`` (DCP).

A sharded checkpoint (format ``'dcp'``) is a folder, ``iter_8.dcp/``: DCP's files
hold the model's and the optimizers' tensors, each rank writing its own shards
(``get_state_dict``/``set_state_dict`` of ``torch.distributed.checkpoint.state_dict``
give and take them), and DCP reshards them when a run of another world size
loads the folder. Everything else of the runner's checkpoint (``meta``, the
message hub, the schedulers, the data position, what hooks add) is rank 0's,
in an ordinary checkpoint file ``extra.pth`` inside the folder, with every
rank's RNG state (``rng_states``), so a resume on as many ranks is exact.

The folder is written under ``<name>.tmp`` and renamed only once every rank's
shards and DCP's ``.metadata`` (written last, by rank 0, after all ranks
reported) are there, so ``last_checkpoint`` never names an incomplete folder.
Only local folders are supported. Torch is imported on first use.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings

from ._io import load_checkpoint_file, save_checkpoint, weights_to_cpu
from ._storage import is_url, remove_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any

__all__ = [
    "FORMATS",
    "is_sharded_checkpoint",
    "resolve_format",
    "sharded_path",
    "sharded_model_state",
    "sharded_optim_state",
    "save_sharded",
    "load_sharded",
    "load_sharded_optim",
    "read_checkpoint",
    "remove_checkpoint",
    "optimizer_wrappers",
    "numbered_optim_state",
    "WHOLE_OPTIMIZER",
]

FORMATS = ("pth", "dcp")
METADATA = ".metadata"  # DCP's, written last: a folder holding it is complete
EXTRA = "extra.pth"
_TENSOR_KEYS = ("state_dict", "optimizer")  # what DCP holds; the rest goes to EXTRA
# In EXTRA of a folder made from a ``.pth``: its optimizer state, numbered as torch numbers
# parameters (a folder's own is by name, which only the model knows).
WHOLE_OPTIMIZER = "whole_optimizer"
_ASYNC_GROUP: list[Any] = []  # the gloo group of background saves, made once


def is_sharded_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a complete sharded checkpoint folder (it holds DCP's ``.metadata``)."""
    return os.path.isfile(os.path.join(path, METADATA))


def resolve_format(save_format: str | None, strategy: Any) -> str:
    """The checkpoint format to write: `save_format`, or without one the strategy's default.

    A strategy whose ``state_dict_cfg`` is ``'sharded'`` (``FSDPStrategy``'s)
    writes ``'dcp'`` folders; every other one ``'pth'`` files.

    Raises:
        ValueError: `save_format` is not one of `FORMATS`.
    """
    if save_format is None:
        return "dcp" if getattr(strategy, "state_dict_cfg", "full") == "sharded" else "pth"
    if save_format not in FORMATS:
        raise ValueError(
            f"save_format={save_format!r}: give 'pth' (one file, whole tensors, rank 0 writes) or "
            "'dcp' (a folder of shards every rank writes), or None for the strategy's default"
        )
    return save_format


def sharded_path(path: str) -> str:
    """The folder of a sharded checkpoint named like the file `path`: ``.pth`` becomes ``.dcp``.

    Raises:
        ValueError: `path` is a URL (sharded checkpoints are local folders).
    """
    if is_url(path):
        raise ValueError(
            f"sharded checkpoints (save_format='dcp') are local folders, but {path!r} is a URL: "
            "give a local work_dir/out_dir, or save_format='pth'"
        )
    stem = path[: -len(".pth")] if path.endswith(".pth") else path
    return stem + ".dcp"


def sharded_model_state(model: Any) -> dict[str, Any]:
    """The model's state with this rank's shards (DTensors under FSDP), as DCP saves it."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return get_model_state_dict(model, options=_options())


def sharded_optim_state(model: Any, optim_wrapper: Any) -> dict[str, Any]:
    """Each optimizer's state keyed by parameter name, with this rank's shards.

    A single wrapper gives its state; an ``OptimWrapperDict`` one per name. The
    wrapper's own entries (``loss_scaler``...) are kept beside ``state`` and
    ``param_groups``.
    """
    wrappers = optimizer_wrappers(optim_wrapper)
    if None in wrappers:
        return _optim_state(model, wrappers[None])
    return {name: _optim_state(model, wrapper) for name, wrapper in wrappers.items()}


def _optim_state(model: Any, wrapper: Any) -> dict[str, Any]:
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    own = {k: v for k, v in wrapper.state_dict().items() if k not in ("state", "param_groups")}
    return {**get_optimizer_state_dict(model, wrapper.optimizer, options=_options()), **own}


def load_sharded_optim(model: Any, optim_wrapper: Any, state: dict[str, Any]) -> None:
    """Load `state` (from `load_sharded`, as `sharded_optim_state` gives it) into the wrappers."""
    from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

    wrappers = optimizer_wrappers(optim_wrapper)
    states = {None: state} if None in wrappers else state
    for name, wrapper in wrappers.items():
        own = {k: v for k, v in states[name].items() if k not in ("state", "param_groups")}
        set_optimizer_state_dict(model, wrapper.optimizer, states[name], options=_options())
        if own:
            wrapper.load_state_dict({**wrapper.optimizer.state_dict(), **own})


def _options() -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=False)


# ------------------------------------------------------------------ saving
def save_sharded(
    checkpoint: Mapping[str, Any], path: str, asynchronous: bool = False
) -> Callable[[], None]:
    """Start writing `checkpoint` (from every rank) as the folder `path`; return its `finish`.

    `checkpoint` holds sharded ``state_dict`` and ``optimizer`` entries (see
    `sharded_model_state`); the rest is rank 0's. Synchronously, the folder is
    complete when this returns and `finish` does nothing. With `asynchronous`,
    only the staging copy of the tensors happens here (``dcp.async_save``) and
    `finish` waits for the write, then (rank 0) renames the folder into place.
    Every rank must call this, in the same order.
    """
    import torch.distributed as dist
    from torch.distributed.checkpoint.state_dict_saver import async_save, save

    distributed = dist.is_available() and dist.is_initialized()
    rank = dist.get_rank() if distributed else 0
    temporary = path + ".tmp"
    if rank == 0 and os.path.lexists(temporary):  # what a killed save left
        shutil.rmtree(temporary)
    if distributed:
        dist.barrier()
    rest = {k: v for k, v in checkpoint.items() if k not in _TENSOR_KEYS}
    rest["rng_states"] = _gathered(checkpoint.get("rng_state"), distributed)  # per rank
    if rank == 0:
        save_checkpoint(rest, os.path.join(temporary, EXTRA))
    tensors = {k: checkpoint[k] for k in _TENSOR_KEYS if k in checkpoint}

    def write() -> None:
        with _alone(distributed):
            save(tensors, checkpoint_id=temporary, no_dist=not distributed)
        if rank == 0:
            _into_place(temporary, path)

    if not asynchronous:
        write()
        if distributed:
            dist.barrier()
        return _nothing
    if not distributed:  # DCP's own background save warns in its thread: stage, write later
        tensors = weights_to_cpu(tensors, copy_tensors=True)
        return write
    future: Any = async_save(tensors, checkpoint_id=temporary, process_group=_async_group())

    def finish() -> None:
        future.result()  # on rank 0, every rank's shards and the metadata are written
        if rank == 0:
            _into_place(temporary, path)

    return finish


@contextlib.contextmanager
def _alone(distributed: bool) -> Iterator[None]:
    """Silence DCP's warning that a process without a process group saves or loads alone."""
    with warnings.catch_warnings():
        if not distributed:
            warnings.filterwarnings("ignore", _ALONE, UserWarning)
        yield


_ALONE = r"torch\.distributed is (disabled, )?unavailable or uninitialized"


def _nothing() -> None:
    return None


def _gathered(state: Any, distributed: bool) -> list[Any]:
    """Every rank's `state`, in rank order (a collective when `distributed`)."""
    if not distributed:
        return [state]
    import torch.distributed as dist

    states: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(states, state)
    return states


def _async_group() -> Any:
    """A gloo group of all ranks for background saves, so they never share the training one's."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    if not _ASYNC_GROUP:
        _ASYNC_GROUP.append(dist.new_group(backend="gloo"))
    return _ASYNC_GROUP[0]


def _into_place(temporary: str, path: str) -> None:
    """Rename the complete folder `temporary` to `path`, replacing an older one of that name."""
    old = path + ".old"
    if os.path.lexists(path):
        os.replace(path, old)
    os.replace(temporary, path)
    if os.path.lexists(old):
        shutil.rmtree(old)


def remove_checkpoint(path: str, backend_args: Mapping[str, Any] | None = None) -> bool:
    """Remove a checkpoint file or folder (or a URL's object); True if it was there."""
    if not is_url(path) and os.path.isdir(path):
        shutil.rmtree(path)
        return True
    return remove_file(path, backend_args)


# ------------------------------------------------------------------ loading
def read_checkpoint(
    path: str, map_location: Any = "cpu", weights_only: bool = True
) -> dict[str, Any]:
    """A checkpoint file, or the rank-0 part (``extra.pth``) of a sharded folder: no tensors."""
    if is_sharded_checkpoint(path):
        return load_checkpoint_file(os.path.join(path, EXTRA))
    return load_checkpoint_file(path, map_location, weights_only)


def load_sharded(
    model: Any, path: str, optim_wrapper: Any = None, strict: bool = False
) -> dict[str, Any]:
    """Load the sharded folder `path` into `model`; return the checkpoint it holds.

    Every rank reads its shards of the weights (resharded when the folder was
    written by another world size) and, when `optim_wrapper` is given, of the
    optimizer state, returned as ``checkpoint['optimizer']`` for
    `load_sharded_optim`. ``rng_state`` is this rank's saved one (rank 0's for
    ranks the saving run did not have). A collective: every rank calls it.
    """
    import torch.distributed as dist
    from torch.distributed.checkpoint.filesystem import FileSystemReader
    from torch.distributed.checkpoint.state_dict import set_model_state_dict
    from torch.distributed.checkpoint.state_dict_loader import load

    checkpoint = read_checkpoint(path)
    template: dict[str, Any] = {"state_dict": sharded_model_state(model)}
    if optim_wrapper is not None:
        template["optimizer"] = sharded_optim_state(model, optim_wrapper)
    present = FileSystemReader(path).read_metadata().state_dict_metadata
    if "optimizer" in template and not any(key.startswith("optimizer.") for key in present):
        del template["optimizer"]  # saved without save_optimizer
    distributed = dist.is_available() and dist.is_initialized()
    with _alone(distributed):
        load(template, checkpoint_id=path, no_dist=not distributed)
    options = _options()
    options.strict = strict
    set_model_state_dict(model, template["state_dict"], options=options)
    rank = dist.get_rank() if distributed else 0
    states = checkpoint.pop("rng_states", None) or [checkpoint.get("rng_state")]
    checkpoint["rng_state"] = states[rank] if rank < len(states) else states[0]
    return {**checkpoint, **template}


def optimizer_wrappers(optim_wrapper: Any) -> dict[Any, Any]:
    """The wrappers of an ``OptimWrapperDict`` (anything with ``items()``) by name, or
    ``{None: optim_wrapper}`` for a single one."""
    items = getattr(optim_wrapper, "items", None)
    return dict(items()) if callable(items) else {None: optim_wrapper}


def numbered_optim_state(whole: dict[str, Any]) -> dict[str, Any]:
    """A whole optimizer state keyed by parameter names, renumbered as torch numbers parameters."""
    index: dict[str, int] = {}
    groups = [
        {**group, "params": [index.setdefault(name, len(index)) for name in group["params"]]}
        for group in whole["param_groups"]
    ]
    state = {index[name]: value for name, value in whole["state"].items()}
    return {"state": dict(sorted(state.items())), "param_groups": groups}
