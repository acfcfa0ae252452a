"""`ParamSchedulerHook`: which schedulers step when, alone and in a real `Runner` run."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

import hooks_optim
from hooks_core import HOOKS, BaseModel, Hook, Runner, clear_plugin_cache, get_priority
from hooks_optim._param_scheduler_hook import ParamSchedulerHook
from hooks_optim._schedulers import (
    CosineAnnealingLR,
    LinearLR,
    MultiStepLR,
    ReduceOnPlateauLR,
    StepLR,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(autouse=True)
def _hook_exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The runner loads the default hook from ``hooks_optim:ParamSchedulerHook``."""
    monkeypatch.setattr(hooks_optim, "ParamSchedulerHook", ParamSchedulerHook, raising=False)
    yield
    clear_plugin_cache()


# ---------------------------------------------------------------- the hook alone
class Counting:
    """A stand-in scheduler that records its steps."""

    def __init__(self, by_epoch: bool, need_val_args: bool = False) -> None:
        self.by_epoch = by_epoch
        self.need_val_args = need_val_args
        self.steps: list[Any] = []

    def step(self, metrics: Any = None) -> None:
        self.steps.append(metrics)


def drive(hook: ParamSchedulerHook, schedulers: Any) -> None:
    runner = SimpleNamespace(param_schedulers=schedulers)
    hook.before_train(runner)
    for i in range(3):
        hook.after_train_iter(runner, i)
    hook.after_train_epoch(runner)
    hook.after_val_epoch(runner, {"loss": 1.0})
    hook.after_val_epoch(runner, None)


def test_each_kind_steps_at_its_point() -> None:
    by_iter, by_epoch, by_val = Counting(False), Counting(True), Counting(True, True)
    drive(ParamSchedulerHook(), [by_iter, by_epoch, by_val])
    assert by_iter.steps == [None] * 3
    assert by_epoch.steps == [None]
    assert by_val.steps == [{"loss": 1.0}]


def test_a_dict_of_lists_is_stepped_whole() -> None:
    first, second = Counting(False), Counting(True)
    drive(ParamSchedulerHook(), {"generator": [first], "discriminator": [second]})
    assert (len(first.steps), len(second.steps)) == (3, 1)


def test_none_steps_nothing() -> None:
    drive(ParamSchedulerHook(), None)


@pytest.mark.parametrize("bad", [Counting(True), {"a": Counting(True)}, "StepLR"])
def test_anything_else_is_a_type_error(bad: Any) -> None:
    with pytest.raises(TypeError, match="must be None, a list of schedulers or a dict"):
        ParamSchedulerHook().before_train(SimpleNamespace(param_schedulers=bad))


def test_validation_after_training_steps_nothing() -> None:
    by_val = Counting(True, True)
    hook, runner = ParamSchedulerHook(), SimpleNamespace(param_schedulers=[by_val])
    hook.before_train(runner)
    hook.after_train(runner)
    hook.after_val_epoch(runner, {"loss": 1.0})
    assert by_val.steps == []


def test_registered_at_low_priority() -> None:
    hook = HOOKS.build(dict(type="ParamSchedulerHook"))
    assert isinstance(hook, ParamSchedulerHook)
    assert get_priority(hook.priority) == get_priority("LOW") == 70


# ---------------------------------------------------------------- in a real run
class Points(Dataset[dict[str, torch.Tensor]]):
    def __init__(self, size: int) -> None:
        generator = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(size, 3, generator=generator)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.inputs[index]}


class TinyModel(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, inputs: torch.Tensor, mode: str = "tensor") -> Any:
        out = self.linear(inputs)
        if mode == "loss":
            return {"loss": out.pow(2).mean()}
        return [{"out": out}]


class MinimalOptimWrapper:
    """What the runner and the schedulers need from an optimizer wrapper."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    def update_params(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state)


class RecordLR(Hook):
    """Record the learning rate each training iteration uses."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        self.lrs.append(runner.optim_wrapper.param_groups[0]["lr"])


class SaveAfterEpoch(Hook):
    priority = "VERY_LOW"

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def after_train_epoch(self, runner: Any) -> None:
        if runner.epoch + 1 == self.epoch:
            runner.save_checkpoint(runner.work_dir, f"epoch_{self.epoch}.pth")
            runner.train_loop.stop_training = True  # an interrupted run of the same length


SCHEDULE = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, end=4),
    dict(type="MultiStepLR", milestones=[1, 3], gamma=0.5),
]


def make_runner(work_dir: Path, hooks: list[Hook], **overrides: Any) -> Runner:
    torch.manual_seed(0)
    model = TinyModel()
    kwargs: dict[str, Any] = dict(
        model=model,
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=Points(20), batch_size=4),  # 5 iterations per epoch
        train_cfg=dict(by_epoch=True, max_epochs=4),
        optim_wrapper=MinimalOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.2)),
        param_scheduler=SCHEDULE,
        custom_hooks=hooks,
        randomness=dict(seed=0),
        log_level="WARNING",
    )
    kwargs.update(overrides)
    return Runner(**kwargs)


def expected_lrs(epochs: int, epoch_length: int) -> list[float]:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.2)
    warmup = LinearLR(optimizer, start_factor=0.1, by_epoch=False, end=4)
    decay = MultiStepLR(optimizer, milestones=[1, 3], gamma=0.5)
    lrs = []
    for _ in range(epochs):
        for _ in range(epoch_length):
            lrs.append(optimizer.param_groups[0]["lr"])
            warmup.step()
        decay.step()
    return lrs


def test_the_learning_rate_follows_the_schedule_in_a_run(tmp_path: Path) -> None:
    record = RecordLR()
    runner = make_runner(tmp_path, [record])
    assert sum(isinstance(h, ParamSchedulerHook) for h in runner.hooks) == 1
    runner.train()
    assert record.lrs == pytest.approx(expected_lrs(4, 5))
    assert record.lrs[:4] == pytest.approx([0.02, 0.08, 0.14, 0.2])


def test_resume_restores_the_schedule(tmp_path: Path) -> None:
    full = RecordLR()
    make_runner(tmp_path / "full", [full]).train()

    make_runner(tmp_path / "first", [SaveAfterEpoch(2)]).train()
    checkpoint = os.path.join(tmp_path / "first", "epoch_2.pth")
    resumed = RecordLR()
    make_runner(tmp_path / "second", [resumed], load_from=checkpoint, resume=True).train()
    assert resumed.lrs == pytest.approx(full.lrs[10:])


def test_iteration_based_run_with_a_converted_cosine(tmp_path: Path) -> None:
    record = RecordLR()
    runner = make_runner(
        tmp_path,
        [record],
        train_cfg=dict(by_epoch=False, max_iters=12),
        param_scheduler=dict(
            type="CosineAnnealingLR", T_max=2, eta_min=0.0, convert_to_iter_based=True
        ),
    )
    runner.train()
    assert isinstance(runner.param_schedulers[0], CosineAnnealingLR)
    assert runner.param_schedulers[0].T_max == 10  # two epochs of 5 iterations
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.2)
    reference = CosineAnnealingLR(optimizer, T_max=10, by_epoch=False)
    expected = []
    for _ in range(12):
        expected.append(optimizer.param_groups[0]["lr"])
        reference.step()
    assert record.lrs == pytest.approx(expected)


class LossMetric:
    """An evaluator returning scripted validation losses, one per validation."""

    def __init__(self, losses: list[float]) -> None:
        self.losses = list(losses)

    def process(self, data_samples: Any, data_batch: Any = None) -> None:
        pass

    def evaluate(self, size: int) -> dict[str, float]:
        return {"loss": self.losses.pop(0)}


def test_reduce_on_plateau_steps_with_validation_metrics(tmp_path: Path) -> None:
    record = RecordLR()
    runner = make_runner(
        tmp_path,
        [record],
        val_dataloader=dict(dataset=Points(4), batch_size=4),
        val_cfg=dict(),
        val_evaluator=LossMetric([1.0, 1.0, 1.0, 1.0]),
        param_scheduler=[dict(type="ReduceOnPlateauLR", patience=1, factor=0.5)],
    )
    runner.train()
    assert isinstance(runner.param_schedulers[0], ReduceOnPlateauLR)
    per_epoch = record.lrs[::5]
    # rounds 2 and 3 are bad: after the third validation (> patience) the lr halves
    assert per_epoch == pytest.approx([0.2, 0.2, 0.2, 0.1])


def test_step_scheduler_objects_are_accepted(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TinyModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    record = RecordLR()
    runner = make_runner(
        tmp_path,
        [record],
        model=model,
        optim_wrapper=MinimalOptimWrapper(optimizer),
        param_scheduler=[StepLR(optimizer, step_size=2, gamma=0.1)],
        train_cfg=dict(by_epoch=True, max_epochs=3),
    )
    runner.train()
    assert record.lrs[::5] == pytest.approx([1.0, 1.0, 0.1])
