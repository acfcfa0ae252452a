"""The core's built-in hooks (runtime info, timer, sampler seed, empty cache, buffer sync,
profilers, test-time augmentation, functions at hook points); importing this package registers
them in `HOOKS`.
"""

from __future__ import annotations

from ..engine import Hook
from ._empty_cache import EmptyCacheHook
from ._function import FunctionHook
from ._iter_timer import IterTimerHook
from ._npu_profiler import NPUProfilerHook
from ._prepare_tta import PrepareTTAHook
from ._profiler import ProfilerHook
from ._runtime_info import RuntimeInfoHook
from ._sampler_seed import DistSamplerSeedHook
from ._sync_buffers import SyncBuffersHook

__all__ = [
    "Hook",
    "DistSamplerSeedHook",
    "EmptyCacheHook",
    "FunctionHook",
    "IterTimerHook",
    "NPUProfilerHook",
    "PrepareTTAHook",
    "ProfilerHook",
    "RuntimeInfoHook",
    "SyncBuffersHook",
]
