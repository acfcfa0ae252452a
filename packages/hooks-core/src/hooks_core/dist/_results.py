"""Gather per-sample results from every rank onto rank 0, back in the dataset's order.

Samplers give rank ``r`` the samples ``r, r + world_size, ...`` of one global
order, padded by repeating it from the start so every rank gets as many.
Taking the ranks' lists in turn restores that order; cutting it at the
dataset's size drops the padding, so a metric sees each sample exactly once.
"""

from __future__ import annotations

import os
from itertools import chain, zip_longest

from ._dist import all_gather_object, broadcast_object
from ._env import barrier, get_dist_info

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["collect_results", "collect_results_cpu", "collect_results_gpu"]

_DEVICES = ("cpu", "gpu", "npu")
_MISSING = object()  # a rank's list ran out; None stays a valid result


def collect_results(
    results: list[Any], size: int, device: str = "cpu", tmpdir: str | None = None
) -> list[Any] | None:
    """Return all ranks' `results` on rank 0, interleaved by rank and cut to `size`; None elsewhere.

    Every rank must call this (it is a collective in a process group). In a
    single process it returns ``results[:size]``.

    Args:
        results: This rank's results, one picklable item per sample, in the
            order its sampler gave the samples.
        size: The number of samples in the dataset.
        device: ``'cpu'`` (see `collect_results_cpu`) or ``'gpu'`` / ``'npu'``
            (see `collect_results_gpu`).
        tmpdir: With ``'cpu'``, a directory every rank can see to exchange the
            results through files instead of the process group.

    Raises:
        ValueError: an unknown `device`, or a `tmpdir` with a device other than ``'cpu'``.
    """
    if device not in _DEVICES:
        raise ValueError(f"collect_results: device must be one of {_DEVICES}, got {device!r}")
    if device == "cpu":
        return collect_results_cpu(results, size, tmpdir)
    if tmpdir is not None:
        raise ValueError(
            f"collect_results: tmpdir is for device='cpu' only, got device={device!r} "
            f"and tmpdir={tmpdir!r}; drop one of them"
        )
    return collect_results_gpu(results, size)


def collect_results_cpu(
    result_part: list[Any], size: int, tmpdir: str | None = None
) -> list[Any] | None:
    """`collect_results` with every tensor arriving on rank 0's CPU.

    Each rank serialises its part with its tensors mapped to the CPU. The
    parts travel through the process group, or, when `tmpdir` is given,
    through files in it (``part_<rank>.pkl``, removed afterwards), which keeps
    large results out of device memory under NCCL. `tmpdir` must be on a
    filesystem every rank sees.

    Raises:
        FileNotFoundError: rank 0 cannot see another rank's part in `tmpdir`.
    """
    rank, world_size = get_dist_info()
    if world_size == 1:
        return result_part[:size]
    blob = _dump(result_part)
    if tmpdir is None:
        blobs = all_gather_object(blob)
    else:
        blobs = _exchange_files(blob, tmpdir, rank, world_size)
    if rank != 0:
        return None
    return _in_sampler_order([_load(part) for part in blobs], size)


def collect_results_gpu(result_part: list[Any], size: int) -> list[Any] | None:
    """`collect_results` with tensors sent as they are, through the backend's device."""
    rank, world_size = get_dist_info()
    if world_size == 1:
        return result_part[:size]
    parts = all_gather_object(result_part)
    return _in_sampler_order(parts, size) if rank == 0 else None


def _in_sampler_order(parts: list[list[Any]], size: int) -> list[Any]:
    rounds = chain.from_iterable(zip_longest(*parts, fillvalue=_MISSING))
    return [item for item in rounds if item is not _MISSING][:size]  # ranks may differ by one


def _dump(part: list[Any]) -> bytes:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(part, buffer)
    return buffer.getvalue()


def _load(blob: bytes) -> list[Any]:
    import io

    import torch

    # The parts come from this job's own ranks, as pickles through a process group do.
    part: list[Any] = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=False)
    return part


def _exchange_files(blob: bytes, tmpdir: str, rank: int, world_size: int) -> list[bytes]:
    """Every rank's `blob` on rank 0, through files in `tmpdir`; ``[]`` on other ranks."""
    os.makedirs(tmpdir, exist_ok=True)
    paths = [os.path.join(tmpdir, f"part_{r}.pkl") for r in range(world_size)]
    with open(paths[rank], "wb") as file:
        file.write(blob)
    barrier()  # every part is written
    blobs: list[bytes] = []
    missing: list[int] | None = None
    if rank == 0:
        missing = [r for r, path in enumerate(paths) if not os.path.exists(path)]
        if not missing:
            blobs = [_read(path) for path in paths]
    missing = broadcast_object(missing)  # read before anyone may write the next call's parts
    os.remove(paths[rank])
    if missing:
        raise FileNotFoundError(
            f"collect_results: rank 0 cannot see the parts of rank(s) {missing} in {tmpdir!r}; "
            "give a tmpdir on a filesystem every rank shares"
        )
    return blobs


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()
