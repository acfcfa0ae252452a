"""Draw the learning-rate (and momentum) schedule of a config to a PNG, without training.

The config is a config file (Python, YAML; ``_base_`` is followed) defining ``optim_wrapper`` (with
``optimizer=dict(type=..., lr=...)``), ``param_scheduler`` and ``train_cfg``
(``by_epoch``/``max_epochs`` or ``max_iters``). The schedulers are built
through the registries exactly as the runner builds them, and stepped as
`ParamSchedulerHook` steps them: iteration-based ones after every iteration,
epoch-based ones after every epoch. Checking a schedule this way takes a
second instead of a training run (MMCV's and MMClassification's advice).

Usage::

    python tools/vis_scheduler.py tools/examples/warmup_cosine.py --out lr.png \\
        --dataset-size 12800 --batch-size 64
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import torch

from hooks_core import OPTIMIZERS, PARAM_SCHEDULERS, load_config
from hooks_optim import _schedulers
from hooks_optim._param_scheduler_hook import ParamSchedulerHook

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

with contextlib.suppress(ImportError):  # registers the torch.optim optimizers by name
    import hooks_optim._optimizers  # noqa: F401

__all__ = ["load_config", "simulate", "plot", "main"]

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
    by_epoch = train_cfg.get("by_epoch", "max_epochs" in train_cfg)
    if batch_size is None:
        batch_size = int(dict(cfg.get("train_dataloader") or {}).get("batch_size", 1))
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="a Python config file")
    parser.add_argument("--out", default="lr.png", help="the PNG to write")
    parser.add_argument("--dataset-size", type=int, help="training samples per epoch")
    parser.add_argument("--batch-size", type=int, help="samples per iteration")
    parser.add_argument("--title", help="the figure's title (default: the config's path)")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    values = simulate(cfg, args.dataset_size, args.batch_size)
    batch_size = args.batch_size or dict(cfg.get("train_dataloader") or {}).get("batch_size", 1)
    epoch_length = math.ceil(args.dataset_size / batch_size) if args.dataset_size else None
    plot(values, args.out, args.title or args.config, epoch_length)
    print(f"wrote {args.out}: {len(values['lr'])} iterations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
