"""Turning the runner's config dicts into objects: dataloaders, loops, optimizers, evaluators.

Each function accepts either a ready object, returned unchanged, or a config dict
built through the registries, so a type from a satellite package that is not
installed fails with the registry's "pip install" message. The `Runner`'s
``build_*`` methods call these; override the methods to change how a part is built.
"""

from __future__ import annotations

import copy
import functools

from ..checkpoint import optimizer_wrappers
from ..dataset._worker_init import worker_init_fn as default_worker_init_fn
from ..dist import broadcast_object, get_rank, get_world_size, sync_random_seed
from ..model._wrapper import unwrap_model
from ..registry._errors import NotRegisteredError
from ..registry._roots import (
    DATA_SAMPLERS,
    DATASETS,
    EVALUATOR,
    FUNCTIONS,
    LOOPS,
    OPTIM_WRAPPER_CONSTRUCTORS,
    OPTIM_WRAPPERS,
    PARAM_SCHEDULERS,
)
from ._loops import BaseLoop, EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from ..registry._registry import Registry

__all__ = [
    "build_dataloader",
    "build_train_loop",
    "build_eval_loop",
    "build_optim_wrapper",
    "build_param_schedulers",
    "build_evaluator",
    "has_built_scheduler",
    "lr_scale_ratio",
    "registered",
]


# ------------------------------------------------------------------ data
def build_dataloader(dataloader: Any, seed: int | None = None, diff_rank_seed: bool = False) -> Any:
    """Build a torch DataLoader from ``dict(dataset=..., sampler=..., batch_size=..., ...)``.

    As in MMEngine, ``collate_fn`` defaults to ``pseudo_collate`` (a
    ``dict(type=...)`` names a `FUNCTIONS` entry, its other keys bound with
    `functools.partial`; a callable is used as it is), ``worker_init_fn`` to one
    seeding each worker from `seed`, ``batch_sampler`` and ``num_batch_per_epoch``
    are read, and a dataset built from a config gets its ``full_init()``.

    Unlike MMEngine, the sampler defaults to ``DefaultSampler`` (with the
    torch-style ``shuffle`` key, default True), and `seed` None means one seed
    drawn and shared by the ranks, not an unseeded sampler: the sampler and the
    loader's own generator always get a seed, so the data order is a function
    of the seed and the epoch, which is what makes resume exact. With
    `diff_rank_seed` the sampler takes rank 0's seed, so every rank computes the
    same order while their other random streams differ.
    """
    if not isinstance(dataloader, dict):
        return dataloader
    import torch
    from torch.utils.data import DataLoader

    args = dict(dataloader)
    if "dataset" not in args:
        raise ValueError(f"a dataloader config needs a 'dataset', got keys {sorted(dataloader)}")
    seed = sync_random_seed() if seed is None else seed
    dataset = _build_dataset(args.pop("dataset"), args)
    sampler = _build_sampler(args, dataset, broadcast_object(seed) if diff_rank_seed else seed)
    batch_sampler = args.pop("batch_sampler", None)
    if isinstance(batch_sampler, dict):
        defaults = {"sampler": sampler}
        if "batch_size" in args:
            defaults["batch_size"] = args.pop("batch_size")
        batch_sampler = DATA_SAMPLERS.build(batch_sampler, default_args=defaults)
    if batch_sampler is not None:
        sampler = None  # a DataLoader takes one or the other
    args.setdefault("generator", torch.Generator().manual_seed(seed))
    return DataLoader(
        dataset,
        sampler=sampler,
        batch_sampler=batch_sampler,
        collate_fn=_function(args.pop("collate_fn", {"type": "pseudo_collate"}), "collate_fn"),
        worker_init_fn=_worker_init_fn(args, seed),
        **args,
    )


def _build_dataset(dataset: Any, args: dict[str, Any]) -> Any:
    """The dataset, built and fully initialised from a config; ``num_batch_per_epoch`` cuts it."""
    if isinstance(dataset, dict):
        dataset = DATASETS.build(dataset)
        full_init = getattr(dataset, "full_init", None)
        if full_init is not None:
            full_init()
    num_batches = args.pop("num_batch_per_epoch", None)
    if num_batches is not None:
        batch_sampler = args.get("batch_sampler")
        batch_size = args.get("batch_size")
        if batch_size is None and isinstance(batch_sampler, dict):
            batch_size = batch_sampler.get("batch_size")
        if batch_size is None:
            raise ValueError(
                "num_batch_per_epoch needs the batch size: give the dataloader config a "
                "batch_size (or its batch_sampler one)"
            )
        dataset = _SlicedDataset(dataset, num_batches * batch_size * get_world_size())
    return dataset


def _build_sampler(args: dict[str, Any], dataset: Any, seed: int) -> Any:
    """The config's ``sampler`` (a ``DefaultSampler`` by default) over `dataset`, seeded."""
    shuffle = args.pop("shuffle", None)
    if shuffle is not None and "sampler" in args:
        raise ValueError(
            "a dataloader config takes 'shuffle' or 'sampler', not both: "
            "move it into the sampler: sampler=dict(type='DefaultSampler', shuffle=False)"
        )
    default = {"type": "DefaultSampler", "shuffle": True if shuffle is None else shuffle}
    sampler = args.pop("sampler", default)
    if isinstance(sampler, dict):
        return DATA_SAMPLERS.build(sampler, default_args={"dataset": dataset, "seed": seed})
    return sampler


def _worker_init_fn(args: dict[str, Any], seed: int) -> Callable[[int], None]:
    """The config's ``worker_init_fn`` (``dict(type=..., **kwargs)``), else the seeding one."""
    disable_warning = args.pop("disable_subprocess_warning", False)
    if not isinstance(disable_warning, bool):
        raise TypeError(
            f"disable_subprocess_warning must be a bool, got {type(disable_warning).__name__}"
        )
    if "worker_init_fn" in args:
        return _function(args.pop("worker_init_fn"), "worker_init_fn")
    return functools.partial(
        default_worker_init_fn,
        num_workers=args.get("num_workers", 0),
        rank=get_rank(),
        seed=seed,
        disable_subprocess_warning=disable_warning,
    )


def _function(cfg: Any, key: str) -> Callable[..., Any]:
    """A function from ``dict(type=name_or_callable, **bound_kwargs)``, or a callable as it is."""
    if callable(cfg):
        return cfg  # type: ignore[no-any-return]
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise TypeError(
            f"{key} must be a callable or dict(type=...) naming a FUNCTIONS entry "
            f"(e.g. dict(type='default_collate')), got {cfg!r}"
        )
    kwargs = dict(cfg)
    function = kwargs.pop("type")
    if isinstance(function, str):
        function = registered(FUNCTIONS, function)
    return functools.partial(function, **kwargs)


class _SlicedDataset:
    """The first `length` samples of a dataset; other attributes are the dataset's."""

    def __init__(self, dataset: Any, length: int) -> None:
        self._dataset = dataset
        self._length = min(length, len(dataset))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dataset, name)

    def __getitem__(self, index: int) -> Any:
        return self._dataset[index]

    def __len__(self) -> int:
        return self._length


# ------------------------------------------------------------------ loops
def build_train_loop(runner: Any, cfg: Any, dataloader: Any) -> Any:
    """Build the training loop from `train_cfg`.

    ``dict(by_epoch=True, max_epochs=N, ...)`` gives an `EpochBasedTrainLoop`,
    ``dict(by_epoch=False, max_iters=N, ...)`` an `IterBasedTrainLoop` (without
    ``by_epoch``, ``max_epochs`` decides), and ``dict(type=...)`` any registered loop.
    """
    if isinstance(cfg, BaseLoop):
        return cfg
    if not isinstance(cfg, dict):
        raise TypeError(f"train_cfg must be a loop or a dict, got {type(cfg).__name__}: {cfg!r}")
    args = copy.deepcopy(cfg)
    if "type" in args:
        if "by_epoch" in args:  # e.g. merged from a _base_ config: fine if the loop agrees
            loop_type = args["type"]
            if isinstance(loop_type, str):
                loop_type = registered(LOOPS, loop_type)
            if getattr(loop_type, "by_epoch", None) != args.pop("by_epoch"):
                raise RuntimeError(
                    f"train_cfg takes 'type' or 'by_epoch', not both: {cfg['type']!r} "
                    f"{'does not count' if cfg['by_epoch'] else 'counts'} in epochs; "
                    "remove by_epoch"
                )
        return LOOPS.build(args, default_args={"runner": runner, "dataloader": dataloader})
    by_epoch = args.pop("by_epoch", "max_epochs" in args)
    loop_type = EpochBasedTrainLoop if by_epoch else IterBasedTrainLoop
    return loop_type(runner=runner, dataloader=dataloader, **args)


def build_eval_loop(runner: Any, cfg: Any, dataloader: Any, evaluator: Any, mode: str) -> Any:
    """Build the validation (`mode='val'`) or test loop; ``dict()`` gives the default one."""
    if isinstance(cfg, BaseLoop):
        return cfg
    if not isinstance(cfg, dict):
        raise TypeError(f"{mode}_cfg must be a loop or a dict, got {type(cfg).__name__}: {cfg!r}")
    args = copy.deepcopy(cfg)
    parts = {"runner": runner, "dataloader": dataloader, "evaluator": evaluator}
    if "type" in args:
        return LOOPS.build(args, default_args=parts)
    loop_type = ValLoop if mode == "val" else TestLoop
    return loop_type(**args, **parts)


# ------------------------------------------------------------------ optimization
def build_optim_wrapper(cfg: Any, model: Any) -> Any:
    """Build the optimizer wrapper of `model`, as MMEngine does.

    A config with ``optimizer`` (or ``constructor``) is built by its constructor
    (``DefaultOptimWrapperConstructor`` unless named, with its ``paramwise_cfg``);
    one whose ``optimizer`` is a built torch optimizer by `OPTIM_WRAPPERS`
    (type ``OptimWrapper`` unless named). A dict of wrappers by name gives an
    ``OptimWrapperDict``; unlike MMEngine, its values may also be configs, each
    built over ``model.<name>``. Anything else is taken as a ready wrapper.
    """
    if not isinstance(cfg, dict):
        return cfg
    import torch

    args = dict(cfg)
    optimizer = args.get("optimizer")
    if isinstance(optimizer, torch.optim.Optimizer):
        args.setdefault("type", "OptimWrapper")
        return OPTIM_WRAPPERS.build(args)
    if optimizer is not None or "constructor" in args:
        constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
            {
                "type": args.pop("constructor", "DefaultOptimWrapperConstructor"),
                "optim_wrapper_cfg": args,
                "paramwise_cfg": args.pop("paramwise_cfg", None),
            }
        )
        return constructor(model)
    if not args or "type" in args:
        raise ValueError(
            f"optim_wrapper config {cfg!r} has no 'optimizer': give "
            "dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=...)), a 'constructor', "
            "or one wrapper (or config) per part of the model"
        )
    target = unwrap_model(model)
    wrappers = {
        name: build_optim_wrapper(sub, getattr(target, name)) if isinstance(sub, dict) else sub
        for name, sub in args.items()
    }
    return OPTIM_WRAPPERS.build({"type": "OptimWrapperDict", **wrappers})


def build_param_schedulers(cfg: Any, optim_wrapper: Any, loop: Any) -> Any:
    """Build the schedulers of the built `optim_wrapper`, as MMEngine does.

    With one optimizer wrapper: a list, from one scheduler, a list of them or
    configs. With an ``OptimWrapperDict``: a dict of lists, one per wrapper,
    from a dict of configs by name (``dict(generator=[...], ...)``) or the same
    configs for every wrapper. A scheduler config without ``end`` runs to the
    end of training: ``max_epochs`` for an epoch-based one, ``max_iters``
    otherwise. One converted from epochs to iterations keeps its own default
    (no end), since the end of an iteration-based run is not a whole number of epochs.
    """
    wrappers = optimizer_wrappers(optim_wrapper)
    if list(wrappers) == [None]:  # one wrapper, not an OptimWrapperDict
        if isinstance(cfg, dict) and "type" not in cfg:
            raise ValueError(
                f"param_scheduler has a config per optimizer ({', '.join(map(str, cfg))}) but "
                "the optim_wrapper is a single one: give a list of scheduler configs"
            )
        return _build_schedulers(cfg, optim_wrapper, loop, "param_scheduler")
    per_name = isinstance(cfg, dict) and "type" not in cfg
    return {
        name: _build_schedulers(
            cfg[name] if per_name else cfg,
            wrapper,
            loop,
            f"param_scheduler[{name!r}]" if per_name else "param_scheduler",
        )
        for name, wrapper in wrappers.items()
    }


def _build_schedulers(cfg: Any, optim_wrapper: Any, loop: Any, where: str) -> list[Any]:
    """Build the configs of `cfg` (one or a list); `where` names it in errors."""
    several = isinstance(cfg, (list, tuple))
    schedulers = []
    for index, item in enumerate(cfg if several else [cfg]):
        scheduler = item
        if isinstance(item, dict):
            defaults: dict[str, Any] = {"optimizer": optim_wrapper}
            if item.get("convert_to_iter_based"):
                defaults["epoch_length"] = len(loop.dataloader)
            elif "end" not in item:
                defaults["end"] = loop.max_epochs if item.get("by_epoch", True) else loop.max_iters
            scheduler = PARAM_SCHEDULERS.build(copy.deepcopy(item), default_args=defaults)
        _check_scheduler_unit(scheduler, loop, f"{where}[{index}]" if several else where)
        schedulers.append(scheduler)
    return schedulers


def _check_scheduler_unit(scheduler: Any, loop: Any, where: str) -> None:
    """Refuse an epoch-based scheduler in an iteration-based loop (MMEngine accepts it silently).

    Such a loop ends its one "epoch" after the last iteration, so the scheduler
    would step once, when nothing is left to train. A metric-driven one
    (``need_val_args``, e.g. ``ReduceOnPlateauLR``) is fine: it reacts to every validation.

    Raises:
        ValueError: naming the scheduler (`where`, type) and both fixes.
    """
    if (
        getattr(loop, "by_epoch", True)  # the loop types' class attribute
        or not getattr(scheduler, "by_epoch", False)
        or getattr(scheduler, "need_val_args", False)
    ):
        return
    raise ValueError(
        f"{where} ({type(scheduler).__name__}) is epoch-based (by_epoch=True, the default) but "
        f"training runs in iterations ({type(loop).__name__}), so it would step only once, "
        "after the last iteration. Give it by_epoch=False with begin, end and milestones in "
        "iterations, or convert_to_iter_based=True to keep them in epochs (passes over "
        "train_dataloader)"
    )


def has_built_scheduler(schedulers: Any) -> bool:
    """Whether `schedulers` (a config, a list, a dict by name) holds a built scheduler."""
    if schedulers is None:
        return False
    if isinstance(schedulers, dict):
        return "type" not in schedulers and any(map(has_built_scheduler, schedulers.values()))
    if isinstance(schedulers, (list, tuple)):
        return any(map(has_built_scheduler, schedulers))
    return True


def lr_scale_ratio(auto_scale_lr: Mapping[str, Any], dataloader: Any, world_size: int) -> Any:
    """MMEngine's linear scaling rule: the real batch size (all ranks) over ``base_batch_size``.

    Returns:
        ``(base_batch_size, real_batch_size, ratio)``.
    """
    if "base_batch_size" not in auto_scale_lr:
        raise ValueError(
            f"auto_scale_lr needs 'base_batch_size', the batch size its learning rate was set "
            f"for, got {dict(auto_scale_lr)!r}"
        )
    batch_size = (
        dataloader.get("batch_size") if isinstance(dataloader, dict) else dataloader.batch_size
    )
    if not isinstance(batch_size, int):
        raise ValueError(
            "auto_scale_lr needs the training batch size: give train_dataloader a batch_size"
        )
    base, real = auto_scale_lr["base_batch_size"], batch_size * world_size
    return base, real, float(real) / float(base)


# ------------------------------------------------------------------ evaluation
def build_evaluator(cfg: Any) -> Any:
    """Build an evaluator, as MMEngine does.

    A dict with ``metrics`` is an evaluator config (type ``Evaluator`` unless
    named); any other dict, or a list, gives the metrics of an ``Evaluator``.
    Anything else is taken as a ready evaluator.
    """
    if isinstance(cfg, dict) and "metrics" in cfg:
        return EVALUATOR.build({"type": "Evaluator", **cfg})
    if isinstance(cfg, (dict, list, tuple)):
        return EVALUATOR.build({"type": "Evaluator", "metrics": cfg})
    return cfg


# ------------------------------------------------------------------ registries
def registered(registry: Registry, name: str) -> Any:
    """The object `registry` has as `name`; an unknown one raises with the package to install."""
    found = registry.get(name)
    if found is None:  # the registry's own message: close matches, the package to install
        raise NotRegisteredError(registry._unknown_message(name))
    return found
