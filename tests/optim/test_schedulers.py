"""Parameter schedulers: PyTorch's numbers where it has the schedule, windows, chaining, resume."""

from __future__ import annotations

import io
import logging
import math
from typing import TYPE_CHECKING, Any

import pytest
import torch
from torch.optim import lr_scheduler as torch_sched

from hooks_core import PARAM_SCHEDULERS
from hooks_optim import OptimWrapper
from hooks_optim import _schedulers as sched
from hooks_optim._schedulers import (
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingMomentum,
    CosineRestartLR,
    CyclicLR,
    CyclicMomentum,
    ExponentialLR,
    FlatCosineAnnealingLR,
    InverseLR,
    LinearLR,
    MultiStepLR,
    OneCycleLR,
    OneCycleMomentum,
    PolyLR,
    ReduceOnPlateauLR,
    StepLR,
    StepMomentum,
    StepParamScheduler,
)

if TYPE_CHECKING:
    from collections.abc import Callable

LRS = (0.1, 0.05)


def make_optimizer(kind: str = "sgd", **kwargs: Any) -> torch.optim.Optimizer:
    """An optimizer with two param groups of different learning rates."""
    groups = [
        {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": LRS[0]},
        {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": LRS[1]},
    ]
    if kind == "adam":
        return torch.optim.Adam(groups, **kwargs)
    return torch.optim.SGD(groups, **kwargs)


def lrs(optimizer: Any, key: str = "lr") -> list[float]:
    return [float(group[key]) for group in optimizer.param_groups]


def run(optimizer: Any, schedulers: list[Any], steps: int, key: str = "lr") -> list[list[float]]:
    """The values used by each of `steps` steps, stepping every scheduler after each."""
    values = []
    for _ in range(steps):
        values.append(lrs(optimizer, key))
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    return values


def assert_close(actual: list[list[float]], expected: list[list[float]]) -> None:
    assert len(actual) == len(expected)
    for step, (a, e) in enumerate(zip(actual, expected, strict=True)):
        assert a == pytest.approx(e, abs=1e-6), f"step {step}: {a} != {e}"


# ---------------------------------------------------------------- same numbers as PyTorch
TORCH_CASES: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any], int]] = {
    "step": (
        lambda o: StepLR(o, step_size=3, gamma=0.5),
        lambda o: torch_sched.StepLR(o, step_size=3, gamma=0.5),
        20,
    ),
    "multistep": (
        lambda o: MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
        lambda o: torch_sched.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
        15,
    ),
    "exponential": (
        lambda o: ExponentialLR(o, gamma=0.9),
        lambda o: torch_sched.ExponentialLR(o, gamma=0.9),
        20,
    ),
    "linear": (
        lambda o: LinearLR(o, start_factor=0.2, end_factor=0.9, end=11),
        lambda o: torch_sched.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=10),
        20,
    ),
    "constant": (
        lambda o: ConstantLR(o, factor=0.5, end=5),
        lambda o: torch_sched.ConstantLR(o, factor=0.5, total_iters=4),
        10,
    ),
    "cosine": (
        lambda o: CosineAnnealingLR(o, T_max=10, eta_min=0.001),
        lambda o: torch_sched.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
        35,
    ),
    "poly": (
        lambda o: PolyLR(o, power=2.0, end=11),
        lambda o: torch_sched.PolynomialLR(o, total_iters=10, power=2.0),
        16,
    ),
    "cosine_restart": (
        lambda o: CosineRestartLR(o, periods=[10, 10, 10], restart_weights=[1, 1, 1], eta_min=0.01),
        lambda o: torch_sched.CosineAnnealingWarmRestarts(o, T_0=10, eta_min=0.01),
        30,
    ),
    "one_cycle": (
        lambda o: OneCycleLR(o, eta_max=[0.4, 0.2], total_steps=50),
        lambda o: torch_sched.OneCycleLR(
            o, max_lr=[0.4, 0.2], total_steps=50, cycle_momentum=False
        ),
        50,
    ),
    "one_cycle_three_phase_linear": (
        lambda o: OneCycleLR(
            o, eta_max=0.3, total_steps=40, pct_start=0.25, anneal_strategy="linear",
            div_factor=10, final_div_factor=100, three_phase=True,
        ),
        lambda o: torch_sched.OneCycleLR(
            o, max_lr=0.3, total_steps=40, pct_start=0.25, anneal_strategy="linear",
            div_factor=10, final_div_factor=100, three_phase=True, cycle_momentum=False,
        ),
        40,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_values_match_pytorch_over_a_whole_run(case: str) -> None:
    ours, theirs, steps = TORCH_CASES[case]
    mine, reference = make_optimizer(), make_optimizer()
    scheduler = ours(mine)
    torch_scheduler = theirs(reference)
    expected = []
    for i in range(steps):
        expected.append(lrs(reference))
        reference.step()
        if i < steps - 1:  # OneCycleLR refuses a step past total_steps
            torch_scheduler.step()
    assert_close(run(mine, [scheduler], steps), expected)


# ---------------------------------------------------------------- windows and chaining
def test_values_change_only_inside_the_window() -> None:
    optimizer = make_optimizer()
    values = run(optimizer, [StepLR(optimizer, step_size=2, gamma=0.5, begin=3, end=9)], 14)
    first = [v[0] for v in values]
    assert first[:3] == [0.1] * 3  # before begin
    # relative steps 0..5 inside [3, 9): decays at relative steps 2 and 4
    assert first[3:9] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert first[9:] == pytest.approx([0.025] * 5)  # after end the value stays


def test_linear_warmup_by_iteration_then_cosine_by_epoch() -> None:
    """The usual schedule: warm up over iterations 0-100, then cosine from epoch 1 to 12."""
    epoch_length, base, eta_min = 100, 0.1, 1e-4
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    warmup = LinearLR(optimizer, start_factor=0.01, by_epoch=False, begin=0, end=100)
    cosine = CosineAnnealingLR(optimizer, begin=1, end=12, eta_min=eta_min, by_epoch=True)
    used = []
    for _ in range(12):
        for _ in range(epoch_length):
            used.append(optimizer.param_groups[0]["lr"])
            warmup.step()
        cosine.step()
    assert used[0] == pytest.approx(base * 0.01)
    slope = (1 - 0.01) / 99
    assert used[:100] == pytest.approx([base * (0.01 + slope * i) for i in range(100)])
    for epoch in range(1, 12):
        expected = eta_min + (base - eta_min) * (1 + math.cos(math.pi * (epoch - 1) / 11)) / 2
        chunk = used[epoch * epoch_length : (epoch + 1) * epoch_length]
        assert chunk == pytest.approx([expected] * epoch_length)
    assert warmup.get_last_value() == cosine.get_last_value()


def test_overlapping_schedulers_multiply() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedulers = [ConstantLR(optimizer, factor=0.5, end=4), StepLR(optimizer, step_size=2)]
    first = [v[0] for v in run(optimizer, schedulers, 6)]
    assert first == pytest.approx([0.5, 0.5, 0.05, 0.1, 0.01, 0.01])


# ---------------------------------------------------------------- convert_to_iter_based
def test_convert_to_iter_based_scales_begin_end_and_periods() -> None:
    converted_opt, iter_opt = make_optimizer(), make_optimizer()
    converted = StepLR(
        converted_opt, step_size=2, begin=1, end=7, convert_to_iter_based=True, epoch_length=5
    )
    assert (converted.begin, converted.end, converted.step_size, converted.by_epoch) == (
        5,
        35,
        10,
        False,
    )
    plain = StepLR(iter_opt, step_size=10, begin=5, end=35, by_epoch=False)
    assert run(converted_opt, [converted], 50) == run(iter_opt, [plain], 50)


@pytest.mark.parametrize(
    "factory",
    [
        lambda o, **kw: CosineAnnealingLR(o, T_max=6, eta_min=0.001, **kw),
        lambda o, **kw: ExponentialLR(o, gamma=0.7, **kw),
        lambda o, **kw: InverseLR(o, gamma=0.5, power=0.75, **kw),
        lambda o, **kw: MultiStepLR(o, milestones=[2, 4], **kw),
        lambda o, **kw: CosineRestartLR(o, periods=[3, 3], restart_weights=[1, 0.5], **kw),
    ],
)
def test_a_converted_schedule_passes_through_the_epoch_values(factory: Any) -> None:
    epoch_length = 4
    by_epoch, by_iter = make_optimizer(), make_optimizer()
    epoch_values = run(by_epoch, [factory(by_epoch)], 6)
    converted = factory(by_iter, convert_to_iter_based=True, epoch_length=epoch_length)
    iter_values = run(by_iter, [converted], 6 * epoch_length)
    assert_close(iter_values[::epoch_length], epoch_values)


def test_build_iter_from_epoch_and_the_registry_convert_alike() -> None:
    a, b = make_optimizer(), make_optimizer()
    built = PARAM_SCHEDULERS.build(
        dict(type="CosineAnnealingLR", T_max=3, convert_to_iter_based=True),
        default_args={"optimizer": a, "epoch_length": 10},
    )
    direct = CosineAnnealingLR.build_iter_from_epoch(b, T_max=3, epoch_length=10)
    assert type(direct) is CosineAnnealingLR
    assert run(a, [built], 30) == run(b, [direct], 30)


def test_conversion_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="needs epoch_length"):
        StepLR(make_optimizer(), step_size=1, convert_to_iter_based=True)
    with pytest.raises(ValueError, match="by_epoch=False already counts iterations"):
        StepLR(
            make_optimizer(), step_size=1, by_epoch=False, convert_to_iter_based=True,
            epoch_length=3,
        )  # fmt: skip
    with pytest.raises(ValueError, match="positive int"):
        StepLR(make_optimizer(), step_size=1, convert_to_iter_based=True, epoch_length=0)


# ---------------------------------------------------------------- momentum and other params
def test_momentum_of_sgd() -> None:
    optimizer = make_optimizer(momentum=0.9)
    values = run(optimizer, [StepMomentum(optimizer, step_size=2, gamma=0.5)], 5, "momentum")
    assert [v[0] for v in values] == pytest.approx([0.9, 0.9, 0.45, 0.45, 0.225])
    assert lrs(optimizer) == list(LRS)


def test_momentum_of_adam_is_betas_0() -> None:
    optimizer = make_optimizer("adam", betas=(0.9, 0.99))
    scheduler = CosineAnnealingMomentum(optimizer, T_max=4, eta_min=0.8)
    betas = []
    for _ in range(5):
        betas.append(optimizer.param_groups[0]["betas"])
        optimizer.step()
        scheduler.step()
    assert all(isinstance(b, tuple) and b[1] == 0.99 for b in betas)
    expected = [0.8 + 0.1 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    assert [b[0] for b in betas] == pytest.approx(expected)
    after_five = 0.8 + 0.1 * (1 + math.cos(math.pi * 5 / 4)) / 2  # past T_max it rises again
    assert scheduler.get_last_value() == pytest.approx([after_five] * 2)
    assert "momentum" not in optimizer.param_groups[0]


def test_momentum_without_momentum_or_betas_fails() -> None:
    optimizer = torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))])
    with pytest.raises(ValueError, match="neither 'momentum' nor 'betas'"):
        StepMomentum(optimizer, step_size=1)


def test_any_param_group_key() -> None:
    optimizer = make_optimizer(weight_decay=1e-2)
    scheduler = StepParamScheduler(optimizer, "weight_decay", step_size=1, gamma=0.1)
    values = run(optimizer, [scheduler], 3, "weight_decay")
    assert [v[0] for v in values] == pytest.approx([1e-2, 1e-3, 1e-4])
    with pytest.raises(KeyError, match="no 'nesterov_power'"):
        StepParamScheduler(optimizer, "nesterov_power", step_size=1)


def test_a_wrapper_exposing_param_groups_works() -> None:
    class Wrapper:
        def __init__(self, optimizer: torch.optim.Optimizer) -> None:
            self.optimizer = optimizer

        @property
        def param_groups(self) -> list[dict[str, Any]]:
            return self.optimizer.param_groups

    optimizer = make_optimizer()
    scheduler = ExponentialLR(Wrapper(optimizer), gamma=0.5)
    scheduler.step()
    assert lrs(optimizer) == pytest.approx([0.05, 0.025])


# ---------------------------------------------------------------- MMCV policies
def test_inverse_follows_mmcv_inv() -> None:
    optimizer = make_optimizer()
    values = run(optimizer, [InverseLR(optimizer, gamma=0.1, power=0.75)], 30)
    for t, value in enumerate(values):
        assert value == pytest.approx([lr * (1 + 0.1 * t) ** -0.75 for lr in LRS])


def test_flat_cosine_stays_then_anneals() -> None:
    optimizer = make_optimizer()
    scheduler = FlatCosineAnnealingLR(optimizer, start_percent=0.5, eta_min_ratio=0.01, end=20)
    values = run(optimizer, [scheduler], 25)
    for t, value in enumerate(values):
        progress = min(t, 20)
        if progress < 10:
            expected = list(LRS)
        else:
            factor = (1 + math.cos(math.pi * (progress - 10) / 10)) / 2
            expected = [lr * 0.01 + (lr - lr * 0.01) * factor for lr in LRS]
        if t < 20:
            assert value == pytest.approx(expected), t
    assert values[-1] == values[19]  # the value stays after end


def mmcv_cyclic(base: float, t: int, length: int, cycles: int, up: float, ratio: Any) -> float:
    """MMCV's CyclicLrUpdaterHook.get_lr, written out independently, with gamma=1."""
    per_cycle = length // cycles
    up_iters = int(up * per_cycle)
    current = t % per_cycle
    if current < up_iters:
        start, end, pct = 1.0, ratio[0], current / up_iters
    else:
        start, end, pct = ratio[0], ratio[1], (current - up_iters) / (per_cycle - up_iters)
    a, b = base * start, base * end
    return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)


def test_cyclic_follows_mmcv() -> None:
    optimizer = make_optimizer()
    scheduler = CyclicLR(
        optimizer, target_ratio=(10, 1e-4), cyclic_times=2, step_ratio_up=0.4, by_epoch=False,
        end=50,
    )  # fmt: skip
    values = run(optimizer, [scheduler], 50)
    for t, value in enumerate(values):
        expected = [mmcv_cyclic(lr, t, 50, 2, 0.4, (10, 1e-4)) for lr in LRS]
        assert value == pytest.approx(expected), t
    assert max(v[0] for v in values) == pytest.approx(1.0)  # base 0.1 * 10


def test_cyclic_momentum_goes_the_other_way() -> None:
    optimizer = make_optimizer(momentum=0.95)
    scheduler = CyclicMomentum(optimizer, target_ratio=(0.85 / 0.95, 1), end=20)
    values = [v[0] for v in run(optimizer, [scheduler], 20, "momentum")]
    assert values[0] == pytest.approx(0.95)
    assert min(values) == pytest.approx(0.85)


def test_one_cycle_momentum_with_div_factor_below_one() -> None:
    optimizer = make_optimizer(momentum=0.9)
    scheduler = OneCycleMomentum(
        optimizer, eta_max=0.85, div_factor=0.85 / 0.95, final_div_factor=1, total_steps=20
    )
    values = [v[0] for v in run(optimizer, [scheduler], 20, "momentum")]
    assert values[0] == pytest.approx(0.95)
    assert min(values) == pytest.approx(0.85)
    assert values[-1] == pytest.approx(0.95)


# ---------------------------------------------------------------- ReduceOnPlateau
def test_reduce_on_plateau_waits_for_patience_then_reduces() -> None:
    optimizer = make_optimizer()
    scheduler = ReduceOnPlateauLR(optimizer, monitor="loss", patience=2, factor=0.5)
    assert scheduler.need_val_args
    history = []
    for loss in [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.94, 0.8]:
        scheduler.step({"loss": loss})
        history.append(lrs(optimizer)[0])
    # best 0.9 at round 2; three rounds without improvement (> patience) reduce once
    assert history == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05])


def test_reduce_on_plateau_greater_abs_cooldown_and_minimum() -> None:
    optimizer = make_optimizer()
    scheduler = ReduceOnPlateauLR(
        optimizer, monitor="acc", rule="greater", threshold_rule="abs", threshold=0.05,
        patience=0, cooldown=1, factor=0.1, min_value=[0.002, 0.0],
    )  # fmt: skip
    history = []
    for acc in [0.5, 0.52, 0.53, 0.54, 0.6]:
        scheduler.step({"acc": acc, "loss": 0.0})
        history.append(lrs(optimizer))
    # 0.52 is not 0.05 better than 0.5: reduce; cooldown skips 0.53; 0.54 reduces again
    assert_close(
        history, [[0.1, 0.05], [0.01, 0.005], [0.01, 0.005], [0.002, 0.0005], [0.002, 0.0005]]
    )


def test_reduce_on_plateau_errors() -> None:
    optimizer = make_optimizer()
    scheduler = ReduceOnPlateauLR(optimizer, monitor="acc")
    with pytest.raises(KeyError, match="'acc'"):
        scheduler.step({"loss": 1.0})
    with pytest.raises(TypeError, match="must be a dict"):
        scheduler.step(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="epoch-based"):
        ReduceOnPlateauLR(optimizer, by_epoch=False)
    with pytest.raises(ValueError, match="rule"):
        ReduceOnPlateauLR(optimizer, rule="more")
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        ReduceOnPlateauLR(optimizer, threshold=-0.1)


def test_reduce_on_plateau_counts_training_epochs_with_step_and_reacts_inside_the_window() -> None:
    optimizer = make_optimizer()
    scheduler = ReduceOnPlateauLR(optimizer, patience=0, factor=0.5, begin=1, end=3)
    assert (scheduler._global_step, scheduler.last_step) == (0, -1)  # MMEngine's start
    history = []
    for _ in range(4):  # what ParamSchedulerHook does: an epoch, then its validation
        scheduler.step()
        scheduler.step({"loss": 1.0})
        history.append(lrs(optimizer)[0])
    # Epochs 1 and 2 are in [begin, end): the first sets the best, the second reduces.
    assert history == pytest.approx([0.1, 0.05, 0.05, 0.05])
    assert (scheduler._global_step, scheduler.last_step) == (4, 1)
    assert scheduler.get_last_value() == pytest.approx([0.05, 0.025])


def test_reduce_on_plateau_min_value_per_optimizer_group_extends_to_the_base_group() -> None:
    optimizer = make_optimizer()
    wrapper = OptimWrapper(optimizer)
    scheduler = ReduceOnPlateauLR(wrapper, patience=0, factor=0.1, min_value=[0.05, 0.0])
    assert scheduler.min_values == [0.05, 0.0, 0.0]
    for _ in range(2):
        scheduler.step({"loss": 1.0})
    assert lrs(optimizer) == pytest.approx([0.05, 0.005])
    assert wrapper.get_lr()["base_lr"] == pytest.approx([1e-4])  # SGD's default lr, reduced


# ---------------------------------------------------------------- state and resume
RESUME_CASES: dict[str, Callable[[Any], list[Any]]] = {
    "warmup_cosine": lambda o: [
        LinearLR(o, start_factor=0.1, by_epoch=False, end=6),
        CosineAnnealingLR(o, begin=6, end=30, eta_min_ratio=0.01, by_epoch=False),
    ],
    "multistep": lambda o: [MultiStepLR(o, milestones=[3, 7, 7, 12], gamma=0.5)],
    "one_cycle": lambda o: [OneCycleLR(o, eta_max=0.5, total_steps=25)],
    "restart": lambda o: [CosineRestartLR(o, periods=[5, 10], restart_weights=[1.0, 0.5])],
    "cyclic": lambda o: [CyclicLR(o, cyclic_times=3, end=27)],
    "flat": lambda o: [FlatCosineAnnealingLR(o, end=25)],
    "poly_inverse": lambda o: [PolyLR(o, eta_min=0.001, end=20), InverseLR(o, gamma=0.2)],
    "constant": lambda o: [ConstantLR(o, factor=0.3, begin=2, end=8)],
}


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_resuming_mid_schedule_gives_the_same_values(case: str) -> None:
    factory, total, stop = RESUME_CASES[case], 30, 11
    reference_opt = make_optimizer(momentum=0.9)
    reference = run(reference_opt, factory(reference_opt), total)

    first_opt = make_optimizer(momentum=0.9)
    first = factory(first_opt)
    run(first_opt, first, stop)
    buffer = io.BytesIO()
    torch.save(
        {"optimizer": first_opt.state_dict(), "schedulers": [s.state_dict() for s in first]},
        buffer,
    )
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)

    resumed_opt = make_optimizer(momentum=0.9)
    resumed = factory(resumed_opt)  # built afresh, as a runner does, then restored
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    for scheduler, state in zip(resumed, checkpoint["schedulers"], strict=True):
        scheduler.load_state_dict(state)
    assert_close(run(resumed_opt, resumed, total - stop), reference[stop:])


def test_reduce_on_plateau_state_round_trips() -> None:
    optimizer = make_optimizer()
    scheduler = ReduceOnPlateauLR(optimizer, patience=1)
    for loss in [1.0, 1.0]:
        scheduler.step({"loss": loss})
    buffer = io.BytesIO()
    torch.save(scheduler.state_dict(), buffer)
    buffer.seek(0)
    other = ReduceOnPlateauLR(make_optimizer(), patience=1)
    other.load_state_dict(torch.load(buffer, weights_only=True))
    assert (other.best, other.num_bad_epochs) == (1.0, 1)


def test_counters_follow_mmengines_convention_and_verbose_logs_each_group(
    caplog: pytest.LogCaptureFixture,
) -> None:
    optimizer = make_optimizer()
    with caplog.at_level(logging.INFO, logger="hooks_optim"):
        scheduler = StepLR(optimizer, step_size=1, gamma=0.5, verbose=True)
        # The constructor's own step is global step 0, the first inside the window.
        assert (scheduler._global_step, scheduler.last_step) == (0, 0)
        scheduler.step()
    assert (scheduler._global_step, scheduler.last_step) == (1, 1)
    assert [r.getMessage() for r in caplog.records] == [
        "Adjusting parameter value of group 0 to 1.0000e-01.",
        "Adjusting parameter value of group 1 to 5.0000e-02.",
        "Adjusting parameter value of group 0 to 5.0000e-02.",
        "Adjusting parameter value of group 1 to 2.5000e-02.",
    ]
    with pytest.raises(ValueError, match="last_step must be an int >= -1"):
        StepLR(optimizer, step_size=1, last_step=-2)


def test_state_dict_has_no_optimizer() -> None:
    optimizer = make_optimizer()
    state = MultiStepLR(optimizer, milestones=(1, 1)).state_dict()
    assert "optimizer" not in state
    assert state["milestones"] == [1, 1]


# ---------------------------------------------------------------- construction
def test_end_must_follow_begin() -> None:
    with pytest.raises(ValueError, match="greater than begin"):
        StepLR(make_optimizer(), step_size=1, begin=5, end=5)


def test_last_step_needs_a_scheduled_optimizer() -> None:
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(make_optimizer(), step_size=1, last_step=3)


def test_a_non_optimizer_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="param_groups"):
        StepLR(object(), step_size=1)


def test_cosine_needs_a_length() -> None:
    with pytest.raises(ValueError, match="T_max or end"):
        CosineAnnealingLR(make_optimizer())


def test_every_public_scheduler_is_registered() -> None:
    names = [name for name in sched.__all__ if name[0].isupper() and name not in ("INF",)]
    names = [n for n in names if not n.endswith("Mixin")]
    assert len(names) == 39
    for name in names:
        assert PARAM_SCHEDULERS.get(name) is getattr(sched, name)
