"""Gather per-sample results from every rank back into the dataset's order.

The runner's samplers give rank ``r`` the samples ``r, r + world_size, ...`` of
one global order, padded by repeating it from the start so every rank gets the
same count. Taking the ranks' lists in turn restores that order; cutting it at
the dataset's size drops the padding, so a metric sees each sample exactly once.
"""

from __future__ import annotations

from itertools import chain, zip_longest

from hooks_core.checkpoint import weights_to_cpu
from hooks_core.dist import all_gather_object

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["COLLECT_DEVICES", "collect_results"]

COLLECT_DEVICES = ("cpu", "gpu")
_MISSING = object()


def collect_results(results: list[Any], size: int, device: str = "cpu") -> list[Any]:
    """Return all ranks' `results` interleaved in sampler order and cut to `size` items.

    Every rank must call this (it is a collective in a process group). In a
    single process the list comes back cut to `size`.

    Args:
        results: This rank's results, one item per sample, in the order its
            sampler gave the samples.
        size: The number of samples in the dataset.
        device: ``'cpu'`` moves tensors in `results` to the CPU before they are
            sent (works with every backend); ``'gpu'`` sends them as they are.
            One of `COLLECT_DEVICES`.
    """
    local = weights_to_cpu(results) if device == "cpu" else results
    parts = all_gather_object(local)
    rounds = chain.from_iterable(zip_longest(*parts, fillvalue=_MISSING))
    ordered = [item for item in rounds if item is not _MISSING]  # ranks may differ by one
    return ordered[:size]
