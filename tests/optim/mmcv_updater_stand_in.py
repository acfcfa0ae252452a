"""A runner stand-in for MMCV's updater hooks, and the call order of MMCV's two runners.

MMCV's LR and momentum hooks read only ``optimizer``, ``epoch``, ``iter``,
``max_epochs``, ``max_iters`` and ``data_loader``; `drive` calls their points as
``EpochBasedRunner`` does (``before_train_epoch`` then ``before_train_iter``) or as
``IterBasedRunner`` does (``before_train_iter`` only), and reads a value after each.
"""

from __future__ import annotations

from typing import Any

import torch

EPOCHS, EPOCH_LENGTH = 10, 20  # 200 iterations


class UpdaterRunner:
    """``runner.optimizer`` and the counters, as the updater hooks read them."""

    def __init__(self, optimizer: Any, max_epochs: int = EPOCHS, epoch_length: int = EPOCH_LENGTH):
        self.optimizer = optimizer
        self.epoch = 0
        self.iter = 0
        self.max_epochs = max_epochs
        self.max_iters = max_epochs * epoch_length
        self.data_loader = range(epoch_length)


def sgd(lrs: tuple[float, ...] = (0.1, 0.05), momenta: tuple[float, ...] = (0.9, 0.8)) -> Any:
    """An SGD with one param group per learning rate."""
    torch.manual_seed(0)
    groups = [
        {"params": [torch.nn.Parameter(torch.randn(2))], "lr": lr, "momentum": m}
        for lr, m in zip(lrs, momenta, strict=True)
    ]
    return torch.optim.SGD(groups, lr=lrs[0])


def adam(lr: float = 0.02, beta1: float = 0.9) -> Any:
    torch.manual_seed(1)
    return torch.optim.Adam([torch.nn.Parameter(torch.randn(2))], lr=lr, betas=(beta1, 0.999))


def read(optimizer: Any, key: str) -> list[float]:
    """`key` of each group: ``lr``, or ``momentum`` (``betas[0]`` for Adam)."""
    groups = optimizer.param_groups
    if key == "lr":
        return [g["lr"] for g in groups]
    return [g["momentum"] if "momentum" in g else g["betas"][0] for g in groups]


def drive(
    hook: Any, runner: UpdaterRunner, key: str, runner_kind: str = "epoch"
) -> list[list[float]]:
    """Each iteration's values as MMCV's epoch- or iteration-based runner leaves them."""
    hook.before_run(runner)
    values = []
    epoch_length = len(runner.data_loader)
    for epoch in range(runner.max_epochs):
        if runner_kind == "epoch":
            runner.epoch = epoch
            hook.before_train_epoch(runner)
        for inner in range(epoch_length):
            runner.iter = epoch * epoch_length + inner
            hook.before_train_iter(runner)
            values.append(read(runner.optimizer, key))
    return values
