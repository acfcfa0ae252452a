"""Tiny real parts for the EMA tests: a model with buffers, data, an optimizer wrapper, hooks.

hooks-core's test helpers are not importable here, and hooks-optim's own
`OptimWrapper` is tested elsewhere, so these are minimal implementations of the
protocols the runner expects.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from hooks_core import BaseModel, Hook


class ToyDataset(Dataset[dict[str, torch.Tensor]]):
    """A fixed random regression problem: y = x @ w + noise."""

    def __init__(self, size: int = 40, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(size, 4, generator=generator)
        weight = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
        self.targets = self.inputs @ weight + 0.1 * torch.randn(size, 1, generator=generator)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.inputs[index], "targets": self.targets[index]}


class ToyModel(BaseModel):
    """An MLP with BatchNorm (buffers) and dropout (so the RNG state matters for resume)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1)
        )

    def forward(
        self, inputs: torch.Tensor, targets: torch.Tensor | None = None, mode: str = "tensor"
    ) -> Any:
        prediction = self.net(inputs)
        if mode == "loss":
            return {"loss": nn.functional.mse_loss(prediction, targets)}
        if mode == "predict":
            return [{"prediction": prediction, "target": targets}]
        return prediction


class PlainOptimWrapper:
    """zero_grad, backward, step: the least an optimizer wrapper does."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    def update_params(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def get_lr(self) -> dict[str, list[float]]:
        return {"lr": [group["lr"] for group in self.optimizer.param_groups]}

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state)


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


class SaveEveryIter(Hook):
    """Save a checkpoint after every training iteration (what CheckpointHook does)."""

    priority = "VERY_LOW"

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        runner.save_checkpoint(runner.work_dir, f"iter_{runner.iter + 1}.pth", by_epoch=False)


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
    """A small but complete training run: 3 epochs of 5 iterations, validating every epoch."""
    torch.manual_seed(0)
    model = ToyModel()
    kwargs: dict[str, Any] = dict(
        model=model,
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=ToyDataset(40), batch_size=8),
        val_dataloader=dict(dataset=ToyDataset(16, seed=1), batch_size=8, sampler=dict(
            type="DefaultSampler", shuffle=False)),
        train_cfg=dict(by_epoch=True, max_epochs=3, val_interval=1),
        val_cfg=dict(),
        optim_wrapper=PlainOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)),
        val_evaluator=WeightRecordingEvaluator(model),
        randomness=dict(seed=1234),
        log_level="WARNING",
    )  # fmt: skip
    kwargs.update(overrides)
    return kwargs
