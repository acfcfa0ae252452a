"""The core's built-in hooks; importing this package registers them in `HOOKS`."""

from __future__ import annotations

from .empty_cache import EmptyCacheHook
from .function import FunctionHook
from .iter_timer import IterTimerHook
from .profiler import ProfilerHook
from .runtime_info import RuntimeInfoHook
from .sampler_seed import DistSamplerSeedHook
from .sync_buffers import SyncBuffersHook

__all__ = [
    "DistSamplerSeedHook",
    "EmptyCacheHook",
    "FunctionHook",
    "IterTimerHook",
    "ProfilerHook",
    "RuntimeInfoHook",
    "SyncBuffersHook",
]
