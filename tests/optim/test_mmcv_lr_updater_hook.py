"""MMCV 1.x's ``*LrUpdaterHook``s: every policy and warm-up against MMCV 1.7.2's formulas.

The expected values are MMCV's closed forms written out here, independently
of the hooks' code; ``tools/compare_mmcv_lr.py`` compares with MMCV's own hooks.
"""

from __future__ import annotations

import bisect
import itertools
import math
import sys
from typing import TYPE_CHECKING, Any

import pytest
import torch
from mmcv_updater_stand_in import EPOCH_LENGTH, EPOCHS, UpdaterRunner, adam, drive, sgd
from tool_scripts import load_tool
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hooks_core import HOOKS, EpochBasedRunner, IterBasedRunner
from hooks_optim import _mmcv_lr_updater as lr_hooks

if TYPE_CHECKING:
    from pathlib import Path

BASES = (0.1, 0.05)
MAX_ITERS = EPOCHS * EPOCH_LENGTH
W = 30  # warm-up iterations
RATIO = r"warmup_ratio must be in \(0, 1\]"


# ------------------------------------------------------------ MMCV's formulas
def cos_anneal(start: float, end: float, t: float, weight: float = 1.0) -> float:
    return end + weight * (start - end) * (1 + math.cos(math.pi * t)) / 2


def line(start: float, end: float, t: float) -> float:
    return start + t * (end - start)


def expected_regular(policy: str, kw: dict[str, Any], base: float, p: int, big_p: int) -> float:
    """MMCV's ``get_lr`` at progress `p` of `big_p` (epochs, or iterations)."""
    if policy == "Fixed":
        return base
    if policy == "Step":
        step = kw["step"]
        k = p // step if isinstance(step, int) else bisect.bisect_right(step, p)
        return max(base * kw.get("gamma", 0.1) ** k, kw.get("min_lr") or -math.inf)
    if policy == "Exp":
        return base * kw["gamma"] ** p
    if policy == "Poly":
        low = kw.get("min_lr", 0.0)
        return low + (base - low) * (1 - p / big_p) ** kw.get("power", 1.0)
    if policy == "Inv":
        return base / (1 + kw["gamma"] * p) ** kw.get("power", 1.0)
    low = base * kw["min_lr_ratio"] if "min_lr_ratio" in kw else kw.get("min_lr")
    if policy == "CosineAnnealing":
        return cos_anneal(base, low, p / big_p)
    if policy == "LinearAnnealing":
        return line(base, low, p / big_p)
    if policy == "FlatCosineAnnealing":
        flat = round(big_p * kw["start_percent"])
        return base if p < flat else cos_anneal(base, low, (p - flat) / (big_p - flat))
    if policy == "CosineRestart":
        ends = list(itertools.accumulate(kw["periods"]))
        i = bisect.bisect_right(ends, p)
        begin = ends[i - 1] if i else 0
        alpha = min((p - begin) / kw["periods"][i], 1)
        return cos_anneal(base, low, alpha, kw["restart_weights"][i])
    if policy == "Cyclic":
        return expected_cyclic(kw, base, p, big_p)
    if policy == "OneCycle":
        return expected_one_cycle(kw, p, big_p)
    raise AssertionError(policy)


def expected_cyclic(kw: dict[str, Any], base: float, it: int, max_iters: int) -> float:
    ratio = kw.get("target_ratio", (10, 1e-4))
    peak, trough = (ratio, ratio / 1e5) if isinstance(ratio, float) else ratio
    cycle = max_iters // kw.get("cyclic_times", 1)
    up = int(kw.get("step_ratio_up", 0.4) * cycle)
    scale = kw.get("gamma", 1) ** (it // cycle)
    t = it % cycle
    top = base * (1 - scale + peak * scale)
    anneal = cos_anneal if kw.get("anneal_strategy", "cos") == "cos" else line
    if t < up:
        return anneal(base, top, t / up)
    return anneal(top, base * trough, (t - up) / (cycle - up))


def expected_one_cycle(kw: dict[str, Any], it: int, max_iters: int) -> float:
    """torch's OneCycleLR curve with MMCV's phase ends (``pct * total - 1`` ...)."""
    total = kw.get("total_steps") or max_iters
    peak = kw["max_lr"]
    start = peak / kw.get("div_factor", 25)
    end = start / kw.get("final_div_factor", 1e4)
    pct = kw.get("pct_start", 0.3)
    anneal = cos_anneal if kw.get("anneal_strategy", "cos") == "cos" else line
    if kw.get("three_phase"):
        knots = [
            (0, start),
            (pct * total - 1, peak),
            (2 * pct * total - 2, start),
            (total - 1, end),
        ]
    else:
        knots = [(0, start), (pct * total - 1, peak), (total - 1, end)]
    for (a, va), (b, vb) in itertools.pairwise(knots):
        if it <= b:
            return anneal(va, vb, (it - a) / (b - a))
    raise AssertionError(it)


def warm(kind: str | None, it: int, ratio: float) -> float:
    """MMCV's warm-up factor at iteration `it` of `W`."""
    if kind is None or it >= W:
        return 1.0
    return {
        "constant": ratio,
        "linear": 1 - (1 - it / W) * (1 - ratio),
        "exp": ratio ** (1 - it / W),
    }[kind]


def expected_trajectory(
    policy: str, kw: dict[str, Any], warmup: str | None, by_epoch: bool, bases: tuple[float, ...]
) -> list[list[float]]:
    """The LR of each group at each iteration: the regular value times the warm-up factor."""
    out = []
    for it in range(MAX_ITERS):
        p, big_p = (it // EPOCH_LENGTH, EPOCHS) if by_epoch else (it, MAX_ITERS)
        factor = warm(warmup, it, kw.get("warmup_ratio", 0.1))
        out.append([expected_regular(policy, kw, b, p, big_p) * factor for b in bases])
    return out


# ------------------------------------------------------------ the cases
def policies(by_epoch: bool) -> list[tuple[str, dict[str, Any]]]:
    unit = 1 if by_epoch else EPOCH_LENGTH
    cases = [
        ("Fixed", {}),
        ("Step", {"step": [3 * unit, 7 * unit], "min_lr": 0.002}),
        ("Step", {"step": 2 * unit, "gamma": 0.5}),
        ("Exp", {"gamma": 0.8 if by_epoch else 0.99}),
        ("Poly", {"power": 2.0, "min_lr": 0.001}),
        ("Inv", {"gamma": 0.1 / unit, "power": 0.75}),
        ("CosineAnnealing", {"min_lr_ratio": 0.01}),
        ("FlatCosineAnnealing", {"start_percent": 0.5, "min_lr": 0.001}),
        ("CosineRestart", {"periods": [4 * unit, 6 * unit], "restart_weights": [1, 0.5],
                           "min_lr_ratio": 0.1}),
        ("LinearAnnealing", {"min_lr": 0.001}),
    ]  # fmt: skip
    if not by_epoch:
        cases += [
            ("Cyclic", {"target_ratio": (10, 1e-4), "cyclic_times": 2, "gamma": 0.8}),
            ("Cyclic", {"target_ratio": 5.0, "step_ratio_up": 0.3, "anneal_strategy": "linear"}),
            ("OneCycle", {"max_lr": 0.2}),
            ("OneCycle", {"max_lr": 0.3, "three_phase": True, "anneal_strategy": "linear",
                          "pct_start": 0.25}),
        ]  # fmt: skip
    return cases


CASES = [
    pytest.param(by_epoch, runner_kind, policy, kw, warmup, id=f"{policy}-{i}-{warmup}-{mode}")
    for by_epoch, runner_kind, mode in (
        (True, "epoch", "by_epoch"),
        (False, "epoch", "by_iter-epoch_runner"),
        (False, "iter", "by_iter-iter_runner"),
    )
    for i, (policy, kw) in enumerate(policies(by_epoch))
    for warmup in (None, "constant", "linear", "exp")
]


@pytest.mark.parametrize(("by_epoch", "runner_kind", "policy", "kw", "warmup"), CASES)
def test_trajectory_follows_mmcv(
    by_epoch: bool, runner_kind: str, policy: str, kw: dict[str, Any], warmup: str | None
) -> None:
    arguments = {**kw, "by_epoch": by_epoch}
    if warmup is not None:
        arguments.update(warmup=warmup, warmup_iters=W, warmup_ratio=0.2)
    hook = getattr(lr_hooks, f"{policy}LrUpdaterHook")(**arguments)
    lrs = drive(hook, UpdaterRunner(sgd(BASES)), "lr", runner_kind)
    bases = (kw["max_lr"] / 25,) * 2 if policy == "OneCycle" else BASES
    expected = expected_trajectory(policy, arguments, warmup, by_epoch, bases)
    for it, (got, want) in enumerate(zip(lrs, expected, strict=True)):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15), it


def test_warmup_by_epoch_counts_epochs_in_iterations_of_the_loader() -> None:
    hook = lr_hooks.CosineAnnealingLrUpdaterHook(
        min_lr=0.0, warmup="linear", warmup_iters=2, warmup_by_epoch=True, warmup_ratio=0.1
    )
    lrs = [v[0] for v in drive(hook, UpdaterRunner(sgd()), "lr")]
    assert hook.warmup_iters == 2 * EPOCH_LENGTH
    for it in range(3 * EPOCH_LENGTH):
        regular = cos_anneal(0.1, 0.0, (it // EPOCH_LENGTH) / EPOCHS)
        factor = 1 - (1 - it / 40) * 0.9 if it < 40 else 1.0
        assert lrs[it] == pytest.approx(regular * factor, rel=1e-12), it


# ------------------------------------------------------------ MMCV's measured facts
def test_step_with_constant_warmup_as_measured_on_mmcv() -> None:
    """IterBasedRunner, base 0.1, step=[10], constant warm-up 5 x 0.1, as measured on MMCV 1.7.2."""
    hook = lr_hooks.StepLrUpdaterHook(
        by_epoch=False, step=[10], warmup="constant", warmup_iters=5, warmup_ratio=0.1
    )
    lrs = [v[0] for v in drive(hook, UpdaterRunner(sgd(), 1, 20), "lr", "iter")]
    assert lrs == pytest.approx([0.01] * 5 + [0.1] * 5 + [0.01] * 10, rel=1e-15)


def test_poly_as_measured_on_mmcv() -> None:
    hook = lr_hooks.PolyLrUpdaterHook(by_epoch=False, power=1.0, min_lr=0.0)
    lrs = [v[0] for v in drive(hook, UpdaterRunner(sgd(), 1, 20), "lr", "iter")]
    assert lrs == pytest.approx([0.1 * (1 - it / 20) for it in range(20)], rel=1e-15)
    assert lrs[1] == pytest.approx(0.095) and lrs[-1] == pytest.approx(0.005)


# ------------------------------------------------------------ groups, optimizers, resuming
def test_dict_of_optimizers_gets_each_its_own_schedule() -> None:
    optimizers = {"gen": sgd((0.1, 0.05)), "disc": adam(0.02)}
    runner = UpdaterRunner(optimizers)
    hook = lr_hooks.StepLrUpdaterHook(step=[2], warmup="linear", warmup_iters=5)
    hook.before_run(runner)
    assert hook.base_lr == {"gen": [0.1, 0.05], "disc": [0.02]}
    runner.epoch, runner.iter = 2, 45
    hook.before_train_epoch(runner)
    hook.before_train_iter(runner)
    assert [g["lr"] for g in optimizers["gen"].param_groups] == pytest.approx([0.01, 0.005])
    assert optimizers["disc"].param_groups[0]["lr"] == pytest.approx(0.002)
    runner.epoch, runner.iter = 0, 2  # warm-up scales each optimizer's regular LR
    hook.before_train_epoch(runner)
    hook.before_train_iter(runner)
    factor = 1 - (1 - 2 / 5) * 0.9
    assert optimizers["disc"].param_groups[0]["lr"] == pytest.approx(0.02 * factor)


def test_one_cycle_takes_max_lr_per_optimizer() -> None:
    optimizers = {"gen": sgd((0.1, 0.05)), "disc": adam(0.02)}
    hook = lr_hooks.OneCycleLrUpdaterHook(max_lr={"gen": [0.5, 0.25], "disc": [0.1]})
    hook.before_run(UpdaterRunner(optimizers))
    assert hook.base_lr == {"gen": [0.02, 0.01], "disc": [0.004]}
    assert optimizers["gen"].param_groups[1]["initial_lr"] == pytest.approx(0.01)
    with pytest.raises(KeyError, match="disc is not found"):
        lr_hooks.OneCycleLrUpdaterHook(max_lr={"gen": 0.5}).before_run(
            UpdaterRunner({"gen": sgd(), "disc": adam()})
        )
    with pytest.raises(ValueError, match="expected 2 values for SGD, got 3"):
        lr_hooks.OneCycleLrUpdaterHook(max_lr=[0.1, 0.2, 0.3]).before_run(UpdaterRunner(sgd()))


def test_initial_lr_of_a_resumed_optimizer_is_kept() -> None:
    optimizer = sgd()
    for group in optimizer.param_groups:
        group["initial_lr"], group["lr"] = group["lr"] * 2, 1e-5  # as a checkpoint restores them
    hook = lr_hooks.FixedLrUpdaterHook(by_epoch=False)
    lrs = drive(hook, UpdaterRunner(optimizer, 1, 3), "lr", "iter")
    assert lrs[0] == pytest.approx([0.2, 0.1])


def test_annealing_functions_are_mmcvs() -> None:
    assert lr_hooks.annealing_cos(1.0, 0.0, 0.5) == pytest.approx(0.5)
    assert lr_hooks.annealing_cos(1.0, 0.0, 0.0, weight=0.5) == pytest.approx(0.5)
    assert lr_hooks.annealing_linear(1.0, 3.0, 0.25) == pytest.approx(1.5)


# ------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warmup": "cos", "warmup_iters": 5}, "warmup must be None, 'constant', 'linear' or"),
        ({"warmup": "linear", "warmup_iters": 0}, "warmup_iters must be a positive"),
        ({"warmup": "exp", "warmup_iters": -3}, "warmup_iters must be a positive"),
        ({"warmup": "linear", "warmup_iters": 5, "warmup_ratio": 0.0}, RATIO),
        ({"warmup": "linear", "warmup_iters": 5, "warmup_ratio": 1.5}, RATIO),
    ],
)
def test_warmup_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lr_hooks.FixedLrUpdaterHook(**kwargs)


def test_warmup_arguments_are_not_checked_without_warmup() -> None:
    hook = lr_hooks.FixedLrUpdaterHook(warmup_iters=0, warmup_ratio=5.0)  # MMCV accepts these
    assert hook.warmup is None


@pytest.mark.parametrize("policy", ["CosineAnnealing", "FlatCosineAnnealing", "LinearAnnealing"])
def test_annealing_needs_exactly_one_minimum(policy: str) -> None:
    hook_type = getattr(lr_hooks, f"{policy}LrUpdaterHook")
    with pytest.raises(ValueError, match="exactly one of min_lr and min_lr_ratio, got both"):
        hook_type(min_lr=0.0, min_lr_ratio=0.1)
    with pytest.raises(ValueError, match="exactly one of min_lr and min_lr_ratio, got neither"):
        hook_type()


def test_cosine_restart_needs_one_minimum_and_a_weight_per_period() -> None:
    with pytest.raises(ValueError, match="exactly one of min_lr and min_lr_ratio, got neither"):
        lr_hooks.CosineRestartLrUpdaterHook(periods=[10])
    with pytest.raises(ValueError, match="same length, got 2 periods and 1 weights"):
        lr_hooks.CosineRestartLrUpdaterHook(periods=[10, 10], min_lr=0.0)


@pytest.mark.parametrize(("by_epoch", "unit"), [(True, "epochs"), (False, "iterations")])
def test_cosine_restart_periods_must_cover_training(by_epoch: bool, unit: str) -> None:
    periods = [4, 5] if by_epoch else [100, 99]
    hook = lr_hooks.CosineRestartLrUpdaterHook(
        periods=periods, restart_weights=[1, 1], min_lr=0.0, by_epoch=by_epoch
    )
    length = EPOCHS if by_epoch else MAX_ITERS
    with pytest.raises(ValueError, match=f"cover {sum(periods)} {unit}, training has {length}"):
        hook.before_run(UpdaterRunner(sgd()))


def test_cosine_restart_past_its_periods_raises_mmcvs_error() -> None:
    hook = lr_hooks.CosineRestartLrUpdaterHook(periods=[5], min_lr=0.0, by_epoch=False)
    runner = UpdaterRunner(sgd(), max_epochs=0)  # a length unknown at before_run
    hook.before_run(runner)
    runner.iter = 5
    with pytest.raises(ValueError, match=r"Current iteration 5 exceeds cumulative_periods \[5\]"):
        hook.before_train_iter(runner)


@pytest.mark.parametrize("policy", ["Cyclic", "OneCycle"])
def test_cyclic_policies_refuse_by_epoch(policy: str) -> None:
    hook_type = getattr(lr_hooks, f"{policy}LrUpdaterHook")
    kwargs = {"max_lr": 0.1} if policy == "OneCycle" else {}
    with pytest.raises(ValueError, match=f"{policy}LrUpdaterHook supports only by_epoch=False"):
        hook_type(by_epoch=True, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"step_ratio_up": 1.0}, ValueError, r'"step_ratio_up" must be in range \[0,1\), got 1.0'),
        ({"gamma": 0}, ValueError, r'"gamma" must be in range \(0, 1\], got 0'),
        ({"anneal_strategy": "cosine"}, ValueError, "anneal_strategy must be 'cos' or 'linear'"),
        ({"target_ratio": (1.0, 2.0, 3.0)}, ValueError, "a tuple of two floats"),
        ({"target_ratio": "10"}, ValueError, "either float or tuple, got str"),
    ],
)
def test_cyclic_arguments_are_checked(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        lr_hooks.CyclicLrUpdaterHook(**kwargs)


def test_cyclic_needs_a_cycle_per_iteration_at_least() -> None:
    hook = lr_hooks.CyclicLrUpdaterHook(cyclic_times=300)
    with pytest.raises(ValueError, match="cyclic_times=300 cycles do not fit in max_iters=200"):
        hook.before_run(UpdaterRunner(sgd()))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_lr": "0.1"}, "the type of max_lr must be"),
        ({"max_lr": 0.1, "total_steps": 10.5}, "the type of total_steps must be int"),
        ({"max_lr": 0.1, "pct_start": 1}, "expected float between 0 and 1 pct_start, but got 1"),
        ({"max_lr": 0.1, "pct_start": 1.5}, "expected float between 0 and 1 pct_start"),
        ({"max_lr": 0.1, "anneal_strategy": "exp"}, "anneal_strategy must be 'cos' or 'linear'"),
    ],
)
def test_one_cycle_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lr_hooks.OneCycleLrUpdaterHook(**kwargs)


def test_one_cycle_total_steps_cannot_be_shorter_than_training() -> None:
    hook = lr_hooks.OneCycleLrUpdaterHook(max_lr=0.1, total_steps=150)
    with pytest.raises(ValueError, match="max iterations 200 of runner, but total steps is 150"):
        hook.before_run(UpdaterRunner(sgd()))


@pytest.mark.parametrize(
    ("step", "error", "message"),
    [
        ("2", TypeError, '"step" must be a list or integer, got str'),
        (0, ValueError, "step must be a positive int, got 0"),
        ([3, 0], ValueError, r"step must be a list of positive ints, got \[3, 0\]"),
    ],
)
def test_step_is_checked(step: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        lr_hooks.StepLrUpdaterHook(step=step)


def test_flat_cosine_start_percent_is_checked() -> None:
    with pytest.raises(ValueError, match="expected float between 0 and 1 start_percent, but got 2"):
        lr_hooks.FlatCosineAnnealingLrUpdaterHook(start_percent=2, min_lr=0.0)


def test_warmup_by_epoch_on_an_iteration_runner_says_what_to_do() -> None:
    hook = lr_hooks.FixedLrUpdaterHook(
        by_epoch=False, warmup="linear", warmup_iters=2, warmup_by_epoch=True
    )
    with pytest.raises(RuntimeError, match="give warmup_iters in iterations instead"):
        drive(hook, UpdaterRunner(sgd()), "lr", "iter")


def test_every_policy_is_registered_under_mmcvs_name() -> None:
    for policy in ("Fixed", "Step", "Exp", "Poly", "Inv", "CosineAnnealing",
                   "FlatCosineAnnealing", "CosineRestart", "Cyclic", "OneCycle",
                   "LinearAnnealing"):  # fmt: skip
        name = f"{policy}LrUpdaterHook"
        assert HOOKS.get(name) is getattr(lr_hooks, name)


# ------------------------------------------------------------ on the MMCV runners
class LrSeeingModel(nn.Module):
    """An MMCV model whose ``train_step`` records the LR the optimizer has, then steps."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 1)
        self.lrs: list[float] = []

    def train_step(self, data: Any, optimizer: Any) -> dict[str, Any]:
        self.lrs.append(optimizer.param_groups[0]["lr"])
        x, y = data
        loss = ((self.fc(x) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss, "log_vars": {"loss": loss.item()}, "num_samples": len(x)}


def batches(n: int = 16, batch_size: int = 4) -> DataLoader[Any]:
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(
        torch.randn(n, 2, generator=generator), torch.randn(n, 1, generator=generator)
    )
    return DataLoader(data, batch_size=batch_size)


def test_epoch_based_runner_steps_and_warms_up(tmp_path: Path) -> None:
    model = LrSeeingModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    runner = EpochBasedRunner(model, optimizer=optimizer, work_dir=tmp_path, max_epochs=4)
    runner.register_lr_hook(dict(policy="step", step=[2], warmup="linear", warmup_iters=3))
    runner.run([batches()], [("train", 1)])
    expected = [0.1 * (1 - (1 - it / 3) * 0.9) for it in range(3)] + [0.1] * 5 + [0.01] * 8
    assert model.lrs == pytest.approx(expected, rel=1e-12)
    assert runner.current_lr() == pytest.approx([0.01])


def test_iter_based_runner_reproduces_mmcvs_measured_warmup(tmp_path: Path) -> None:
    model = LrSeeingModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = IterBasedRunner(model, optimizer=optimizer, work_dir=tmp_path, max_iters=20)
    lr_config = dict(policy="step", step=[10], warmup="constant", warmup_iters=5, warmup_ratio=0.1)
    runner.register_training_hooks(lr_config)  # forces by_epoch=False, as MMCV's does
    runner.run([batches()], [("train", 20)])
    assert model.lrs == pytest.approx([0.01] * 5 + [0.1] * 5 + [0.01] * 10, rel=1e-15)


# ------------------------------------------------------------ tools/compare_mmcv_lr.py
def test_compare_tool_says_in_one_line_that_mmcv_is_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mmcv", None)  # `import mmcv` raises ImportError
    assert load_tool("compare_mmcv_lr").main([]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "mmcv 1.x is not importable here" in out


def test_compare_tool_reports_differences_and_one_sided_errors() -> None:
    tool = load_tool("compare_mmcv_lr")
    assert tool.differences([[0.1, 0.2]], [[0.1, 0.25]]) == pytest.approx((0.05, 0.25))
    assert tool.differences("AssertionError", [[0.1]]) == "MISMATCH: mmcv AssertionError, ours runs"
    assert tool.differences("KeyError", "KeyError").startswith("both raise")
