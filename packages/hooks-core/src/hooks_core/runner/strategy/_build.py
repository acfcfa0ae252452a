"""`build_strategy`: the runner's strategy from its ``strategy`` argument, or today's default."""

from __future__ import annotations

from ...registry._errors import NotRegisteredError
from ...registry._roots import STRATEGIES
from ._base import BaseStrategy, SingleDeviceStrategy
from ._ddp import DDPStrategy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["build_strategy"]

# The runner's config keys that configure DDP; with a `strategy`, its arguments do.
_DDP_KEYS = {
    "model_wrapper_cfg": "model_wrapper",
    "find_unused_parameters": "find_unused_parameters",
    "sync_bn": "sync_bn",
}


def build_strategy(strategy: Any, cfg: Mapping[str, Any], distributed: bool) -> BaseStrategy:
    """The strategy of a run: `strategy` built (a config) or as given, or the default.

    Without `strategy`, a distributed run gets the `DDPStrategy` of the config's
    ``model_wrapper_cfg``, ``find_unused_parameters`` and ``sync_bn``, and any
    other run a `SingleDeviceStrategy`: what the runner always did.

    Args:
        strategy: None, a `BaseStrategy`, or ``dict(type='FSDPStrategy', ...)``
            naming a type registered in ``STRATEGIES``.
        cfg: The runner's whole config.
        distributed: Whether the run has several ranks.

    Raises:
        NotRegisteredError: the config names an unknown type (the registered ones are listed).
        ValueError: the config also sets one of the DDP keys above, or has no ``type``.
        TypeError: `strategy` is of another kind.
    """
    if strategy is None:
        if not distributed:
            return SingleDeviceStrategy()
        return DDPStrategy(
            model_wrapper=cfg.get("model_wrapper_cfg"),
            sync_bn=cfg.get("sync_bn"),
            find_unused_parameters=cfg.get("find_unused_parameters", False),
        )
    if given := [key for key in _DDP_KEYS if cfg.get(key) not in (None, False)]:
        moved = ", ".join(f"{_DDP_KEYS[key]}=..." for key in given)
        raise ValueError(
            f"the config sets {', '.join(given)} and a strategy: give them to the strategy "
            f"instead, e.g. strategy=dict(type='DDPStrategy', {moved})"
        )
    if isinstance(strategy, BaseStrategy):
        return strategy
    if not isinstance(strategy, dict):
        raise TypeError(
            f"strategy must be a strategy object or a config such as "
            f"dict(type='FSDPStrategy'), got {type(strategy).__name__}"
        )
    kind = strategy.get("type")
    if kind is None:
        raise ValueError(
            f"a strategy config needs a 'type', one of {_registered()}; got {strategy!r}"
        )
    if isinstance(kind, str) and STRATEGIES.get(kind) is None:
        raise NotRegisteredError(
            f"{kind!r} is not a registered strategy; the registered ones are {_registered()}. "
            "For your own, subclass hooks_core.runner.strategy.BaseStrategy and register it with "
            "STRATEGIES.register_module()"
        )
    return STRATEGIES.build(dict(strategy))  # type: ignore[no-any-return]


def _registered() -> str:
    return ", ".join(sorted(STRATEGIES.available_names()))
