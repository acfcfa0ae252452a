"""The core's built-in hooks; importing this package registers them in `HOOKS`."""

from __future__ import annotations

from .iter_timer import IterTimerHook
from .runtime_info import RuntimeInfoHook
from .sampler_seed import DistSamplerSeedHook

__all__ = ["DistSamplerSeedHook", "IterTimerHook", "RuntimeInfoHook"]
