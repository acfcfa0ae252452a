"""The optimizer wrapper tests' model: the shared toy model, seeded, without dropout."""

from __future__ import annotations

import torch
from toy import ToyModel


class Regressor(ToyModel):
    """A deterministic two-layer MLP (``net[0]`` and ``net[2]`` are its linear layers)."""

    def __init__(self, seed: int = 0) -> None:
        torch.manual_seed(seed)
        super().__init__(dropout=0.0)
