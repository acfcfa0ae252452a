"""The baseline every runner benchmark compares with: a hand-written loop over a DataLoader."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.data import Dataset


def train_plain(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    dataset: Dataset[tuple[torch.Tensor, torch.Tensor]],
    batch_size: int,
    iters: int,
    seed: int = 0,
) -> float:
    """Train `iters` iterations with cross-entropy over a shuffling DataLoader; return seconds."""
    model.train()
    start = time.perf_counter()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))  # fmt: skip
    done = 0
    while done < iters:
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == iters:
                return time.perf_counter() - start
    return time.perf_counter() - start
