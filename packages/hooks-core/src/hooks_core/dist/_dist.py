"""Collectives over `torch.distributed` with MMEngine's signatures, and starting or ending a group.

Each collective also works in a single process (no process group, a world
of size 1), where it does what the only rank would get: in-place ones leave
their input as it is, gathering ones return ``[data]``. Tensors are moved to
the device the backend needs (the CPU for gloo, the current GPU for NCCL)
and back, so the caller's tensors may live anywhere. Each must be called by
every rank of the group, in the same order.
"""

from __future__ import annotations

import os

from ._env import get_comm_device, get_rank, get_world_size, initialized_dist

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any

    import torch
    from torch.distributed import ProcessGroup

__all__ = [
    "REDUCE_OPS",
    "all_reduce",
    "all_reduce_dict",
    "all_reduce_params",
    "all_reduce_mean",
    "all_gather",
    "gather",
    "broadcast",
    "all_gather_object",
    "gather_object",
    "broadcast_object_list",
    "broadcast_object",
    "sync_random_seed",
    "init_dist",
    "destroy_dist",
    "LAUNCHERS",
]

# The reductions `all_reduce` accepts (any case); "mean" is a sum divided by the world size.
REDUCE_OPS = ("sum", "mean", "product", "min", "max", "band", "bor", "bxor")
LAUNCHERS = ("none", "pytorch")
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
_SEED_BOUND = 2**31  # a seed every library accepts, with room to add epoch numbers


# ------------------------------------------------------------ tensor collectives
def _check_op(op: str) -> str:
    """`op` in lower case, once known to be one of `REDUCE_OPS`."""
    if not isinstance(op, str) or op.lower() not in REDUCE_OPS:
        raise ValueError(f"unknown reduce op {op!r}; valid ops are {', '.join(REDUCE_OPS)}")
    return op.lower()


def _sendable(data: torch.Tensor, group: ProcessGroup | None) -> torch.Tensor:
    """`data` itself when the backend can send it, else a contiguous copy on its device."""
    return data.to(get_comm_device(group)).contiguous()


def all_reduce(data: torch.Tensor, op: str = "sum", group: ProcessGroup | None = None) -> None:
    """Reduce `data` over every rank of `group`, in place, so all ranks hold the result.

    Args:
        data: The tensor to reduce; it receives the result.
        op: One of `REDUCE_OPS`. ``'mean'`` divides the sum by the world size;
            an integer tensor keeps the quotient truncated toward zero.
        group: The process group; None for the default one.

    Raises:
        ValueError: an unknown `op` (checked in a single process too).
    """
    name = _check_op(op)
    world_size = get_world_size(group)
    if world_size == 1:
        return
    import torch

    dist = torch.distributed
    sent = _sendable(data, group)
    dist.all_reduce(sent, getattr(dist.ReduceOp, "SUM" if name == "mean" else name.upper()), group)
    if name == "mean":
        sent = torch.true_divide(sent, world_size)
    if sent is not data:
        data.copy_(sent)


def all_reduce_dict(
    data: dict[str, torch.Tensor], op: str = "sum", group: ProcessGroup | None = None
) -> None:
    """Reduce every tensor of `data` over the ranks in one collective; the values are replaced.

    Every rank must give the same keys with tensors of the same shapes.

    Raises:
        TypeError: `data` is not a dict.
        ValueError: an unknown `op`.
    """
    if not isinstance(data, dict):
        raise TypeError(f"all_reduce_dict takes a dict of tensors, got {type(data).__name__}")
    _check_op(op)
    if get_world_size(group) == 1 or not data:
        return
    import torch

    keys = sorted(data)  # every rank sends the tensors in the same order
    shapes = [data[key].shape for key in keys]
    flat = torch.cat([data[key].flatten() for key in keys])
    all_reduce(flat, op, group)
    pieces = torch.split(flat, [shape.numel() for shape in shapes])
    for key, piece, shape in zip(keys, pieces, shapes, strict=True):
        data[key] = piece.reshape(shape)


def all_reduce_params(
    params: Iterable[torch.Tensor],
    coalesce: bool = True,
    bucket_size_mb: int = -1,
    op: str = "sum",
    group: ProcessGroup | None = None,
) -> None:
    """Reduce parameters or buffers over the ranks, in place.

    Args:
        params: The tensors, e.g. ``model.parameters()`` or ``model.buffers()``.
        coalesce: Send tensors of one dtype and device as one flat tensor
            (fewer, larger messages) instead of one by one.
        bucket_size_mb: With `coalesce`, cap each flat tensor near this many
            megabytes; -1 for no cap.
        op: One of `REDUCE_OPS`.
        group: The process group; None for the default one.
    """
    _check_op(op)
    if get_world_size(group) == 1:
        return
    tensors = [param.data for param in params]
    if not coalesce:
        for tensor in tensors:
            all_reduce(tensor, op, group)
        return
    import torch

    for bucket in _buckets(tensors, bucket_size_mb * 1024 * 1024):
        flat = torch.cat([tensor.flatten() for tensor in bucket])
        all_reduce(flat, op, group)
        pieces = torch.split(flat, [tensor.numel() for tensor in bucket])
        for tensor, piece in zip(bucket, pieces, strict=True):
            tensor.copy_(piece.view_as(tensor))


def _buckets(tensors: list[torch.Tensor], limit: int) -> Iterator[list[torch.Tensor]]:
    """Tensors grouped by dtype and device, each group cut into runs of about `limit` bytes."""
    groups: dict[tuple[Any, Any], list[torch.Tensor]] = {}
    for tensor in tensors:
        groups.setdefault((tensor.dtype, tensor.device), []).append(tensor)
    for group in groups.values():
        if limit <= 0:
            yield group
            continue
        bucket: list[torch.Tensor] = []
        size = 0
        for tensor in group:
            nbytes = tensor.numel() * tensor.element_size()
            if bucket and size + nbytes > limit:
                yield bucket
                bucket, size = [], 0
            bucket.append(tensor)
            size += nbytes
        if bucket:
            yield bucket


def all_reduce_mean(tensors: Iterable[torch.Tensor]) -> None:
    """Replace each tensor, in place, by its mean over all ranks; no-op outside a group.

    Integer tensors keep the mean truncated toward zero, since they cannot hold a fraction.
    """
    for tensor in tensors:
        all_reduce(tensor, "mean")


def all_gather(data: torch.Tensor, group: ProcessGroup | None = None) -> list[torch.Tensor]:
    """Return every rank's `data` in rank order, on `data`'s device; ``[data]`` when alone.

    Every rank must give a tensor of the same shape and dtype.
    """
    world_size = get_world_size(group)
    if world_size == 1:
        return [data]
    import torch

    sent = _sendable(data, group)
    gathered = [torch.empty_like(sent) for _ in range(world_size)]
    torch.distributed.all_gather(gathered, sent, group)
    return [tensor.to(data.device) for tensor in gathered]


def gather(
    data: torch.Tensor, dst: int = 0, group: ProcessGroup | None = None
) -> list[torch.Tensor]:
    """Return every rank's `data` in rank order on rank `dst`, ``[]`` elsewhere; ``[data]`` alone.

    Every rank must give a tensor of the same shape and dtype. NCCL supports
    this only in recent torch versions; `all_gather` works with every backend.
    """
    world_size = get_world_size(group)
    if world_size == 1:
        return [data]
    import torch

    sent = _sendable(data, group)
    is_dst = get_rank(group) == dst
    gathered = [torch.empty_like(sent) for _ in range(world_size)] if is_dst else None
    torch.distributed.gather(sent, gathered, dst, group)
    return [tensor.to(data.device) for tensor in gathered] if gathered is not None else []


def broadcast(data: torch.Tensor, src: int = 0, group: ProcessGroup | None = None) -> None:
    """Overwrite `data`, in place, with rank `src`'s tensor of the same shape; no-op alone."""
    if get_world_size(group) == 1:
        return
    import torch

    sent = _sendable(data, group)
    torch.distributed.broadcast(sent, src, group)
    if sent is not data:
        data.copy_(sent)


# ------------------------------------------------------------ object collectives
def all_gather_object(data: Any, group: ProcessGroup | None = None) -> list[Any]:
    """Return every rank's `data` (any picklable object) in rank order; ``[data]`` when alone."""
    world_size = get_world_size(group)
    if world_size == 1:
        return [data]
    import torch

    gathered: list[Any] = [None] * world_size
    torch.distributed.all_gather_object(gathered, data, group)
    return gathered


def gather_object(data: Any, dst: int = 0, group: ProcessGroup | None = None) -> list[Any] | None:
    """Return every rank's `data` in rank order on rank `dst`, None elsewhere; ``[data]`` alone."""
    world_size = get_world_size(group)
    if world_size == 1:
        return [data]
    import torch

    gathered: list[Any] | None = [None] * world_size if get_rank(group) == dst else None
    torch.distributed.gather_object(data, gathered, dst, group)
    return gathered


def broadcast_object_list(data: list[Any], src: int = 0, group: ProcessGroup | None = None) -> None:
    """Replace the items of `data`, in place, by rank `src`'s; every rank gives a list as long.

    Raises:
        TypeError: `data` is not a list.
    """
    if not isinstance(data, list):
        raise TypeError(
            f"broadcast_object_list takes a list, whose items it replaces in place, "
            f"got {type(data).__name__}; use broadcast_object for a single object"
        )
    if get_world_size(group) == 1:
        return
    import torch

    torch.distributed.broadcast_object_list(data, src, group)


def broadcast_object(obj: Any, src: int = 0, group: ProcessGroup | None = None) -> Any:
    """Return rank `src`'s `obj` on every rank (any picklable object); `obj` when alone."""
    box = [obj]
    broadcast_object_list(box, src, group)
    return box[0]


def sync_random_seed(group: ProcessGroup | None = None) -> int:
    """Return one random seed that every rank agrees on: the one rank 0 drew.

    The seed comes from Python's `random`, so a program that seeded it draws
    the same seed again (MMEngine draws from numpy's global generator).
    """
    import random

    seed = random.randrange(_SEED_BOUND)
    if get_world_size(group) == 1:
        return seed
    import torch

    box = torch.tensor(seed if get_rank(group) == 0 else 0, dtype=torch.int64)
    broadcast(box, 0, group)
    return int(box.item())


# ------------------------------------------------------------ setup and teardown
def init_dist(launcher: str, backend: str | None = None, **kwargs: Any) -> bool:
    """Initialise the default process group for the processes started by `launcher`.

    Args:
        launcher: ``'none'`` for a single process (does nothing) or ``'pytorch'``
            for processes started by torchrun, which sets RANK, WORLD_SIZE,
            LOCAL_RANK, MASTER_ADDR and MASTER_PORT in their environment.
        backend: The `torch.distributed` backend; defaults to ``'nccl'`` when CUDA
            is available, else ``'gloo'``.
        **kwargs: Passed on to `torch.distributed.init_process_group`. A
            ``timeout`` may be given in seconds, as in MMEngine's ``dist_cfg``,
            or as a `datetime.timedelta`.

    Does nothing when a process group already exists, e.g. one the user set up.

    Returns:
        Whether this call created the process group (so its caller may destroy it).

    Raises:
        ValueError: an unknown launcher, or torchrun's variables are missing.
        RuntimeError: this torch build has no `torch.distributed`.
    """
    if launcher not in LAUNCHERS:
        valid = ", ".join(repr(name) for name in LAUNCHERS)
        raise ValueError(f"unknown launcher {launcher!r}; valid launchers are {valid}")
    if launcher == "pytorch":
        return _init_torchrun(backend, kwargs)
    return False


def _init_torchrun(backend: str | None, kwargs: dict[str, Any]) -> bool:
    """Join the process group described by the environment that torchrun sets."""
    missing = [name for name in _TORCHRUN_VARS if name not in os.environ]
    if missing:
        raise ValueError(
            f"init_dist('pytorch') needs the environment variables that torchrun sets, "
            f"but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing; "
            "launch with `torchrun --nproc_per_node=N your_script.py` "
            "(or `python -m torch.distributed.run ...`)"
        )
    import torch

    if not torch.distributed.is_available():
        raise RuntimeError("this build of torch has no torch.distributed; install one that does")
    if torch.distributed.is_initialized():
        return False
    from ._agent_store import attempt_store

    kwargs = {**attempt_store(kwargs), **kwargs}  # a torchrun restart meets in fresh keys
    timeout = kwargs.get("timeout")
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        import datetime

        kwargs["timeout"] = datetime.timedelta(seconds=timeout)
    use_cuda = torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    if backend is None:
        backend = "nccl" if use_cuda else "gloo"
    torch.distributed.init_process_group(backend=backend, **kwargs)
    return True


def destroy_dist() -> None:
    """Destroy the default process group, if one is initialised.

    Runners live in reference cycles (loops and hooks point back at them), so
    a finished runner's DDP wrapper, and the process group it holds, would
    otherwise be freed by the last garbage collection of interpreter shutdown,
    when C++ teardown can no longer run safely. Collect them first.
    """
    dist = initialized_dist()
    if dist is not None:
        import gc

        gc.collect()
        dist.destroy_process_group()
