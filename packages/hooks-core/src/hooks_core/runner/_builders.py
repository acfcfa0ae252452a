"""Turning the runner's config dicts into objects: dataloaders, loops, optimizers, evaluators.

Each function accepts either a ready object, returned unchanged, or a config dict
built through the registries, so a type from a satellite package that is not
installed fails with the registry's "pip install" message.
"""

from __future__ import annotations

import copy

from ..model._wrapper import unwrap_model
from ..registry._roots import (
    DATA_SAMPLERS,
    DATASETS,
    EVALUATOR,
    LOOPS,
    OPTIM_WRAPPER_CONSTRUCTORS,
    OPTIM_WRAPPERS,
    PARAM_SCHEDULERS,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "build_dataloader",
    "build_train_loop",
    "build_eval_loop",
    "build_optim_wrapper",
    "build_param_schedulers",
    "build_evaluator",
]


def build_dataloader(cfg: Any, seed: int) -> Any:
    """Build a torch DataLoader from ``dict(dataset=..., sampler=..., batch_size=..., ...)``.

    The sampler defaults to ``DefaultSampler(shuffle=True)`` and gets the run's
    seed, and the loader gets a generator of its own, so the data order is a
    function of the seed and the epoch: that is what makes resume exact.
    """
    if not isinstance(cfg, dict):
        return cfg
    import torch
    from torch.utils.data import DataLoader

    args = copy.copy(cfg)
    dataset = args.pop("dataset", None)
    if dataset is None:
        raise ValueError(f"a dataloader config needs a 'dataset', got keys {sorted(cfg)}")
    if isinstance(dataset, dict):
        dataset = DATASETS.build(dataset)
    shuffle = args.pop("shuffle", None)
    if shuffle is not None and "sampler" in args:
        raise ValueError(
            "a dataloader config takes 'shuffle' or 'sampler', not both: "
            "move it into the sampler: sampler=dict(type='DefaultSampler', shuffle=False)"
        )
    default_sampler = {"type": "DefaultSampler", "shuffle": True if shuffle is None else shuffle}
    sampler_cfg = args.pop("sampler", default_sampler)
    sampler = (
        DATA_SAMPLERS.build(sampler_cfg, default_args={"dataset": dataset, "seed": seed})
        if isinstance(sampler_cfg, dict)
        else sampler_cfg
    )
    args.setdefault("generator", torch.Generator().manual_seed(seed))
    return DataLoader(dataset, sampler=sampler, **args)


def build_train_loop(runner: Any, cfg: Any, dataloader: Any) -> Any:
    """Build the training loop from `train_cfg`.

    ``dict(by_epoch=True, max_epochs=N, ...)`` gives an `EpochBasedTrainLoop`,
    ``dict(by_epoch=False, max_iters=N, ...)`` an `IterBasedTrainLoop`, and
    ``dict(type=...)`` any registered loop.
    """
    if not isinstance(cfg, dict):
        return cfg
    args = dict(cfg)
    if "type" not in args:
        by_epoch = args.pop("by_epoch", "max_epochs" in args)
        args["type"] = "EpochBasedTrainLoop" if by_epoch else "IterBasedTrainLoop"
    return LOOPS.build(args, default_args={"runner": runner, "dataloader": dataloader})


def build_eval_loop(runner: Any, cfg: Any, dataloader: Any, evaluator: Any, mode: str) -> Any:
    """Build the validation (`mode='val'`) or test loop; ``dict()`` gives the default one."""
    if not isinstance(cfg, dict):
        return cfg
    args = dict(cfg)
    args.setdefault("type", "ValLoop" if mode == "val" else "TestLoop")
    defaults = {"runner": runner, "dataloader": dataloader, "evaluator": evaluator}
    return LOOPS.build(args, default_args=defaults)


def build_optim_wrapper(cfg: Any, model: Any) -> Any:
    """Build the optimizer wrapper through a constructor (``DefaultOptimWrapperConstructor``).

    ``constructor`` and ``paramwise_cfg`` keys of the config choose the
    constructor and its per-parameter settings, as in MMEngine. A dict of such
    configs, one per part of the model (``dict(generator=..., discriminator=...)``),
    builds an ``OptimWrapperDict``, each wrapper over ``model.<name>``.
    """
    if not isinstance(cfg, dict):
        return cfg
    if _is_per_module(cfg):
        wrappers = {
            name: build_optim_wrapper(sub, getattr(unwrap_model(model), name))
            for name, sub in cfg.items()
        }
        return OPTIM_WRAPPERS.build({"type": "OptimWrapperDict", **wrappers})
    args = dict(cfg)
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        {
            "type": args.pop("constructor", "DefaultOptimWrapperConstructor"),
            "optim_wrapper_cfg": args,
            "paramwise_cfg": args.pop("paramwise_cfg", None),
        }
    )
    return constructor(model)


def build_param_schedulers(cfg: Any, optim_wrapper: Any, loop: Any) -> Any:
    """Build one scheduler, a list of them, or a dict of lists (one per optimizer).

    As in MMEngine, a scheduler config without ``end`` runs to the end of
    training: ``max_epochs`` for an epoch-based one, ``max_iters`` otherwise.
    One converted from epochs to iterations keeps its own default (no end),
    since the end of an iteration-based run is not a whole number of epochs.
    """
    if cfg is None:
        return None
    if isinstance(cfg, dict) and "type" not in cfg:  # one list per named optimizer
        return {
            name: build_param_schedulers(sub, optim_wrapper[name], loop)
            for name, sub in cfg.items()
        }
    epoch_length = len(loop.dataloader)
    items = cfg if isinstance(cfg, (list, tuple)) else [cfg]
    schedulers = []
    for item in items:
        if not isinstance(item, dict):
            schedulers.append(item)
            continue
        defaults: dict[str, Any] = {"optimizer": optim_wrapper}
        if item.get("convert_to_iter_based"):
            defaults["epoch_length"] = epoch_length
        elif "end" not in item:
            defaults["end"] = loop.max_epochs if item.get("by_epoch", True) else loop.max_iters
        schedulers.append(PARAM_SCHEDULERS.build(item, default_args=defaults))
    return schedulers


def build_evaluator(cfg: Any) -> Any:
    """Build an evaluator from its config, a metric config, or a list of metric configs."""
    if cfg is None or not isinstance(cfg, (dict, list, tuple)):
        return cfg
    if isinstance(cfg, dict) and isinstance(cfg.get("type"), str) and cfg["type"] in EVALUATOR:
        return EVALUATOR.build(cfg)
    return EVALUATOR.build({"type": "Evaluator", "metrics": cfg})


def _is_per_module(cfg: dict[str, Any]) -> bool:
    """A dict of optimizer-wrapper configs keyed by submodule, rather than one config."""
    own_keys = {"type", "optimizer", "constructor", "paramwise_cfg"}
    return bool(cfg) and not own_keys & set(cfg) and all(isinstance(v, dict) for v in cfg.values())
