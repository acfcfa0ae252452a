"""Where this process stands: rank, world size, local rank, backend and communication device.

Every query works without torch, without `torch.distributed` and without a
process group: the process is then rank 0 of a world of size 1. torch is
imported only inside the functions, and not at all until the caller has
imported it, because no process group can exist before that.
"""

from __future__ import annotations

import functools
import os
import sys

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ParamSpec, TypeVar

    import torch
    from torch.distributed import ProcessGroup

    P = ParamSpec("P")
    R = TypeVar("R")

__all__ = [
    "is_distributed",
    "get_backend",
    "get_world_size",
    "get_rank",
    "get_dist_info",
    "get_local_rank",
    "get_local_size",
    "is_main_process",
    "master_only",
    "barrier",
    "get_comm_device",
]


def initialized_dist() -> Any:
    """Return `torch.distributed` when a default process group is running, else None."""
    if "torch" not in sys.modules:  # nothing imported torch, so no group exists
        return None
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def is_distributed() -> bool:
    """Whether a default process group is initialised, so collectives communicate."""
    return initialized_dist() is not None


def get_backend(group: ProcessGroup | None = None) -> str | None:
    """Return the backend of `group` (default: the default group), None outside a group."""
    dist = initialized_dist()
    return None if dist is None else str(dist.get_backend(group))


def get_world_size(group: ProcessGroup | None = None) -> int:
    """Return the number of processes in `group` (default: the default group), 1 outside one."""
    dist = initialized_dist()
    return 1 if dist is None else int(dist.get_world_size(group))


def get_rank(group: ProcessGroup | None = None) -> int:
    """Return this process's rank in `group` (default: the default group), 0 outside one."""
    dist = initialized_dist()
    return 0 if dist is None else int(dist.get_rank(group))


def get_dist_info(group: ProcessGroup | None = None) -> tuple[int, int]:
    """Return ``(rank, world_size)`` in `group`, ``(0, 1)`` outside a process group."""
    return get_rank(group), get_world_size(group)


def get_local_rank() -> int:
    """Return this process's rank among the processes of its machine, 0 outside a group.

    Read from ``LOCAL_RANK``, which torchrun sets for every process it starts.

    Raises:
        RuntimeError: in a process group whose launcher did not set ``LOCAL_RANK``.
    """
    return 0 if not is_distributed() else _int_from_env("LOCAL_RANK")


def get_local_size() -> int:
    """Return the number of processes on this machine, 1 outside a group.

    Read from ``LOCAL_WORLD_SIZE``, which torchrun sets for every process it starts.

    Raises:
        RuntimeError: in a process group whose launcher did not set ``LOCAL_WORLD_SIZE``.
    """
    return 1 if not is_distributed() else _int_from_env("LOCAL_WORLD_SIZE")


def _int_from_env(name: str) -> int:
    value = os.environ.get(name)
    if value is None:
        raise RuntimeError(
            f"{name} is not set: launch with `torchrun --nproc_per_node=N ...`, which sets it, "
            f"or set {name} in each process's environment"
        )
    return int(value)


def is_main_process(group: ProcessGroup | None = None) -> bool:
    """Whether this is rank 0 of `group`, the process that writes files and logs."""
    return get_rank(group) == 0


def master_only(func: Callable[P, R]) -> Callable[P, R | None]:
    """Decorate `func` to run on rank 0 only; other ranks get None without calling it."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
        return func(*args, **kwargs) if is_main_process() else None

    return wrapper


def barrier(group: ProcessGroup | None = None) -> None:
    """Wait until every rank of `group` reaches this point; returns at once outside a group."""
    dist = initialized_dist()
    if dist is not None:
        dist.barrier(group)


def get_comm_device(group: ProcessGroup | None = None) -> torch.device:
    """Return the device tensors must be on to travel through `group`'s backend.

    The current CUDA device for NCCL, the CPU for gloo, MPI and outside a group.
    """
    import torch

    if get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
