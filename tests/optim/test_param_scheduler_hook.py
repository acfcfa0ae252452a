"""`ParamSchedulerHook` called directly on a runner stand-in, as MMEngine's tests do, and in runs.

The stand-in is a plain object holding real torch optimizers and real
schedulers; the hook reads ``runner.param_schedulers`` at each call, so no
``before_train`` is needed.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from hooks_core import HOOKS, BaseModel, Hook, Runner, get_priority
from hooks_optim import (
    ConstantLR,
    CosineAnnealingLR,
    LinearLR,
    MultiStepLR,
    OptimWrapper,
    OptimWrapperDict,
    ParamSchedulerHook,
    ReduceOnPlateauLR,
    StepLR,
)

if TYPE_CHECKING:
    from pathlib import Path


# ---------------------------------------------------------------- direct calls
def sgd(lr: float = 1.0) -> torch.optim.SGD:
    return torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)


def lr_of(optimizer: Any) -> float:
    return float(optimizer.param_groups[0]["lr"])


def stand_in(schedulers: Any) -> Any:
    """What the hook reads from a runner: only its schedulers."""
    return SimpleNamespace(param_schedulers=schedulers)


def test_after_train_iter_steps_only_the_iteration_based_schedulers() -> None:
    optimizer = sgd()
    by_iter = StepLR(optimizer, step_size=1, gamma=0.5, by_epoch=False)
    by_epoch = StepLR(optimizer, step_size=1, gamma=0.1)
    runner = stand_in([by_iter, by_epoch])
    ParamSchedulerHook().after_train_iter(runner, 0)  # no before_train needed
    assert (by_iter.last_step, by_epoch.last_step) == (1, 0)
    assert lr_of(optimizer) == 0.5


def test_after_train_epoch_steps_only_the_epoch_based_schedulers() -> None:
    optimizer = sgd()
    by_iter = StepLR(optimizer, step_size=1, gamma=0.5, by_epoch=False)
    by_epoch = StepLR(optimizer, step_size=1, gamma=0.1)
    ParamSchedulerHook().after_train_epoch(stand_in([by_iter, by_epoch]))
    assert (by_iter.last_step, by_epoch.last_step) == (0, 1)
    assert lr_of(optimizer) == pytest.approx(0.1)


def test_a_dict_of_lists_steps_every_optimizers_schedulers() -> None:
    generator, discriminator = sgd(), sgd()
    wrappers = OptimWrapperDict(
        generator=OptimWrapper(generator), discriminator=OptimWrapper(discriminator)
    )
    runner = stand_in(
        {
            "generator": [StepLR(wrappers["generator"], step_size=1, gamma=0.5, by_epoch=False)],
            "discriminator": [StepLR(wrappers["discriminator"], step_size=1, gamma=0.1)],
        }
    )
    hook = ParamSchedulerHook()
    hook.after_train_iter(runner, 0)
    hook.after_train_epoch(runner)
    assert (lr_of(generator), lr_of(discriminator)) == pytest.approx((0.5, 0.1))


def test_idle_after_each_iteration_only_without_an_iteration_based_scheduler() -> None:
    optimizer, hook = sgd(), ParamSchedulerHook()
    by_epoch = StepLR(optimizer, step_size=1, gamma=0.1)
    assert hook.idle_points(stand_in(None)) == ("after_train_iter",)
    assert hook.idle_points(stand_in([by_epoch])) == ("after_train_iter",)
    by_iter = StepLR(optimizer, step_size=1, gamma=0.5, by_epoch=False)
    assert hook.idle_points(stand_in([by_epoch, by_iter])) == ()
    assert hook.idle_points(stand_in({"a": [by_epoch], "b": [by_iter]})) == ()


def test_the_schedulers_are_read_at_each_call() -> None:
    first_opt, second_opt = sgd(), sgd()
    runner = stand_in([StepLR(first_opt, step_size=1, gamma=0.5, by_epoch=False)])
    hook = ParamSchedulerHook()
    hook.after_train_iter(runner, 0)
    runner.param_schedulers = [StepLR(second_opt, step_size=1, gamma=0.5, by_epoch=False)]
    hook.after_train_iter(runner, 1)
    assert (lr_of(first_opt), lr_of(second_opt)) == (0.5, 0.5)


def test_none_steps_nothing_at_any_point() -> None:
    hook, runner = ParamSchedulerHook(), stand_in(None)
    hook.after_train_iter(runner, 0)
    hook.after_train_epoch(runner)
    hook.after_val_epoch(runner, {"loss": 1.0})


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        (StepLR(sgd(), step_size=1), r"got StepLR"),
        ("StepLR", r"got str"),
        (
            {"generator": StepLR(sgd(), step_size=1)},
            r"\['generator'\] should be a list.*got StepLR",
        ),
    ],
    ids=["a scheduler", "a string", "a dict of schedulers"],
)
@pytest.mark.parametrize(
    "call",
    [
        lambda hook, runner: hook.after_train_iter(runner, 0),
        lambda hook, runner: hook.after_train_epoch(runner),
        lambda hook, runner: hook.after_val_epoch(runner, {"loss": 1.0}),
    ],
    ids=["after_train_iter", "after_train_epoch", "after_val_epoch"],
)
def test_anything_else_is_a_type_error_naming_its_type_at_the_call(
    bad: Any, named: str, call: Any
) -> None:
    with pytest.raises(TypeError, match=rf"runner\.param_schedulers.*{named}"):
        call(ParamSchedulerHook(), stand_in(bad))


def test_mmengines_message_for_a_value_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match="should be list of ParamScheduler or a dict containing"):
        ParamSchedulerHook().after_train_iter(stand_in(object()), 0)


def test_validation_without_metrics_steps_nothing_and_checks_nothing() -> None:
    optimizer = sgd()
    plateau = ReduceOnPlateauLR(optimizer, patience=0, factor=0.5)
    hook = ParamSchedulerHook()
    hook.after_val_epoch(stand_in([plateau]), None)
    hook.after_val_epoch(stand_in("not checked without metrics"))
    assert (plateau._global_step, plateau.last_step) == (0, -1)


def test_reduce_on_plateau_counts_epochs_and_reacts_to_validation_metrics() -> None:
    optimizer = sgd()
    plateau = ReduceOnPlateauLR(optimizer, patience=0, factor=0.5)
    by_epoch = StepLR(optimizer, step_size=100)  # a plain epoch-based one: never stepped by val
    runner, hook = stand_in([plateau, by_epoch]), ParamSchedulerHook()
    for epoch in range(3):
        hook.after_train_epoch(runner)
        hook.after_val_epoch(runner, {"loss": 1.0})
        assert plateau._global_step == epoch + 1  # counted by the training epoch only
    assert plateau.last_step == 2 and by_epoch.last_step == 3
    assert lr_of(optimizer) == 0.25  # the 2nd and 3rd validations did not improve


def test_the_monitored_metric_must_be_among_the_metrics() -> None:
    runner = stand_in([ReduceOnPlateauLR(sgd(), monitor="accuracy")])
    with pytest.raises(KeyError, match=r"'accuracy'.*among the validation metrics \['loss'\]"):
        ParamSchedulerHook().after_val_epoch(runner, {"loss": 1.0})


def test_an_iteration_based_schedule_ignores_validation() -> None:
    optimizer = sgd()
    by_iter = StepLR(optimizer, step_size=1, gamma=0.5, by_epoch=False)
    ParamSchedulerHook().after_val_epoch(stand_in([by_iter]), {"loss": 1.0})
    assert by_iter.last_step == 0 and lr_of(optimizer) == 1.0


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
    """A linear model that takes a stacked batch or MMEngine's ``pseudo_collate`` list."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, inputs: Any, mode: str = "tensor") -> Any:
        out = self.linear(torch.stack(inputs) if isinstance(inputs, list) else inputs)
        if mode == "loss":
            return {"loss": out.pow(2).mean()}
        return [{"out": out}]


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
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.2)),
        param_scheduler=SCHEDULE,
        custom_hooks=hooks,
        randomness=dict(seed=0),
        log_level="WARNING",
    )
    kwargs.update(overrides)
    return Runner(**kwargs)


def expected_lrs(epochs: int, epoch_length: int) -> list[float]:
    optimizer = sgd(0.2)
    warmup = LinearLR(optimizer, start_factor=0.1, by_epoch=False, end=4)
    decay = MultiStepLR(optimizer, milestones=[1, 3], gamma=0.5)
    lrs = []
    for _ in range(epochs):
        for _ in range(epoch_length):
            lrs.append(lr_of(optimizer))
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


@pytest.mark.parametrize(
    ("train_cfg", "schedule", "expected"),
    [
        (
            dict(by_epoch=True, max_epochs=3),
            [
                dict(type="ConstantLR", factor=0.5, begin=0),
                dict(type="ConstantLR", factor=0.5, begin=1),
            ],
            [0.5] * 5 + [0.25] * 5 + [1.0] * 5,
        ),
        (
            dict(by_epoch=False, max_iters=12),
            [
                dict(type="ConstantLR", factor=0.5, begin=0, by_epoch=False),
                dict(type="ConstantLR", factor=0.5, begin=4, by_epoch=False),
            ],
            [0.5] * 4 + [0.25] * 7 + [1.0],
        ),
    ],
    ids=["by epoch", "by iteration"],
)
def test_chained_constant_schedules_end_with_the_run(
    tmp_path: Path, train_cfg: dict[str, Any], schedule: list[Any], expected: list[float]
) -> None:
    """MMEngine's own run test: without ``end``, a schedule ends with training."""
    record = RecordLR()
    runner = make_runner(
        tmp_path,
        [record],
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=1.0)),
        param_scheduler=schedule,
    )
    runner.train()
    assert all(isinstance(s, ConstantLR) for s in runner.param_schedulers)
    assert record.lrs == pytest.approx(expected)


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
    optimizer = sgd(0.2)
    reference = CosineAnnealingLR(optimizer, T_max=10, by_epoch=False)
    expected = []
    for _ in range(12):
        expected.append(lr_of(optimizer))
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
    (plateau,) = runner.param_schedulers
    assert isinstance(plateau, ReduceOnPlateauLR)
    per_epoch = record.lrs[::5]
    # rounds 2 and 3 are bad: after the third validation (> patience) the lr halves
    assert per_epoch == pytest.approx([0.2, 0.2, 0.2, 0.1])
    # Four epochs counted; the last validation falls at end=max_epochs, outside the window.
    assert (plateau._global_step, plateau.last_step) == (4, 2)


def test_step_scheduler_objects_are_accepted(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TinyModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    record = RecordLR()
    runner = make_runner(
        tmp_path,
        [record],
        model=model,
        optim_wrapper=OptimWrapper(optimizer),
        param_scheduler=[StepLR(optimizer, step_size=2, gamma=0.1)],
        train_cfg=dict(by_epoch=True, max_epochs=3),
    )
    runner.train()
    assert record.lrs[::5] == pytest.approx([1.0, 1.0, 0.1])


# ---------------------------------------------------------------- epoch-based in iteration runs
@pytest.mark.parametrize(
    ("schedule", "named"),
    [
        (SCHEDULE, r"param_scheduler\[1\] \(MultiStepLR\)"),  # by_epoch=True is the default
        (dict(type="StepLR", step_size=2, by_epoch=True), r"param_scheduler \(StepLR\)"),
    ],
    ids=["config list", "one config"],
)
def test_an_epoch_based_scheduler_in_an_iteration_run_fails_before_training(
    tmp_path: Path, schedule: Any, named: str
) -> None:
    """MMEngine steps it once, after the last iteration; here the run refuses to start."""
    record = RecordLR()
    runner = make_runner(tmp_path, [record], train_cfg=dict(by_epoch=False, max_iters=12),
                         param_scheduler=schedule)  # fmt: skip
    match = (
        rf"{named} is epoch-based \(by_epoch=True, the default\) but training runs in "
        r"iterations \(IterBasedTrainLoop\), so it would step only once, after the last "
        r"iteration\. Give it by_epoch=False with begin, end and milestones in iterations, or "
        r"convert_to_iter_based=True"
    )
    with pytest.raises(ValueError, match=match):
        runner.train()
    assert (record.lrs, runner.iter) == ([], 0)  # not one iteration trained


def test_a_built_epoch_based_scheduler_in_an_iteration_run_fails_too(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TinyModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    runner = make_runner(
        tmp_path, [], model=model, optim_wrapper=OptimWrapper(optimizer),
        param_scheduler=[StepLR(optimizer, step_size=2, by_epoch=False),
                         StepLR(optimizer, step_size=2)],
        train_cfg=dict(by_epoch=False, max_iters=6),
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"param_scheduler\[1\] \(StepLR\) is epoch-based"):
        runner.train()


def test_each_optimizer_s_schedulers_are_named_by_its_key(tmp_path: Path) -> None:
    wrappers = dict(gen=dict(optimizer=dict(type="SGD", lr=0.1)),
                    disc=dict(optimizer=dict(type="SGD", lr=0.1)))  # fmt: skip
    runner = make_runner(
        tmp_path, [], model=TwoParts(), optim_wrapper=wrappers,
        param_scheduler=dict(gen=[dict(type="StepLR", step_size=2, by_epoch=False)],
                             disc=[dict(type="MultiStepLR", milestones=[4])]),
        train_cfg=dict(by_epoch=False, max_iters=6),
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"param_scheduler\['disc'\]\[0\] \(MultiStepLR\)"):
        runner.train()


class TwoParts(TinyModel):
    """Two sub-models, one optimizer each (an ``OptimWrapperDict`` by name)."""

    def __init__(self) -> None:
        super().__init__()
        self.gen, self.disc = nn.Linear(3, 1), nn.Linear(3, 1)


def test_converted_and_plateau_schedulers_run_by_iterations(tmp_path: Path) -> None:
    """convert_to_iter_based=True trains, and so does an epoch-based ReduceOnPlateauLR: it
    reacts to each validation, not to epochs."""
    iterations = dict(by_epoch=False, max_iters=12, val_interval=3)
    converted = make_runner(tmp_path / "a", [], train_cfg=iterations, param_scheduler=[
        dict(type="MultiStepLR", milestones=[1], convert_to_iter_based=True)])  # fmt: skip
    converted.train()
    assert converted.param_schedulers[0].milestones == [5]  # one epoch: 5 iterations
    record = RecordLR()
    plateau = make_runner(
        tmp_path / "b", [record], train_cfg=iterations,
        val_dataloader=dict(dataset=Points(4), batch_size=4), val_cfg=dict(),
        val_evaluator=LossMetric([1.0, 1.0, 1.0, 1.0]),
        param_scheduler=[dict(type="ReduceOnPlateauLR", patience=1, factor=0.5)],
    )  # fmt: skip
    plateau.train()
    assert record.lrs[::3] == pytest.approx([0.2, 0.2, 0.2, 0.1])  # halved after validation 3
