"""Draw the learning-rate (and momentum) schedule of a config to a PNG, without training.

The config is a config file (Python, YAML; ``_base_`` is followed) defining ``optim_wrapper`` (with
``optimizer=dict(type=..., lr=...)``), ``param_scheduler`` and ``train_cfg``
(``by_epoch``/``max_epochs`` or ``max_iters``). The schedulers are built
through the registries exactly as the runner builds them, and stepped as
`ParamSchedulerHook` steps them: iteration-based ones after every iteration,
epoch-based ones after every epoch. Checking a schedule this way takes a
second instead of a training run (MMCV's and MMClassification's advice).

An epoch-based schedule (or one with ``convert_to_iter_based``) needs the
number of training samples per epoch: ``--dataset-size N``, or, without it,
the length of the config's ``train_dataloader.dataset``, built through the
``DATASETS`` registry after the config's ``custom_imports``. When that data
set cannot be built, the tool says so in one line and exits with status 2.

Usage::

    python tools/vis_scheduler.py tools/examples/warmup_cosine.py --out lr.png \\
        --dataset-size 12800 --batch-size 64
    python tools/vis_scheduler.py configs/digits/digits_cnn.py --out lr.png  # size from the config
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import torch

from hooks_core import DATASETS, OPTIMIZERS, PARAM_SCHEDULERS, import_custom_modules, load_config
from hooks_optim import _schedulers
from hooks_optim._param_scheduler_hook import ParamSchedulerHook

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

with contextlib.suppress(ImportError):  # registers the torch.optim optimizers by name
    import hooks_optim._optimizers  # noqa: F401

__all__ = ["load_config", "needs_dataset_size", "dataset_size", "simulate", "plot", "main"]

assert _schedulers  # importing it registers the schedulers


def simulate(
    cfg: Mapping[str, Any], dataset_size: int | None = None, batch_size: int | None = None
) -> dict[str, list[float]]:
    """Step the config's schedulers over the whole run; return the values of every iteration.

    Args:
        cfg: A config with ``optim_wrapper``, ``param_scheduler`` and ``train_cfg``.
        dataset_size: Samples per epoch; required for epoch-based training and
            for ``convert_to_iter_based`` schedulers.
        batch_size: Samples per iteration; defaults to
            ``train_dataloader['batch_size']`` from the config, or 1.

    Returns:
        ``{'lr': [...], 'momentum': [...]}``: the value each iteration trains
        with (first param group); ``momentum`` only if the optimizer has one
        (``momentum`` or Adam's ``betas[0]``).
    """
    train_cfg = dict(cfg["train_cfg"])
    by_epoch = _by_epoch(train_cfg)
    batch_size = _batch_size(cfg, batch_size)
    if dataset_size is None:
        if by_epoch:
            raise ValueError("an epoch-based schedule needs the dataset size (--dataset-size)")
        epoch_length = int(train_cfg["max_iters"])
    else:
        epoch_length = math.ceil(dataset_size / batch_size)
    optimizer = _build_optimizer(cfg["optim_wrapper"])
    runner = SimpleNamespace(
        param_schedulers=_build_schedulers(cfg["param_scheduler"], optimizer, epoch_length)
    )
    hook = ParamSchedulerHook()
    hook.before_train(runner)
    epochs, per_epoch = (
        (int(train_cfg["max_epochs"]), epoch_length)
        if by_epoch
        else (1, int(train_cfg["max_iters"]))
    )
    values: dict[str, list[float]] = {"lr": []}
    group = optimizer.param_groups[0]
    has_momentum = "momentum" in group or "betas" in group
    if has_momentum:
        values["momentum"] = []
    iteration = 0
    for _ in range(epochs):
        for _ in range(per_epoch):
            values["lr"].append(float(group["lr"]))
            if has_momentum:
                momentum = group["momentum"] if "momentum" in group else group["betas"][0]
                values["momentum"].append(float(momentum))
            hook.after_train_iter(runner, iteration)
            iteration += 1
        hook.after_train_epoch(runner)
    return values


def _by_epoch(train_cfg: Mapping[str, Any]) -> bool:
    """Whether the run counts epochs: ``by_epoch``, or else whether it names ``max_epochs``."""
    return bool(train_cfg.get("by_epoch", "max_epochs" in train_cfg))


def _batch_size(cfg: Mapping[str, Any], batch_size: int | None = None) -> int:
    """`batch_size` if given, else the config's ``train_dataloader['batch_size']``, else 1."""
    if batch_size is not None:
        return batch_size
    return int(dict(cfg.get("train_dataloader") or {}).get("batch_size", 1))


def needs_dataset_size(cfg: Mapping[str, Any]) -> bool:
    """Whether the schedule depends on the epoch length: epoch-based training or a converted one."""
    schedulers = cfg.get("param_scheduler") or []
    items = schedulers if isinstance(schedulers, (list, tuple)) else [schedulers]
    converted = any(isinstance(i, dict) and i.get("convert_to_iter_based") for i in items)
    return converted or _by_epoch(dict(cfg.get("train_cfg") or {}))


def dataset_size(cfg: Mapping[str, Any]) -> int:
    """The length of the config's ``train_dataloader.dataset``, built as the runner builds it.

    The config's ``custom_imports`` are imported first, so a data set type
    defined next to the config is registered.

    Raises:
        ValueError: there is no ``train_dataloader.dataset``, or it cannot be
            built or has no length; the message says why in one line.
    """
    dataset = dict(cfg.get("train_dataloader") or {}).get("dataset")
    if dataset is None:
        raise ValueError("the config has no train_dataloader.dataset")
    try:
        import_custom_modules(cfg)
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dict(dataset))
        return len(dataset)
    except Exception as exc:  # a user's data set may fail in any way; the caller reports it
        raise ValueError(f"building train_dataloader.dataset failed: {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    """The exception's type and the first line of its message (a KeyError's without quotes)."""
    text = str(exc.args[0]) if len(exc.args) == 1 else str(exc)
    first = text.strip().splitlines()[0].rstrip(". ") if text.strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _build_optimizer(optim_wrapper: Mapping[str, Any]) -> torch.optim.Optimizer:
    optimizer_cfg = dict(optim_wrapper["optimizer"])
    optimizer_cfg["params"] = [torch.nn.Parameter(torch.zeros(1))]
    optimizer: torch.optim.Optimizer = OPTIMIZERS.build(optimizer_cfg)
    return optimizer


def _build_schedulers(cfg: Any, optimizer: Any, epoch_length: int) -> list[Any]:
    """Build like the runner: ``epoch_length`` only for ``convert_to_iter_based`` configs."""
    if isinstance(cfg, dict) and "type" not in cfg:
        raise ValueError("the tool draws one optimizer's schedule, not a dict per optimizer")
    schedulers = []
    for item in cfg if isinstance(cfg, (list, tuple)) else [cfg]:
        defaults: dict[str, Any] = {"optimizer": optimizer}
        if item.get("convert_to_iter_based"):
            defaults["epoch_length"] = epoch_length
        schedulers.append(PARAM_SCHEDULERS.build(dict(item), default_args=defaults))
    return schedulers


def plot(
    values: Mapping[str, Sequence[float]],
    out: str,
    title: str | None = None,
    epoch_length: int | None = None,
) -> None:
    """Draw each recorded curve against the iteration, one panel per value, to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(values), 1, sharex=True, figsize=(8, 2.8 * len(values)))
    axes = list(axes) if len(values) > 1 else [axes]
    for ax, (name, curve) in zip(axes, values.items(), strict=True):
        ax.plot(range(len(curve)), curve, linewidth=1.5)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if epoch_length:
            secondary = ax.secondary_xaxis(
                "top", functions=(lambda x: x / epoch_length, lambda e: e * epoch_length)
            )
            if ax is axes[0]:
                secondary.set_xlabel("epoch")
    axes[-1].set_xlabel("iteration")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _resolve_dataset_size(cfg: Mapping[str, Any], given: int | None) -> int | None:
    """`given`, or the config's data set length when the schedule needs one and none was given."""
    if given is not None or not needs_dataset_size(cfg):
        return given
    return dataset_size(cfg)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="a Python config file")
    parser.add_argument("--out", default="lr.png", help="the PNG to write")
    parser.add_argument(
        "--dataset-size",
        type=int,
        help="training samples per epoch (default: the length of train_dataloader.dataset)",
    )
    parser.add_argument("--batch-size", type=int, help="samples per iteration")
    parser.add_argument("--title", help="the figure's title (default: the config's path)")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    try:
        size = _resolve_dataset_size(cfg, args.dataset_size)
    except ValueError as exc:
        print(
            f"{parser.prog}: error: cannot tell the epoch length of {args.config}: {exc}; "
            "pass --dataset-size N (training samples per epoch)",
            file=sys.stderr,
        )
        return 2
    values = simulate(cfg, size, args.batch_size)
    epoch_length = math.ceil(size / _batch_size(cfg, args.batch_size)) if size else None
    plot(values, args.out, args.title or args.config, epoch_length)
    source = " (dataset size read from the config)" if size and args.dataset_size is None else ""
    print(f"wrote {args.out}: {len(values['lr'])} iterations{source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
