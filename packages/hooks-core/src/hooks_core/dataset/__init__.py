"""Samplers that shard data across ranks and skip to a resumed position without loading it:
`DefaultSampler` (finite, for epochs) and `InfiniteSampler` (endless, for iteration-based runs).
"""

from __future__ import annotations

from ._samplers import DefaultSampler, InfiniteSampler

__all__ = ["DefaultSampler", "InfiniteSampler"]
