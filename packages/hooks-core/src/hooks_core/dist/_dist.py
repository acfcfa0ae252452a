"""Thin helpers over `torch.distributed` that also work in a single process.

Every function is safe to call when torch is not installed, when
`torch.distributed` is unavailable, or when no process group is initialised:
the process is then rank 0 of a world of size 1 and collectives do nothing.
torch is imported only inside the functions, and not at all until the caller
has imported it, because no process group can exist before that.
"""

from __future__ import annotations

import functools
import os
import sys

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, ParamSpec, TypeVar

    P = ParamSpec("P")
    R = TypeVar("R")

__all__ = [
    "get_dist_info",
    "get_rank",
    "get_world_size",
    "is_distributed",
    "is_main_process",
    "master_only",
    "barrier",
    "broadcast_object",
    "all_gather_object",
    "all_reduce_mean",
    "sync_random_seed",
    "init_dist",
    "destroy_dist",
    "LAUNCHERS",
]

LAUNCHERS = ("none", "pytorch")
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
_SEED_BOUND = 2**31  # a seed every library accepts, with room to add epoch numbers


def _initialized_dist() -> Any:
    """Return `torch.distributed` when a default process group is running, else None."""
    if "torch" not in sys.modules:  # nothing imported torch, so no group exists
        return None
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


# ------------------------------------------------------------ queries
def get_dist_info() -> tuple[int, int]:
    """Return ``(rank, world_size)``, ``(0, 1)`` outside a process group."""
    dist = _initialized_dist()
    if dist is None:
        return 0, 1
    return int(dist.get_rank()), int(dist.get_world_size())


def get_rank() -> int:
    """Return the rank of this process in the default group, 0 outside one."""
    return get_dist_info()[0]


def get_world_size() -> int:
    """Return the number of processes in the default group, 1 outside one."""
    return get_dist_info()[1]


def is_distributed() -> bool:
    """Whether a default process group is initialised, so collectives communicate."""
    return _initialized_dist() is not None


def is_main_process() -> bool:
    """Whether this is rank 0, the process that writes files and logs."""
    return get_rank() == 0


def master_only(func: Callable[P, R]) -> Callable[P, R | None]:
    """Decorate `func` to run on rank 0 only; other ranks get None without calling it."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
        return func(*args, **kwargs) if is_main_process() else None

    return wrapper


# ------------------------------------------------------------ collectives
def barrier() -> None:
    """Wait until every rank reaches this point; returns at once outside a group."""
    dist = _initialized_dist()
    if dist is not None:
        dist.barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Return rank `src`'s `obj` on every rank (any picklable object); `obj` when alone."""
    dist = _initialized_dist()
    if dist is None:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_object(obj: Any) -> list[Any]:
    """Return every rank's `obj` (any picklable object), in rank order; ``[obj]`` when alone."""
    dist = _initialized_dist()
    if dist is None:
        return [obj]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def all_reduce_mean(tensors: Iterable[Any]) -> None:
    """Replace each tensor, in place, by its mean over all ranks; no-op outside a group.

    Integer tensors get the floor of the mean, since they cannot hold a fraction.
    """
    dist = _initialized_dist()
    if dist is None:
        return
    world_size = dist.get_world_size()
    for tensor in tensors:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        exact = tensor.is_floating_point() or tensor.is_complex()
        tensor.div_(world_size, rounding_mode=None if exact else "floor")


def sync_random_seed(seed: int | None = None) -> int:
    """Return one seed that every rank agrees on: rank 0's `seed`, or a fresh random one.

    Each rank must call this, since it is a collective inside a process group.
    Rank 0's value always wins, so ranks given different seeds still agree.
    """
    if seed is None:
        import secrets

        seed = secrets.randbelow(_SEED_BOUND)
    return int(broadcast_object(seed, src=0))


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
    dist = _initialized_dist()
    if dist is not None:
        import gc

        gc.collect()
        dist.destroy_process_group()
