"""Tiny real parts for the hooks-eval tests: per-sample outputs, a metric that follows a script,
and a runner stand-in for calling hooks directly, as MMEngine's hook tests do.

The metrics of hooks-eval read one data sample per input, so these models
return a list of per-sample dicts from ``val_step``, unlike the shared toy
model, which returns the whole batch as one item.
"""

from __future__ import annotations

from typing import Any

import torch
from stand_in import StandInRunner
from toy import ToyModel, runner_kwargs, stacked

from hooks_core import Runner
from hooks_core.runner import SingleDeviceStrategy
from hooks_eval import BaseMetric
from hooks_optim import OptimWrapper


class PerSampleRegressor(ToyModel):
    """The shared toy regression, with one ``{'prediction', 'target'}`` dict per sample."""

    def forward(self, inputs: Any, targets: Any = None, mode: str = "tensor") -> Any:
        if mode != "predict":
            return super().forward(inputs, targets, mode)
        prediction = self.net(stacked(inputs))
        assert targets is not None
        return [{"prediction": p, "target": t} for p, t in zip(prediction, targets, strict=True)]


class ScriptedMetric(BaseMetric):
    """A metric whose value after step N is ``scores[N]``: decisions made on chosen values.

    The step is the runner's epoch (or iteration) count, read through `clock`,
    which a test sets once the runner exists.
    """

    def __init__(self, scores: dict[int, float], name: str = "score", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scores = scores
        self.name = name
        self.clock: Any = None

    def process(self, data_batch: Any, data_samples: Any) -> None:
        self.results.extend(range(len(data_samples)))

    def compute_metrics(self, results: list[Any]) -> dict[str, float]:
        return {self.name: self.scores[self.clock()]}


class Heavy(PerSampleRegressor):
    """The toy regressor carrying a ballast buffer (6 MiB by default), so its checkpoints
    upload to S3 in parts."""

    def __init__(self, ballast_mib: int = 6) -> None:
        super().__init__(dropout=0.0)
        self.register_buffer("ballast", torch.zeros(ballast_mib << 18))


def eval_runner_kwargs(work_dir: Any, **overrides: Any) -> dict[str, Any]:
    """The shared toy run with the per-sample model, validated by MeanSquaredError."""
    torch.manual_seed(0)
    model = overrides.pop("model", None) or PerSampleRegressor(dropout=0.0)
    defaults: dict[str, Any] = {"val_evaluator": dict(type="MeanSquaredError")}
    return runner_kwargs(work_dir, model=model, **{**defaults, **overrides})


def files(folder: Any) -> list[str]:
    """The names of the checkpoint files in `folder`, sorted."""
    import pathlib

    return sorted(p.name for p in pathlib.Path(folder).iterdir() if p.suffix == ".pth")


def checkpoint_run(work_dir: Any, checkpoint: dict[str, Any], **overrides: Any) -> Any:
    """Train the per-sample toy with this CheckpointHook config; return the finished runner."""
    from hooks_core import Runner

    runner = Runner(
        **eval_runner_kwargs(work_dir, **overrides),
        default_hooks=dict(checkpoint={"type": "CheckpointHook", **checkpoint}),
    )
    runner.train()
    return runner


def epochs(max_epochs: int) -> dict[str, Any]:
    """An epoch-based train_cfg that validates after every epoch."""
    return dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)


def scripted_runner(
    work_dir: Any, metrics: list[ScriptedMetric], hooks: Any = (), **overrides: Any
) -> Any:
    """A toy runner validated by `metrics`, whose clocks read the runner's epoch (or iteration)."""
    from hooks_core import Runner
    from hooks_eval import Evaluator

    checkpoint = overrides.pop("checkpoint", {"type": "CheckpointHook", "interval": 1})
    runner = Runner(
        **eval_runner_kwargs(work_dir, val_evaluator=Evaluator(metrics), **overrides),
        default_hooks=dict(checkpoint=checkpoint),
        custom_hooks=list(hooks),
    )
    by_epoch = runner.train_loop.max_epochs > 1
    for metric in metrics:
        metric.clock = (lambda: runner.epoch) if by_epoch else (lambda: runner.iter)
    return runner


class CheckpointingStandIn(StandInRunner):
    """The shared runner stand-in with a real model and optimizer, able to collect checkpoints.

    Checkpoints are collected by the real runner's code (``Runner.collect_checkpoint``),
    which reads the stand-in's parts and calls its hooks. Its logger propagates, so
    ``caplog`` sees what hooks log.
    """

    collect_checkpoint = Runner.collect_checkpoint
    strategy = SingleDeviceStrategy()  # what a single-process runner checkpoints through

    def __init__(self, work_dir: Any, max_epochs: int = 12, max_iters: int = 60) -> None:
        torch.manual_seed(0)
        model = PerSampleRegressor(dropout=0.0)
        optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
        super().__init__(work_dir, max_epochs=max_epochs, max_iters=max_iters, model=model,
                         optim_wrapper=optim_wrapper)  # fmt: skip
