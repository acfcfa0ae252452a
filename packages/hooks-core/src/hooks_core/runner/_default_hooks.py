"""The runner's default hooks: the core's own, plus those contributed by installed plugins.

A satellite package contributes a default hook by declaring an entry point in
the ``hooks_core.default_hooks`` group whose name is the key (``logger``,
``param_scheduler``, ``checkpoint``) and whose object is a config dict or a
hook class.
"""

from __future__ import annotations

from ..registry._plugins import GROUP_PREFIX, load_group

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["DEFAULT_HOOKS_GROUP", "default_hook_configs", "merge_default_hooks"]

DEFAULT_HOOKS_GROUP = GROUP_PREFIX + "default_hooks"

_CORE_DEFAULTS: dict[str, dict[str, Any]] = {
    "runtime_info": {"type": "RuntimeInfoHook"},
    "timer": {"type": "IterTimerHook"},
    "sampler_seed": {"type": "DistSamplerSeedHook"},
}
# MMEngine's order; it decides the call order of default hooks of equal priority.
_ORDER = ("runtime_info", "timer", "sampler_seed", "logger", "param_scheduler", "checkpoint")


def default_hook_configs() -> dict[str, Any]:
    """The core's default hooks and every installed plugin's, in MMEngine's key order."""
    configs: dict[str, Any] = dict(_CORE_DEFAULTS)
    for key, value in load_group(DEFAULT_HOOKS_GROUP).items():
        configs[key] = dict(value) if isinstance(value, dict) else {"type": value}
    rank = {key: i for i, key in enumerate(_ORDER)}
    return dict(sorted(configs.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))


def merge_default_hooks(user: Mapping[str, Any] | None) -> dict[str, Any]:
    """Apply the user's `default_hooks`: a key replaces, None removes, a new key adds."""
    merged = default_hook_configs()
    for key, value in (user or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
