"""Tiny real parts for runner tests of every package: a model, data, an optimizer wrapper.

The core's tests run without hooks-optim and hooks-eval, so the optimizer
wrapper and evaluator here are minimal real implementations of the protocols
the runner expects (`update_params`/`state_dict`, `process`/`evaluate`).
pytest puts this folder on `sys.path` (``pythonpath`` in the root pyproject);
worker scripts started as subprocesses add it themselves.
"""

from __future__ import annotations

import signal
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
    """A two-layer MLP; dropout makes the RNG state matter for exact resume.

    It takes a batch as a config-built dataloader gives it (``pseudo_collate``:
    a list of tensors per key, as in MMEngine) or stacked.

    Args:
        batchnorm: Add a BatchNorm layer, for tests about buffers.
        dropout: Dropout probability; 0 for a deterministic model.
    """

    def __init__(self, batchnorm: bool = False, dropout: float = 0.2) -> None:
        super().__init__()
        norm: list[nn.Module] = [nn.BatchNorm1d(8)] if batchnorm else []
        drop: list[nn.Module] = [nn.Dropout(dropout)] if dropout else []
        self.net = nn.Sequential(nn.Linear(4, 8), *norm, nn.ReLU(), *drop, nn.Linear(8, 1))

    def forward(self, inputs: Any, targets: Any = None, mode: str = "tensor") -> Any:
        inputs, targets = stacked(inputs), stacked(targets)
        prediction = self.net(inputs)
        if mode == "loss":
            return {"loss": nn.functional.mse_loss(prediction, targets)}
        if mode == "predict":
            return [{"prediction": prediction, "target": targets}]
        return prediction


def stacked(values: Any) -> Any:
    """One tensor from the list of per-sample tensors `pseudo_collate` gives (or as it is)."""
    return torch.stack(values) if isinstance(values, (list, tuple)) else values


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


class MseEvaluator:
    """Mean squared error over the whole validation set."""

    def __init__(self) -> None:
        self.errors: list[torch.Tensor] = []

    def process(self, data_samples: Any, data_batch: Any = None) -> None:
        for sample in data_samples:
            self.errors.append(((sample["prediction"] - sample["target"]) ** 2).flatten())

    def evaluate(self, size: int) -> dict[str, float]:
        errors = torch.cat(self.errors)
        self.errors = []
        assert len(errors) == size
        return {"mse": float(errors.mean())}


class SaveEveryIter(Hook):
    """Save a checkpoint after every `interval` training iterations (what CheckpointHook does)."""

    priority = "VERY_LOW"

    def __init__(self, interval: int = 1) -> None:
        self.interval = interval

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if self.every_n_train_iters(runner, self.interval):
            runner.save_checkpoint(runner.work_dir, f"iter_{runner.iter + 1}.pth", by_epoch=False)


class StopAfter(Hook):
    """Stop training after iteration `at` (1-based), through the call the SIGTERM handler makes."""

    priority = "LOWEST"  # after the iteration's checkpoint and log record

    def __init__(self, at: int) -> None:
        self.at = at

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if runner.iter + 1 == self.at:
            runner.train_loop.request_stop(signal.SIGTERM)


class FailAfter(Hook):
    """Raise `error` after training iteration `at` (1-based), as a crash would."""

    priority = "LOWEST"  # after the iteration's checkpoint and log record

    def __init__(self, at: int, error: BaseException) -> None:
        self.at, self.error = at, error

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if runner.iter + 1 == self.at:
            raise self.error


def runner_kwargs(
    work_dir: Any, model: nn.Module | None = None, **overrides: Any
) -> dict[str, Any]:
    """The arguments of a small but complete training run (the model initialised from seed 0)."""
    if model is None:
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
        val_evaluator=MseEvaluator(),
        randomness=dict(seed=1234),
        log_level="WARNING",
    )  # fmt: skip
    kwargs.update(overrides)
    return kwargs
