"""MMCV 1.x config keys: ``log_config`` translated, the others reported as not read."""

from __future__ import annotations

import warnings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["from_mmcv_log_config", "warn_untranslated_mmcv_keys"]


def from_mmcv_log_config(
    log_config: Mapping[str, Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """MMCV's ``log_config=dict(interval=N, hooks=[...])`` as the logger default hook + its hooks.

    Each listed hook (``TextLoggerHook``, ``TensorboardLoggerHook``...) joins
    the custom hooks with the interval unless it sets its own, at MMCV's
    VERY_LOW priority, and merges into the logger (hooks-logging), so a
    migrated config logs once, to every backend, with the listed hooks'
    options; the logger gets the interval itself only when none is listed.
    """
    interval = log_config.get("interval", 10)
    unknown = set(log_config) - {"interval", "hooks"}
    if unknown:
        raise ValueError(
            f"log_config has keys {sorted(unknown)}, which MMCV's log_config does not have; "
            "it takes interval and hooks"
        )
    listed = [
        {"interval": interval, "priority": "VERY_LOW", **hook}
        for hook in log_config.get("hooks", ())
    ]
    logger: dict[str, Any] = {"type": "LoggerHook"}
    if not listed:  # else the logger takes the listed hooks' options, their interval among them
        logger["interval"] = interval
    default_hooks = dict(kwargs.get("default_hooks") or {})
    default_hooks.setdefault("logger", logger)
    return {
        "default_hooks": default_hooks,
        "custom_hooks": [*(kwargs.get("custom_hooks") or ()), *listed],
    }


# MMCV 1.x config keys that this runner does not read, and what replaces each.
_MMCV_KEYS = {
    "optimizer": "optim_wrapper=dict(type='OptimWrapper', optimizer=...)",
    "optimizer_config": "optim_wrapper options (clip_grad=..., accumulative_counts=...)",
    "lr_config": "param_scheduler=[...] (see docs/migration.md for each policy)",
    "momentum_config": "param_scheduler=[...] with momentum schedulers",
    "checkpoint_config": "default_hooks=dict(checkpoint=dict(type='CheckpointHook', ...))",
    "evaluation": "val_cfg, val_evaluator and train_cfg's val_interval",
    "workflow": "train_cfg=dict(by_epoch=True, max_epochs=..., val_interval=...)",
    "resume_from": "load_from=... with resume=True",
    "runner": "train_cfg=dict(by_epoch=..., max_epochs=... or max_iters=...)",
    "total_epochs": "train_cfg=dict(by_epoch=True, max_epochs=...)",
}


def warn_untranslated_mmcv_keys(cfg: Mapping[str, Any]) -> None:
    """A config written for MMCV would otherwise train without these parts, silently."""
    for key, replacement in _MMCV_KEYS.items():
        if key in cfg:
            warnings.warn(
                f"config key {key!r} is MMCV 1.x's and is not read by this runner; "
                f"use {replacement}",
                UserWarning,
                stacklevel=3,
            )
