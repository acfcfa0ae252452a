"""MMCV 1.x's ``*MomentumUpdaterHook``s: every policy and warm-up against MMCV 1.7.2's formulas.

The expected values are MMCV's closed forms written out here; note that
MMCV's momentum warm-up divides by the factor the LR warm-up multiplies by.
"""

from __future__ import annotations

import bisect
import itertools
import math
from typing import TYPE_CHECKING, Any

import pytest
import torch
from mmcv_updater_stand_in import EPOCH_LENGTH, EPOCHS, UpdaterRunner, adam, drive, sgd
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hooks_core import HOOKS, EpochBasedRunner
from hooks_optim import _mmcv_momentum_updater as momentum_hooks

if TYPE_CHECKING:
    from pathlib import Path

BASES = (0.9, 0.8)
MAX_ITERS = EPOCHS * EPOCH_LENGTH
W = 30  # warm-up iterations
RATIO = r"warmup_ratio must be in \(0, 1\]"


def cos_anneal(start: float, end: float, t: float) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * t)) / 2


def line(start: float, end: float, t: float) -> float:
    return start + t * (end - start)


def expected_regular(policy: str, kw: dict[str, Any], base: float, p: int, big_p: int) -> float:
    """MMCV's ``get_momentum`` at progress `p` of `big_p`."""
    anneal = cos_anneal if kw.get("anneal_strategy", "cos") == "cos" else line
    if policy == "Step":
        step = kw["step"]
        k = p // step if isinstance(step, int) else bisect.bisect_right(step, p)
        return max(base * kw.get("gamma", 0.5) ** k, kw.get("min_momentum") or -math.inf)
    if policy in ("CosineAnnealing", "LinearAnnealing"):
        ratio = kw.get("min_momentum_ratio")
        low = base * ratio if ratio is not None else kw["min_momentum"]
        return (cos_anneal if policy == "CosineAnnealing" else line)(base, low, p / big_p)
    if policy == "Cyclic":
        low_ratio, high_ratio = kw.get("target_ratio", (0.85 / 0.95, 1.0))
        cycle = big_p // kw.get("cyclic_times", 1)
        up = int(kw.get("step_ratio_up", 0.4) * cycle)
        scale = kw.get("gamma", 1.0) ** (p // cycle)
        t = p % cycle
        low = base * (1 - scale + low_ratio * scale)
        if t < up:
            return anneal(base, low, t / up)
        return anneal(low, base * high_ratio, (t - up) / (cycle - up))
    if policy == "OneCycle":
        low, high, pct = kw.get("base_momentum", 0.85), kw.get("max_momentum", 0.95), 0.3
        down = pct * big_p - 1
        if kw.get("three_phase"):
            knots = [(0, high), (down, low), (2 * pct * big_p - 2, high), (big_p - 1, high)]
        else:
            knots = [(0, high), (down, low), (big_p - 1, high)]
        for (a, va), (b, vb) in itertools.pairwise(knots):
            if p <= b:
                return anneal(va, vb, (p - a) / (b - a))
    raise AssertionError(policy)


def warm(kind: str | None, it: int, ratio: float) -> float:
    """The factor MMCV divides the momentum by during warm-up."""
    if kind is None or it >= W:
        return 1.0
    return {
        "constant": ratio,
        "linear": 1 - (1 - it / W) * (1 - ratio),
        "exp": ratio ** (1 - it / W),
    }[kind]


def policies(by_epoch: bool) -> list[tuple[str, dict[str, Any]]]:
    unit = 1 if by_epoch else EPOCH_LENGTH
    cases = [
        ("Step", {"step": [3 * unit, 7 * unit], "min_momentum": 0.3}),
        ("Step", {"step": 4 * unit}),
        ("CosineAnnealing", {"min_momentum_ratio": 0.5}),
        ("LinearAnnealing", {"min_momentum": 0.5}),
    ]
    if not by_epoch:
        cases += [
            ("Cyclic", {"cyclic_times": 2}),
            ("Cyclic", {"anneal_strategy": "linear", "gamma": 0.5, "step_ratio_up": 0.25}),
            ("OneCycle", {}),
            ("OneCycle", {"three_phase": True, "anneal_strategy": "linear"}),
        ]
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
        arguments.update(warmup=warmup, warmup_iters=W, warmup_ratio=0.8)
    hook = getattr(momentum_hooks, f"{policy}MomentumUpdaterHook")(**arguments)
    momenta = drive(hook, UpdaterRunner(sgd(momenta=BASES)), "momentum", runner_kind)
    for it, got in enumerate(momenta):
        p, big_p = (it // EPOCH_LENGTH, EPOCHS) if by_epoch else (it, MAX_ITERS)
        factor = warm(warmup, it, 0.8)
        want = [expected_regular(policy, arguments, base, p, big_p) / factor for base in BASES]
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15), it


def test_warmup_divides_the_momentum() -> None:
    hook = momentum_hooks.StepMomentumUpdaterHook(
        step=[100], by_epoch=False, warmup="constant", warmup_iters=5, warmup_ratio=0.9
    )
    momenta = [v[0] for v in drive(hook, UpdaterRunner(sgd(momenta=(0.9, 0.9)), 1, 8), "momentum")]
    assert momenta == pytest.approx([1.0] * 5 + [0.9] * 3)  # 0.9 / 0.9, then 0.9


def test_adam_first_beta_is_scheduled_and_the_second_kept() -> None:
    optimizer = adam(beta1=0.9)
    hook = momentum_hooks.CosineAnnealingMomentumUpdaterHook(min_momentum=0.5, by_epoch=False)
    betas = drive(hook, UpdaterRunner(optimizer, 1, 10), "momentum", "iter")
    assert [b[0] for b in betas] == pytest.approx(
        [cos_anneal(0.9, 0.5, it / 10) for it in range(10)], rel=1e-12
    )
    assert optimizer.param_groups[0]["betas"][1] == 0.999
    assert optimizer.param_groups[0]["initial_momentum"] == 0.9


def test_dict_of_optimizers_gets_each_its_own_schedule() -> None:
    optimizers = {"gen": sgd(momenta=(0.9, 0.8)), "disc": adam(beta1=0.5)}
    runner = UpdaterRunner(optimizers)
    hook = momentum_hooks.StepMomentumUpdaterHook(step=[2], gamma=0.5)
    hook.before_run(runner)
    assert hook.base_momentum == {"gen": [0.9, 0.8], "disc": [0.5]}
    runner.epoch = 3
    hook.before_train_epoch(runner)
    assert [g["momentum"] for g in optimizers["gen"].param_groups] == pytest.approx([0.45, 0.4])
    assert optimizers["disc"].param_groups[0]["betas"] == pytest.approx((0.25, 0.999))


def test_one_cycle_stores_the_bounds_in_each_group() -> None:
    optimizers = {"gen": sgd(momenta=(0.9, 0.8)), "disc": adam()}
    hook = momentum_hooks.OneCycleMomentumUpdaterHook(
        base_momentum={"gen": [0.8, 0.7], "disc": [0.85]}, max_momentum=0.95
    )
    hook.before_run(UpdaterRunner(optimizers))
    gen = optimizers["gen"].param_groups
    assert [(g["momentum"], g["base_momentum"], g["max_momentum"]) for g in gen] == [
        (0.95, 0.8, 0.95),
        (0.95, 0.7, 0.95),
    ]
    assert optimizers["disc"].param_groups[0]["betas"] == (0.95, 0.999)


def test_an_optimizer_without_momentum_is_refused() -> None:
    optimizer = torch.optim.Adagrad([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(
        ValueError, match=r"param groups with 'momentum' \(SGD, RMSprop\) or 'betas'"
    ):
        momentum_hooks.StepMomentumUpdaterHook(step=2).before_run(UpdaterRunner(optimizer))
    with pytest.raises(ValueError, match="needs an optimizer with momentum or betas, Adagrad"):
        momentum_hooks.OneCycleMomentumUpdaterHook().before_run(UpdaterRunner(optimizer))


# ------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warmup": "cos", "warmup_iters": 5}, "warmup must be None, 'constant', 'linear' or"),
        ({"warmup": "linear", "warmup_iters": 0}, "warmup_iters must be a positive"),
        ({"warmup": "linear", "warmup_iters": 5, "warmup_ratio": 0.0}, RATIO),
        ({"warmup": "exp", "warmup_iters": 5, "warmup_ratio": 1.1}, RATIO),
    ],
)
def test_warmup_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        momentum_hooks.StepMomentumUpdaterHook(step=2, **kwargs)


@pytest.mark.parametrize("policy", ["CosineAnnealing", "LinearAnnealing"])
def test_annealing_needs_exactly_one_minimum(policy: str) -> None:
    hook_type = getattr(momentum_hooks, f"{policy}MomentumUpdaterHook")
    with pytest.raises(ValueError, match="one of min_momentum and min_momentum_ratio, got both"):
        hook_type(min_momentum=0.5, min_momentum_ratio=0.5)
    with pytest.raises(ValueError, match="one of min_momentum and min_momentum_ratio, got neither"):
        hook_type()


@pytest.mark.parametrize("policy", ["Cyclic", "OneCycle"])
def test_cyclic_policies_refuse_by_epoch(policy: str) -> None:
    hook_type = getattr(momentum_hooks, f"{policy}MomentumUpdaterHook")
    with pytest.raises(
        ValueError, match=f"{policy}MomentumUpdaterHook supports only by_epoch=False"
    ):
        hook_type(by_epoch=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_momentum": 1}, "base_momentum must be a float, a list or a dict, got 1"),
        ({"max_momentum": "0.95"}, "max_momentum must be a float, a list or a dict"),
        ({"pct_start": 0}, "Expected float between 0 and 1 pct_start, but got 0"),
        ({"anneal_strategy": "exp"}, "anneal_strategy must be 'cos' or 'linear'"),
    ],
)
def test_one_cycle_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        momentum_hooks.OneCycleMomentumUpdaterHook(**kwargs)


def test_cyclic_step_ratio_up_is_checked() -> None:
    with pytest.raises(ValueError, match=r'"step_ratio_up" must be in range \[0,1\), got -0.1'):
        momentum_hooks.CyclicMomentumUpdaterHook(step_ratio_up=-0.1)


def test_every_policy_is_registered_under_mmcvs_name() -> None:
    for policy in ("Step", "CosineAnnealing", "LinearAnnealing", "Cyclic", "OneCycle"):
        name = f"{policy}MomentumUpdaterHook"
        assert HOOKS.get(name) is getattr(momentum_hooks, name)


# ------------------------------------------------------------ on the MMCV runner
class MomentumSeeingModel(nn.Module):
    """An MMCV model whose ``train_step`` records the optimizer's momentum, then steps."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 1)
        self.momenta: list[float] = []

    def train_step(self, data: Any, optimizer: Any) -> dict[str, Any]:
        self.momenta.append(optimizer.param_groups[0]["momentum"])
        x, y = data
        loss = ((self.fc(x) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss, "log_vars": {"loss": loss.item()}, "num_samples": len(x)}


def test_epoch_based_runner_with_cyclic_lr_and_momentum(tmp_path: Path) -> None:
    model = MomentumSeeingModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.95)
    runner = EpochBasedRunner(model, optimizer=optimizer, work_dir=tmp_path, max_epochs=2)
    runner.register_training_hooks(
        lr_config=dict(policy="cyclic", target_ratio=(10, 1e-4)),
        momentum_config=dict(policy="cyclic", target_ratio=(0.85 / 0.95, 1)),
    )
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(
        torch.randn(20, 2, generator=generator), torch.randn(20, 1, generator=generator)
    )
    runner.run([DataLoader(data, batch_size=2)], [("train", 1)])
    expected = [expected_regular("Cyclic", {}, 0.95, it, 20) for it in range(20)]
    assert model.momenta == pytest.approx(expected, rel=1e-12)
    assert min(model.momenta) == pytest.approx(0.85, abs=0.01)  # at the LR's peak
