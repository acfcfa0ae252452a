"""Data loading parts: samplers that shard data across ranks and skip to a resumed position
without loading it (`DefaultSampler`, `InfiniteSampler`), the collate functions
(`pseudo_collate`, the default, and `default_collate`) and the workers' seeding.
"""

from __future__ import annotations

from ..registry._roots import FUNCTIONS
from ._collate import default_collate, pseudo_collate
from ._samplers import DefaultSampler, InfiniteSampler
from ._worker_init import worker_init_fn

# MMEngine's older name of the registry collate functions live in.
COLLATE_FUNCTIONS = FUNCTIONS

__all__ = ["DefaultSampler", "InfiniteSampler", "pseudo_collate", "default_collate",
           "worker_init_fn", "COLLATE_FUNCTIONS"]  # fmt: skip
