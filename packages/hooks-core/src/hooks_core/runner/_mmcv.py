"""MMCV 1.x config keys translated into `Runner` arguments, so MMCV configs run with `from_cfg`."""

from __future__ import annotations

import warnings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["MMCV_KEYS", "from_mmcv_config", "from_mmcv_log_config", "policy_hook_config"]


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


# Config keys only MMCV 1.x's configs have, translated by `from_mmcv_config`.
MMCV_KEYS = (
    "runner", "total_epochs", "workflow", "data", "optimizer", "optimizer_config", "fp16",
    "lr_config", "momentum_config", "checkpoint_config", "evaluation", "resume_from",
    "dist_params", "cudnn_benchmark",
)  # fmt: skip
_OPTIMIZER_HOOKS = {
    "OptimizerHook": "OptimWrapper",
    "GradientCumulativeOptimizerHook": "OptimWrapper",
    "Fp16OptimizerHook": "AmpOptimWrapper",
    "GradientCumulativeFp16OptimizerHook": "AmpOptimWrapper",
}


def from_mmcv_config(cfg: Mapping[str, Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The `Runner` arguments an MMCV 1.x config's own keys stand for, merged into `kwargs`.

    ``runner``/``total_epochs`` and ``workflow`` give ``train_cfg``; ``data``
    the dataloaders; ``optimizer``, ``optimizer_config`` and ``fp16`` the
    ``optim_wrapper``; ``lr_config``/``momentum_config`` MMCV's updater hooks
    (hooks-optim), so learning rates follow MMCV's formulas exactly;
    ``checkpoint_config`` the checkpoint hook; ``evaluation`` an ``EvalHook``
    (hooks-eval) on the validation data; ``resume_from`` resuming. A key given
    both ways (``lr_config`` and ``param_scheduler``...) is an error.
    """
    out = dict(kwargs)
    by_epoch = _train_cfg(cfg, out)
    _dataloaders(cfg, out)
    _optim_wrapper(cfg, out)
    custom = list(out.get("custom_hooks") or ())
    default_hooks = dict(out.get("default_hooks") or {})
    for key, suffix, priority in (
        ("lr_config", "LrUpdaterHook", "VERY_HIGH"),
        ("momentum_config", "MomentumUpdaterHook", "HIGH"),
    ):
        if cfg.get(key):
            if key == "lr_config" and out.get("param_scheduler"):
                raise ValueError(
                    "the config has lr_config and param_scheduler, which both set the learning "
                    "rate; keep one"
                )
            hook = policy_hook_config(cfg[key], suffix)
            if not by_epoch:
                hook.setdefault("by_epoch", False)
            custom.append({**hook, "priority": priority})
    if cfg.get("checkpoint_config"):
        checkpoint = {"type": "CheckpointHook", "by_epoch": by_epoch, **cfg["checkpoint_config"]}
        default_hooks["checkpoint"] = checkpoint
    if cfg.get("evaluation"):
        custom.append(_eval_hook(cfg["evaluation"], out, by_epoch))
    if cfg.get("resume_from"):
        out["load_from"], out["resume"] = cfg["resume_from"], True
    env_cfg = dict(out.get("env_cfg") or {})
    if cfg.get("dist_params"):
        env_cfg.setdefault("dist_cfg", dict(cfg["dist_params"]))
    if "cudnn_benchmark" in cfg:
        env_cfg.setdefault("cudnn_benchmark", cfg["cudnn_benchmark"])
    if env_cfg:
        out["env_cfg"] = env_cfg
    out["custom_hooks"], out["default_hooks"] = custom, default_hooks
    return out


def _train_cfg(cfg: Mapping[str, Any], out: dict[str, Any]) -> bool:
    """``train_cfg`` from ``runner=dict(type=..., max_epochs=...)`` and ``workflow``; by epoch?"""
    runner = dict(cfg.get("runner") or {})
    if "total_epochs" in cfg:
        runner.setdefault("type", "EpochBasedRunner")
        runner.setdefault("max_epochs", cfg["total_epochs"])
    if not runner and "workflow" not in cfg:
        return bool((out.get("train_cfg") or {}).get("by_epoch", True))
    if out.get("train_cfg"):
        raise ValueError(
            "the config has MMCV's runner (or total_epochs/workflow) and train_cfg; keep one"
        )
    kind = runner.pop("type", "EpochBasedRunner")
    if kind not in ("EpochBasedRunner", "IterBasedRunner"):
        raise ValueError(
            f"runner type {kind!r} cannot be translated; MMCV's are EpochBasedRunner and "
            "IterBasedRunner (build other runners with build_runner)"
        )
    by_epoch = bool(kind == "EpochBasedRunner")
    length = "max_epochs" if by_epoch else "max_iters"
    unknown = set(runner) - {length}
    if unknown or length not in runner:
        raise ValueError(
            f"runner=dict(type={kind!r}, {length}=N) is expected, got {cfg.get('runner')!r}"
        )
    train_cfg: dict[str, Any] = {"by_epoch": by_epoch, length: runner[length]}
    val_interval = _val_interval(cfg.get("workflow") or [("train", 1)])
    if val_interval is not None:
        train_cfg["val_interval"] = val_interval
    out["train_cfg"] = train_cfg
    return by_epoch


def _val_interval(workflow: Any) -> int | None:
    """``[('train', n), ('val', 1)]`` validates every n epochs (iterations); None without val."""
    modes = [mode for mode, _ in workflow]
    if modes == ["train"]:
        return None
    if modes == ["train", "val"]:
        return int(workflow[0][1])
    raise ValueError(
        f"workflow {list(workflow)!r} cannot be translated; use [('train', n)] or "
        "[('train', n), ('val', 1)]"
    )


def _dataloaders(cfg: Mapping[str, Any], out: dict[str, Any]) -> None:
    """MMCV's ``data=dict(samples_per_gpu, workers_per_gpu, train, val, test)``."""
    data = cfg.get("data")
    if not data:
        return
    batch, workers = data.get("samples_per_gpu", 1), data.get("workers_per_gpu", 0)
    for split, shuffle in (("train", True), ("val", False), ("test", False)):
        dataset = data.get(split)
        if dataset is None or f"{split}_dataloader" in out:
            continue
        options = dict(data.get(f"{split}_dataloader") or {})
        out[f"{split}_dataloader"] = {
            "batch_size": options.pop("samples_per_gpu", batch),
            "num_workers": options.pop("workers_per_gpu", workers),
            "dataset": dataset,
            "sampler": {"type": "DefaultSampler", "shuffle": shuffle},
            "collate_fn": {"type": "default_collate"},
            **options,
        }


def _optim_wrapper(cfg: Mapping[str, Any], out: dict[str, Any]) -> None:
    """``optimizer`` + ``optimizer_config`` (+ ``fp16``) as an ``optim_wrapper`` config."""
    if "optimizer" not in cfg and "optimizer_config" not in cfg:
        return
    if out.get("optim_wrapper"):
        raise ValueError("the config has MMCV's optimizer and optim_wrapper; keep one")
    optimizer = dict(cfg.get("optimizer") or {})
    if not optimizer:
        raise ValueError("optimizer_config needs an optimizer=dict(type=..., lr=...)")
    wrapper: dict[str, Any] = {"type": "OptimWrapper"}
    paramwise_cfg = optimizer.pop("paramwise_cfg", None)
    if paramwise_cfg is not None:
        wrapper["paramwise_cfg"] = paramwise_cfg
    options = dict(cfg.get("optimizer_config") or {})
    hook_type = options.pop("type", "OptimizerHook")
    if hook_type not in _OPTIMIZER_HOOKS:
        raise ValueError(
            f"optimizer_config type {hook_type!r} cannot be translated; use one of "
            f"{sorted(_OPTIMIZER_HOOKS)}"
        )
    wrapper["type"] = _OPTIMIZER_HOOKS[hook_type]
    grad_clip = options.pop("grad_clip", None)
    if grad_clip:
        wrapper["clip_grad"] = dict(grad_clip)
    cumulative = options.pop("cumulative_iters", 1)
    if cumulative != 1:
        wrapper["accumulative_counts"] = cumulative
    if options.pop("detect_anomalous_params", False):
        warnings.warn(
            "optimizer_config's detect_anomalous_params is a debugging aid of MMCV's "
            "OptimizerHook and is not translated; use EpochBasedRunner with OptimizerHook(..., "
            "detect_anomalous_params=True) to find parameters outside the loss",
            UserWarning,
            stacklevel=4,
        )
    fp16 = dict(cfg.get("fp16") or {})
    if fp16 or wrapper["type"] == "AmpOptimWrapper":
        wrapper["type"] = "AmpOptimWrapper"
        loss_scale = options.pop("loss_scale", fp16.pop("loss_scale", "dynamic"))
        wrapper["loss_scale"] = loss_scale
    for accepted in ("coalesce", "bucket_size_mb", "distributed"):  # DDP reduces gradients here
        options.pop(accepted, None)
    if options:
        raise ValueError(f"optimizer_config has {sorted(options)}, which {hook_type} does not take")
    wrapper["optimizer"] = optimizer
    out["optim_wrapper"] = wrapper


def policy_hook_config(config: Mapping[str, Any], suffix: str) -> dict[str, Any]:
    """``dict(policy='step', ...)`` -> ``dict(type='StepLrUpdaterHook', ...)`` by MMCV's rule."""
    cfg = dict(config)
    if "type" in cfg:
        return cfg
    if "policy" not in cfg:
        raise KeyError(f"the {suffix} config {dict(config)!r} names no policy (e.g. policy='step')")
    policy = cfg.pop("policy")
    if policy == policy.lower():
        policy = policy.title()
    return {"type": policy + suffix, **cfg}


def _eval_hook(
    evaluation: Mapping[str, Any], out: dict[str, Any], by_epoch: bool
) -> dict[str, Any]:
    """``evaluation=dict(interval=..., metric=...)`` as an ``EvalHook`` on the validation data.

    MMCV-era tools passed the validation dataloader and these options to
    ``EvalHook``; without a ``val_evaluator`` the loader is the hook's alone.
    """
    hook: dict[str, Any] = {"type": "EvalHook", "by_epoch": by_epoch, **evaluation}
    hook["priority"] = "LOW"  # where MMCV-era libraries registered it
    if out.get("val_evaluator"):
        return hook  # validation through the runner's val loop, on the EvalHook's schedule
    loader = out.pop("val_dataloader", None)
    out.pop("val_cfg", None)
    if loader is None:
        raise ValueError(
            "the config's evaluation needs validation data: give data=dict(val=...) or "
            "val_dataloader"
        )
    hook["dataloader"] = loader
    return hook
