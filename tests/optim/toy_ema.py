"""EMA test parts on top of the shared toy run: a model with buffers and recording hooks."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from toy import ToyModel
from toy import runner_kwargs as toy_runner_kwargs

from hooks_core import Hook


class WeightRecordingEvaluator:
    """Record the model's weights each time an evaluation processes a batch."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.seen: list[dict[str, torch.Tensor]] = []
        self._first_batch = True

    def process(self, data_samples: Any, data_batch: Any = None) -> None:
        if self._first_batch:
            self.seen.append({k: v.detach().clone() for k, v in self.model.state_dict().items()})
            self._first_batch = False

    def evaluate(self, size: int) -> dict[str, float]:
        self._first_batch = True
        return {"size": float(size)}


class RecordTrainWeights(Hook):
    """Keep a copy of the training weights after every iteration (before any other hook)."""

    priority = "HIGHEST"

    def __init__(self) -> None:
        self.history: list[dict[str, torch.Tensor]] = []

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        state = runner.model.state_dict()
        self.history.append({k: v.detach().clone() for k, v in state.items()})


def runner_kwargs(work_dir: Any, **overrides: Any) -> dict[str, Any]:
    """The shared toy run with BatchNorm in the model and a weight-recording evaluator."""
    torch.manual_seed(0)
    model = ToyModel(batchnorm=True)
    defaults: dict[str, Any] = {"val_evaluator": WeightRecordingEvaluator(model)}
    return toy_runner_kwargs(work_dir, model=model, **{**defaults, **overrides})
