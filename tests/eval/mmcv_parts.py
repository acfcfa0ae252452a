"""Tiny MMCV 1.x-style parts for the MMCV evaluation and checkpoint tests.

The model is called as MMCV models are: ``train_step(data_batch, optimizer)``
returning ``dict(loss, log_vars, num_samples)`` (it steps the optimizer itself,
so no optimizer hook is needed), and ``model(return_loss=False, **data)``
returning one prediction per sample. The dataset has MMCV's
``evaluate(results, logger=None, metric='accuracy', **kwargs)``.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hooks_core import EpochBasedRunner, IterBasedRunner


class Points(Dataset[dict[str, torch.Tensor]]):
    """Two classes of 2-d points: the label is whether x0 + x1 > 0.

    `evaluate` computes the accuracy of the predicted labels; with `scores` it
    returns ``scores[call]`` instead, for tests of decisions on chosen values.
    Every call is recorded (its results and keyword arguments).
    """

    def __init__(self, size: int = 12, seed: int = 0, scores: list[float] | None = None) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.img = torch.randn(size, 2, generator=generator)
        self.label = (self.img.sum(1) > 0).long()
        self.scores = scores
        self.calls: list[dict[str, Any]] = []
        self.clock: Any = None  # the runner's counter at each call, when a test sets it

    def __len__(self) -> int:
        return len(self.img)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"img": self.img[index], "label": self.label[index], "index": torch.tensor(index)}

    def evaluate(
        self, results: list[Any], logger: Any = None, metric: str = "accuracy", **kwargs: Any
    ) -> dict[str, float]:
        at = None if self.clock is None else self.clock()
        self.calls.append({"results": list(results), "logger": logger, "metric": metric,
                           "kwargs": kwargs, "at": at})  # fmt: skip
        if self.scores is not None:
            return {metric: self.scores[len(self.calls) - 1]}
        predicted = torch.tensor([int(result["pred"]) for result in results])
        return {metric: float((predicted == self.label).float().mean())}


class MMCVClassifier(nn.Module):
    """A linear classifier with MMCV's model interface (and a BatchNorm, for buffer tests)."""

    def __init__(self, batchnorm: bool = False) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(2) if batchnorm else nn.Identity()
        self.fc = nn.Linear(2, 2)

    def forward(
        self, img: Any, label: Any = None, index: Any = None, return_loss: bool = True
    ) -> Any:
        logits = self.fc(self.norm(img))
        if return_loss:
            return nn.functional.cross_entropy(logits, label)
        return [
            {"pred": int(p), "index": int(i)} for p, i in zip(logits.argmax(1), index, strict=True)
        ]

    def train_step(
        self, data_batch: dict[str, Any], optimizer: Any, **kwargs: Any
    ) -> dict[str, Any]:
        loss = self(**data_batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {
            "loss": loss,
            "log_vars": {"loss": loss.item()},
            "num_samples": len(data_batch["img"]),
        }

    def predict(self, dataset: Points) -> torch.Tensor:
        """The predicted labels of the whole dataset, for checking what the hooks computed."""
        self.eval()
        with torch.no_grad():
            return self.fc(self.norm(dataset.img)).argmax(1)


def loader(dataset: Dataset[Any], batch_size: int = 4, **kwargs: Any) -> DataLoader[Any]:
    return DataLoader(dataset, batch_size=batch_size, **kwargs)


def mmcv_runner(
    work_dir: Any,
    epochs: int | None = 3,
    iters: int | None = None,
    batchnorm: bool = False,
    **kwargs: Any,
) -> Any:
    """An `EpochBasedRunner` (an `IterBasedRunner` with `iters`) of the classifier from seed 0."""
    torch.manual_seed(0)
    model = MMCVClassifier(batchnorm)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    logger = logging.getLogger(f"mmcv_parts.{id(model)}")
    common = dict(optimizer=optimizer, work_dir=str(work_dir), logger=logger, **kwargs)
    if iters is not None:
        return IterBasedRunner(model, max_iters=iters, **common)
    return EpochBasedRunner(model, max_epochs=epochs, **common)


def train_data(size: int = 8) -> DataLoader[Any]:
    """The training loader: 2 batches of 4 per epoch, in a fixed order."""
    return loader(Points(size, seed=1))
