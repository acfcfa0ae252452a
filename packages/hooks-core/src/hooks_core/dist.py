"""Distributed helpers over ``torch.distributed`` that also work in a single process.

Rank and world size, the main process, barriers, broadcasting and gathering
Python objects, and starting or ending the process group, as hooks and
satellite packages need them. Without an initialised process group every
function behaves as the only rank would. Importing this module does not
import torch.
"""

from __future__ import annotations

from ._dist import (
    LAUNCHERS,
    all_gather_object,
    all_reduce_mean,
    barrier,
    broadcast_object,
    destroy_dist,
    get_dist_info,
    get_rank,
    get_world_size,
    init_dist,
    is_distributed,
    is_main_process,
    master_only,
    sync_random_seed,
)

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
