"""Tiny real parts for the optimizer wrapper tests: a regression model and its dataset."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from hooks_core import BaseModel


class RegressionData(Dataset[dict[str, torch.Tensor]]):
    """A fixed random regression problem: y = x @ w + noise, 4 features."""

    def __init__(self, size: int = 24, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(size, 4, generator=generator)
        weight = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
        self.targets = self.inputs @ weight + 0.1 * torch.randn(size, 1, generator=generator)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.inputs[index], "targets": self.targets[index]}


class Regressor(BaseModel):
    """A two-layer MLP with a mean squared error loss."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))

    def forward(
        self, inputs: torch.Tensor, targets: torch.Tensor | None = None, mode: str = "tensor"
    ) -> Any:
        prediction = self.net(inputs)
        if mode == "loss":
            return {"loss": nn.functional.mse_loss(prediction, targets)}
        if mode == "predict":
            return [{"prediction": prediction, "target": targets}]
        return prediction
