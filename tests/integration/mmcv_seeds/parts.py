"""Tiny real parts for running the MMCV 1.x seed blocks: one network, its MMCV and MMEngine faces.

`Net` is the network. `MMCVNet` wraps it as MMCV models are written
(``train_step(data_batch, optimizer)`` returning ``dict(loss, log_vars,
num_samples)``, ``model(return_loss=False, **data)`` predicting); by default it
leaves backward and the step to an ``OptimizerHook``, as MMCV's detectors do,
and with ``steps_itself=True`` it steps the optimizer itself, so a test about
another hook does not depend on the optimizer hooks. `EngineNet` is the same
network as an MMEngine-style `BaseModel`. `Points` has MMCV's
``dataset.evaluate(results, logger=None, metric='accuracy', metric_options=None)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hooks_core import BaseModel, EpochBasedRunner, Hook


class Points(Dataset[dict[str, torch.Tensor]]):
    """Two classes of 2-d points (label: x0 + x1 > 0), with MMCV's ``evaluate``.

    `evaluate` returns the top-1 accuracy of the predictions as ``acc`` or, with
    mmcls's ``metric_options={'topk': (1,)}``, as ``accuracy_top-1``; with
    `scores` it returns ``scores[call]`` instead, so a test can choose which
    evaluation is the best. Every call is recorded in `calls`.
    """

    def __init__(self, size: int = 8, seed: int = 0, scores: list[float] | None = None) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.img = torch.randn(size, 2, generator=generator)
        self.label = (self.img.sum(1) > 0).long()
        self.scores = scores
        self.calls: list[dict[str, Any]] = []
        self.clock: Any = None  # what a test wants recorded with each call, e.g. runner.iter

    def __len__(self) -> int:
        return len(self.img)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"img": self.img[index], "label": self.label[index], "index": torch.tensor(index)}

    def evaluate(
        self,
        results: list[Any],
        logger: Any = None,
        metric: str = "accuracy",
        metric_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, float]:
        predicted = torch.tensor([int(result["pred"]) for result in results])
        acc = float((predicted == self.label).float().mean())
        if self.scores is not None:
            acc = self.scores[len(self.calls)]
        call = {"metric": metric, "metric_options": metric_options, "kwargs": kwargs, "acc": acc,
                "at": None if self.clock is None else self.clock()}  # fmt: skip
        self.calls.append(call)
        if metric_options and "topk" in metric_options:
            return {f"accuracy_top-{k}": acc for k in metric_options["topk"]}
        return {"acc": acc}


class Net(nn.Module):
    """The network both model faces wrap: one linear layer over 2-d points, 2 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.fc(img)


def predictions(logits: torch.Tensor, index: torch.Tensor) -> list[dict[str, int]]:
    """One result per sample, as MMCV's test functions collect them."""
    return [{"pred": int(p), "index": int(i)} for p, i in zip(logits.argmax(1), index, strict=True)]


class MMCVNet(nn.Module):
    """`Net` with MMCV's model interface."""

    def __init__(self, steps_itself: bool = False) -> None:
        super().__init__()
        self.net = Net()
        self.steps_itself = steps_itself

    def forward(
        self, img: Any, label: Any = None, index: Any = None, return_loss: bool = True
    ) -> Any:
        logits = self.net(img)
        if return_loss:
            return nn.functional.cross_entropy(logits, label)
        return predictions(logits, index)

    def train_step(
        self, data_batch: dict[str, Any], optimizer: Any, **kwargs: Any
    ) -> dict[str, Any]:
        loss = self(**data_batch)
        if self.steps_itself:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return {"loss": loss, "log_vars": {"loss": loss.item()},
                "num_samples": len(data_batch["img"])}  # fmt: skip

    def val_step(
        self, data_batch: dict[str, Any], optimizer: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        loss = self(**data_batch)
        return {"loss": loss, "log_vars": {"loss": loss.item()},
                "num_samples": len(data_batch["img"])}  # fmt: skip


class EngineNet(BaseModel):
    """`Net` as an MMEngine-style model; MMCV's ``return_loss=False`` call predicts too.

    The second form is how MMCV's ``EvalHook`` (its default ``test_fn``) calls a model.
    """

    def __init__(self) -> None:
        super().__init__()
        self.net = Net()

    def forward(  # type: ignore[override]
        self,
        img: Any,
        label: Any = None,
        index: Any = None,
        mode: str = "tensor",
        return_loss: bool | None = None,
    ) -> Any:
        logits = self.net(img)
        if return_loss is False:
            return predictions(logits, index)
        if mode == "loss":
            return {"loss": nn.functional.cross_entropy(logits, label)}
        if mode == "predict":
            return [{"pred": logits.argmax(1), "label": label}]
        return logits


class AccEvaluator:
    """Top-1 accuracy over the validation set, for the MMEngine-style runner's val loop."""

    def __init__(self) -> None:
        self.correct: list[torch.Tensor] = []
        self.results: list[float] = []

    def process(self, data_samples: Any, data_batch: Any = None) -> None:
        for sample in data_samples:
            self.correct.append((sample["pred"] == sample["label"]).float())

    def evaluate(self, size: int) -> dict[str, float]:
        correct = torch.cat(self.correct)
        self.correct = []
        assert len(correct) == size
        self.results.append(float(correct.mean()))
        return {"acc": self.results[-1]}


def loader(dataset: Dataset[Any], batch_size: int = 4) -> DataLoader[Any]:
    """Batches in a fixed order."""
    return DataLoader(dataset, batch_size=batch_size)


def train_loader(size: int = 8) -> DataLoader[Any]:
    """The training data: `size` points (2 batches of 4 by default), seed 1."""
    return loader(Points(size, seed=1))


def mmcv_runner(
    work_dir: Any,
    max_epochs: int = 2,
    steps_itself: bool = False,
    lr: float = 0.1,
    model: nn.Module | None = None,
    **kwargs: Any,
) -> EpochBasedRunner:
    """``EpochBasedRunner(...)`` of the seeds, filled in: `MMCVNet` from seed 0, SGD, `work_dir`.

    No ``logger`` is given, so the runner logs to its own file, where the
    text logger hook's lines are read back.
    """
    torch.manual_seed(0)
    if model is None:
        model = MMCVNet(steps_itself)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return EpochBasedRunner(
        model, optimizer=optimizer, work_dir=str(work_dir), max_epochs=max_epochs, **kwargs
    )


def engine_cfg(work_dir: Any, max_epochs: int = 2, **keys: Any) -> dict[str, Any]:
    """An MMCV-era config for ``Runner.from_cfg``, with `EngineNet` from seed 0 as the model.

    The training data comes in the fixed order of `train_loader` (MMEngine's
    ``train_dataloader`` key with an unshuffled sampler); `keys` adds or
    replaces any key.
    """
    torch.manual_seed(0)
    cfg: dict[str, Any] = dict(
        model=EngineNet(),
        work_dir=str(work_dir),
        runner=dict(type="EpochBasedRunner", max_epochs=max_epochs),
        optimizer=dict(type="SGD", lr=0.1),
        optimizer_config=dict(grad_clip=None),
        train_dataloader=dict(dataset=Points(8, seed=1), batch_size=4,
                              sampler=dict(type="DefaultSampler", shuffle=False),
                              collate_fn=dict(type="default_collate")),
        log_level="WARNING",
    )  # fmt: skip
    cfg.update(keys)
    return cfg


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the network's weights, under `Net`'s own names, from either model face."""
    inner = model.net if hasattr(model, "net") else model
    return {k: v.detach().clone() for k, v in inner.state_dict().items()}


class LrRecorder(Hook):
    """The learning rate each training iteration steps with (read after the LR hooks set it)."""

    priority = "LOWEST"

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        self.lrs.append(runner.optim_wrapper.param_groups[0]["lr"])


class WeightRecorder(Hook):
    """The weights after each training iteration, at the priority it is registered at.

    Above ABOVE_NORMAL (an MMCV optimizer hook's priority) it sees the weights
    before that hook steps; below it, after.
    """

    def __init__(self) -> None:
        self.weights: list[dict[str, torch.Tensor]] = []

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        self.weights.append(state(runner.model))


def cosine(start: float, end: float, factor: float) -> float:
    """MMCV's ``annealing_cos``: from `start` at factor 0 to `end` at factor 1."""
    return end + 0.5 * (start - end) * (math.cos(math.pi * factor) + 1)
