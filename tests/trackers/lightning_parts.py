"""A tiny Lightning regression module and its data, for the Lightning adapter's tests."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset


class Regression(pl.LightningModule):
    """y = x @ w by a linear layer, trained with SGD at `lr` (a saved hyperparameter)."""

    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(3, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        inputs, targets = batch
        loss = torch.nn.functional.mse_loss(self.net(inputs), targets)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        inputs, targets = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(inputs), targets))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams["lr"])


def loaders() -> tuple[DataLoader[Any], DataLoader[Any]]:
    """Training (4 batches of 8) and validation (2 of 16) loaders over the same fixed data."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(32, 3, generator=generator)
    targets = inputs @ torch.tensor([[1.0], [-1.0], [2.0]])
    data = TensorDataset(inputs, targets)
    return DataLoader(data, batch_size=8), DataLoader(data, batch_size=16)
