"""docs/migration.md's MMCV `lr_config`/`momentum_config` -> `param_scheduler` table, checked.

Each row's scheduler configs are built on a real SGD optimizer and stepped as
`ParamSchedulerHook` steps them (iteration-based ones after every iteration,
epoch-based ones after every epoch) for 200 iterations; the value each
iteration trains with is compared with MMCV 1.7's formula, written out here:
the regular schedule at the same iteration (or epoch) times the warm-up factor
(divided by it for the momentum). A row the table marks exact must agree to
1e-12 relative; a row it marks inexact must be off by the error the table gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from hooks_core import PARAM_SCHEDULERS
from hooks_optim import ParamSchedulerHook

N = 200  # iterations
L = 10  # iterations per epoch
E = N // L  # epochs
W = 15  # warm-up iterations (crosses an epoch boundary)
R = 0.1  # LrUpdaterHook's default warmup_ratio
RM = 0.9  # MomentumUpdaterHook's default warmup_ratio
LRS = (0.1, 0.05)
MOMENTUMS = (0.85, 0.8)
EXACT = 1e-12
# How a main schedule meets a warm-up scheduler over the same iterations.
MULTIPLY = "multiply"  # each step multiplies the current value: the warm-up's factor stays
FLOOR = "floor"  # (value - floor) is scaled: the floor is not warmed up, so not exact
ABSOLUTE = "absolute"  # the value is computed from the base value: see `absolute_warmup`


@dataclass
class Row:
    """One MMCV config (without its warm-up) and the scheduler configs it maps to."""

    name: str
    mmcv: dict[str, Any]
    schedulers: list[dict[str, Any]]
    key: str = "lr"
    lrs: tuple[float, ...] = LRS
    chain: str = MULTIPLY


# ----------------------------------------------------------------- the table


def lr_warmup(kind: str | None, w: int = W, ratio: float = R) -> list[dict[str, Any]]:
    """MMCV's `warmup=kind, warmup_iters=w, warmup_ratio=ratio` as iteration-based schedulers."""
    window = dict(begin=0, end=w + 1, by_epoch=False)
    if kind is None:
        return []
    if kind == "constant":
        return [dict(type="ConstantLR", factor=ratio, **window)]
    if kind == "linear":
        return [dict(type="LinearLR", start_factor=ratio, end_factor=1.0, **window)]
    return [  # exp: ratio ** (1 - i / w) = ratio at 0, times ratio ** (-1 / w) per iteration
        dict(type="MultiStepLR", milestones=[0], gamma=ratio, **window),
        dict(type="ExponentialLR", gamma=ratio ** (-1 / w), **window),
    ]


def momentum_warmup(kind: str | None, w: int = W, ratio: float = RM) -> list[dict[str, Any]]:
    """MMCV's momentum warm-up (the regular momentum divided by the LR warm-up factor)."""
    window = dict(begin=0, end=w + 1, by_epoch=False)
    if kind is None:
        return []
    up = dict(type="MultiStepMomentum", milestones=[0], gamma=1 / ratio, **window)
    if kind == "constant":
        return [up, dict(type="MultiStepMomentum", milestones=[w], gamma=ratio, **window)]
    if kind == "linear":  # 1 / (ratio + (1 - ratio) i / w) = (1 / ratio) / (1 + gamma i)
        return [
            up,
            dict(type="InverseMomentum", gamma=(1 - ratio) / (ratio * w), power=1.0, **window),
        ]
    return [up, dict(type="ExponentialMomentum", gamma=ratio ** (1 / w), **window)]


def absolute_warmup(kind: str, key: str, w: int = W) -> list[dict[str, Any]]:
    """A warm-up after a schedule that writes absolute values: each iteration's own factor.

    `CyclicLR` and `OneCycleLR` overwrite the value at every step, so the
    warm-up must multiply it by the whole factor of that iteration, not by
    the change since the last one.
    """
    scheduler, ratio = ("MultiStepLR", R) if key == "lr" else ("MultiStepMomentum", RM)
    window = dict(begin=0, end=w, by_epoch=False)
    factors = [warmup_factor(kind, i, w, ratio) for i in range(w)]
    if key != "lr":
        factors = [1 / f for f in factors]
    if kind == "constant":
        return [dict(type=scheduler, milestones=list(range(w)), gamma=factors[0], **window)]
    return [dict(type=scheduler, milestones=[i], gamma=f, **window) for i, f in enumerate(factors)]


def lr_rows(by_epoch: bool) -> list[Row]:
    """The LR policies, counted in epochs (``by_epoch=True``, 20 of them) or iterations (200)."""
    p = E if by_epoch else N  # MMCV's max_progress: runner.max_epochs or runner.max_iters
    k = p // 20  # one epoch, or ten iterations
    on = dict(by_epoch=by_epoch)
    rows = [
        Row("fixed", dict(policy="fixed", **on), []),
        Row(
            "step-int",
            dict(policy="step", step=5 * k, gamma=0.5, **on),
            [dict(type="StepLR", step_size=5 * k, gamma=0.5, **on)],
        ),
        Row(
            "step-list",
            dict(policy="step", step=[6 * k, 12 * k, 17 * k], **on),
            [dict(type="MultiStepLR", milestones=[6 * k, 12 * k, 17 * k], gamma=0.1, **on)],
        ),
        # No scheduler clips at min_lr: with one base lr, the last milestone multiplies
        # down to min_lr instead (0.1 -> 0.01 -> 0.001 -> 5e-4, not 1e-4).
        Row(
            "step-min_lr",
            dict(policy="step", step=[6 * k, 12 * k, 17 * k], min_lr=5e-4, **on),
            [
                dict(type="MultiStepLR", milestones=[6 * k, 12 * k], gamma=0.1, **on),
                dict(type="MultiStepLR", milestones=[17 * k], gamma=5e-4 / 1e-3, **on),
            ],
            lrs=(0.1,),
        ),
        Row(
            "exp",
            dict(policy="exp", gamma=0.99 ** (20 / p), **on),
            [dict(type="ExponentialLR", gamma=0.99 ** (20 / p), **on)],
        ),
        Row(
            "poly",
            dict(policy="poly", power=0.9, **on),
            [dict(type="PolyLR", power=0.9, eta_min=0.0, begin=0, end=p + 1, **on)],
        ),
        Row(
            "poly-min_lr",
            dict(policy="poly", power=0.9, min_lr=1e-3, **on),
            [dict(type="PolyLR", power=0.9, eta_min=1e-3, begin=0, end=p + 1, **on)],
            chain=FLOOR,
        ),
        Row(
            "inv",
            dict(policy="inv", gamma=0.2 / k, power=0.75, **on),
            [dict(type="InverseLR", gamma=0.2 / k, power=0.75, **on)],
        ),
        Row(
            "cos-min_lr",
            dict(policy="CosineAnnealing", min_lr=1e-3, **on),
            [dict(type="CosineAnnealingLR", T_max=p, eta_min=1e-3, begin=0, end=p, **on)],
            chain=FLOOR,
        ),
        Row(
            "cos-min_lr0",
            dict(policy="CosineAnnealing", min_lr=0.0, **on),
            [dict(type="CosineAnnealingLR", T_max=p, eta_min=0.0, begin=0, end=p, **on)],
        ),
        Row(
            "cos-ratio",
            dict(policy="CosineAnnealing", min_lr_ratio=0.01, **on),
            [dict(type="CosineAnnealingLR", T_max=p, eta_min_ratio=0.01, begin=0, end=p, **on)],
            chain=FLOOR,
        ),
        # Flat for round(0.75 * p) steps, longer than the warm-up: the floor never meets it.
        Row(
            "flatcos",
            dict(policy="FlatCosineAnnealing", start_percent=0.75, min_lr_ratio=0.01, **on),
            [
                dict(
                    type="FlatCosineAnnealingLR",
                    start_percent=0.75,
                    eta_min_ratio=0.01,
                    begin=0,
                    end=p,
                    **on,
                )
            ],
        ),
        # Flat for 5 %: by iteration the cosine starts before the warm-up ends
        # (by epoch, at iteration 20, after it).
        Row(
            "flatcos-short",
            dict(policy="FlatCosineAnnealing", start_percent=0.05, min_lr=1e-3, **on),
            [
                dict(
                    type="FlatCosineAnnealingLR",
                    start_percent=0.05,
                    eta_min=1e-3,
                    begin=0,
                    end=p,
                    **on,
                )
            ],
            chain=MULTIPLY if by_epoch else FLOOR,
        ),
        # MMCV restarts at min + w * (base - min); here at base * w': w' = w + (1 - w) * ratio.
        Row(
            "cosrestart-ratio",
            dict(
                policy="CosineRestart",
                periods=[5 * k, 7 * k, 8 * k],
                restart_weights=[1, 0.5, 0.25],
                min_lr_ratio=0.1,
                **on,
            ),
            [
                dict(
                    type="CosineRestartLR",
                    periods=[5 * k, 7 * k, 8 * k],
                    restart_weights=[1.0, 0.5 + 0.5 * 0.1, 0.25 + 0.75 * 0.1],
                    eta_min_ratio=0.1,
                    **on,
                )
            ],
            chain=FLOOR,
        ),
        Row(
            "cosrestart-min_lr0",
            dict(
                policy="CosineRestart",
                periods=[5 * k, 7 * k, 8 * k],
                restart_weights=[1, 0.5, 0.25],
                min_lr=0.0,
                **on,
            ),
            [
                dict(
                    type="CosineRestartLR",
                    periods=[5 * k, 7 * k, 8 * k],
                    restart_weights=[1.0, 0.5, 0.25],
                    eta_min=0.0,
                    **on,
                )
            ],
        ),
        # An absolute min_lr: w' = w + (1 - w) * min_lr / base_lr, exact for one base lr.
        Row(
            "cosrestart-min_lr",
            dict(
                policy="CosineRestart",
                periods=[5 * k, 7 * k, 8 * k],
                restart_weights=[1, 0.5, 0.25],
                min_lr=1e-3,
                **on,
            ),
            [
                dict(
                    type="CosineRestartLR",
                    periods=[5 * k, 7 * k, 8 * k],
                    restart_weights=[1.0, 0.5 + 0.5 * 1e-3 / 0.1, 0.25 + 0.75 * 1e-3 / 0.1],
                    eta_min=1e-3,
                    **on,
                )
            ],
            lrs=(0.1,),
            chain=FLOOR,
        ),
        Row(
            "linear-ratio",
            dict(policy="LinearAnnealing", min_lr_ratio=0.1, **on),
            [dict(type="LinearLR", start_factor=1.0, end_factor=0.1, begin=0, end=p + 1, **on)],
        ),
        Row(
            "linear-min_lr",
            dict(policy="LinearAnnealing", min_lr=1e-3, **on),
            [dict(type="PolyLR", power=1.0, eta_min=1e-3, begin=0, end=p + 1, **on)],
            chain=FLOOR,
        ),
        # With one base lr, min_lr / base_lr as a factor: exact with a warm-up too.
        Row(
            "linear-min_lr-factor",
            dict(policy="LinearAnnealing", min_lr=1e-3, **on),
            [
                dict(
                    type="LinearLR",
                    start_factor=1.0,
                    end_factor=1e-3 / 0.1,
                    begin=0,
                    end=p + 1,
                    **on,
                )
            ],
            lrs=(0.1,),
        ),
    ]
    if not by_epoch:  # MMCV allows Cyclic and OneCycle by iteration only
        rows += [
            Row(
                "cyclic",
                dict(
                    policy="cyclic",
                    target_ratio=(10, 1e-4),
                    cyclic_times=2,
                    step_ratio_up=0.4,
                    gamma=0.8,
                    by_epoch=False,
                ),
                [
                    dict(
                        type="CyclicLR",
                        target_ratio=(10, 1e-4),
                        cyclic_times=2,
                        step_ratio_up=0.4,
                        gamma=0.8,
                        begin=0,
                        end=N,
                        by_epoch=False,
                    )
                ],
                chain=ABSOLUTE,
            ),
            Row(
                "cyclic-linear",
                dict(
                    policy="cyclic",
                    target_ratio=(5, 1e-2),
                    cyclic_times=3,
                    anneal_strategy="linear",
                    by_epoch=False,
                ),
                [
                    dict(
                        type="CyclicLR",
                        target_ratio=(5, 1e-2),
                        cyclic_times=3,
                        anneal_strategy="linear",
                        begin=0,
                        end=N,
                        by_epoch=False,
                    )
                ],
                chain=ABSOLUTE,
            ),
            Row(
                "onecycle",
                dict(policy="OneCycle", max_lr=0.2),
                [
                    dict(
                        type="OneCycleLR",
                        eta_max=0.2,
                        total_steps=N,
                        begin=0,
                        end=N,
                        by_epoch=False,
                    )
                ],
                chain=ABSOLUTE,
            ),
            Row(
                "onecycle-3phase",
                dict(
                    policy="OneCycle",
                    max_lr=[0.2, 0.1],
                    total_steps=250,
                    pct_start=0.25,
                    anneal_strategy="linear",
                    div_factor=10,
                    final_div_factor=100,
                    three_phase=True,
                ),
                [
                    dict(
                        type="OneCycleLR",
                        eta_max=[0.2, 0.1],
                        total_steps=250,
                        pct_start=0.25,
                        anneal_strategy="linear",
                        div_factor=10,
                        final_div_factor=100,
                        three_phase=True,
                        begin=0,
                        end=N,
                        by_epoch=False,
                    )
                ],
                chain=ABSOLUTE,
            ),
        ]
    return rows


def momentum_rows(by_epoch: bool) -> list[Row]:
    """The momentum policies (`momentum_config`), MMCV's defaults where it has them."""
    p = E if by_epoch else N
    k = p // 20
    on = dict(by_epoch=by_epoch)
    m = dict(key="momentum")
    rows = [
        Row(
            "m-step-int",
            dict(policy="step", step=5 * k, **on),  # MMCV's momentum gamma is 0.5
            [dict(type="StepMomentum", step_size=5 * k, gamma=0.5, **on)],
            **m,
        ),
        Row(
            "m-step-list",
            dict(policy="step", step=[6 * k, 12 * k], gamma=0.9, **on),
            [dict(type="MultiStepMomentum", milestones=[6 * k, 12 * k], gamma=0.9, **on)],
            **m,
        ),
        Row(
            "m-cos-ratio",
            dict(policy="CosineAnnealing", min_momentum_ratio=0.5, **on),
            [
                dict(
                    type="CosineAnnealingMomentum", T_max=p, eta_min_ratio=0.5, begin=0, end=p, **on
                )
            ],
            chain=FLOOR,
            **m,
        ),
        Row(
            "m-cos-min0",
            dict(policy="CosineAnnealing", min_momentum=0.0, **on),
            [dict(type="CosineAnnealingMomentum", T_max=p, eta_min=0.0, begin=0, end=p, **on)],
            **m,
        ),
        Row(
            "m-linear-ratio",
            dict(policy="LinearAnnealing", min_momentum_ratio=0.5, **on),
            [
                dict(
                    type="LinearMomentum",
                    start_factor=1.0,
                    end_factor=0.5,
                    begin=0,
                    end=p + 1,
                    **on,
                )
            ],
            **m,
        ),
        # An absolute target, here above the start (MMCV anneals up as well).
        Row(
            "m-linear-min",
            dict(policy="LinearAnnealing", min_momentum=0.95, **on),
            [dict(type="PolyMomentum", power=1.0, eta_min=0.95, begin=0, end=p + 1, **on)],
            chain=FLOOR,
            **m,
        ),
    ]
    if not by_epoch:
        rows += [
            Row(
                "m-cyclic",
                dict(policy="cyclic", cyclic_times=2, by_epoch=False),
                [
                    dict(
                        type="CyclicMomentum",
                        target_ratio=(0.85 / 0.95, 1.0),
                        cyclic_times=2,
                        step_ratio_up=0.4,
                        begin=0,
                        end=N,
                        by_epoch=False,
                    )
                ],
                chain=ABSOLUTE,
                **m,
            ),
            # MMCV starts at max_momentum, reaches base_momentum at the LR's peak, returns.
            Row(
                "m-onecycle",
                dict(policy="OneCycle"),
                [
                    dict(
                        type="OneCycleMomentum",
                        eta_max=0.85,
                        div_factor=0.85 / 0.95,
                        final_div_factor=1.0,
                        total_steps=N,
                        begin=0,
                        end=N,
                        by_epoch=False,
                    )
                ],
                chain=ABSOLUTE,
                **m,
            ),
            Row(
                "m-onecycle-3phase",
                dict(
                    policy="OneCycle",
                    base_momentum=0.8,
                    max_momentum=0.9,
                    pct_start=0.25,
                    anneal_strategy="linear",
                    three_phase=True,
                ),
                [
                    dict(
                        type="OneCycleMomentum",
                        eta_max=0.8,
                        div_factor=0.8 / 0.9,
                        final_div_factor=1.0,
                        total_steps=N,
                        pct_start=0.25,
                        anneal_strategy="linear",
                        three_phase=True,
                        begin=0,
                        end=N,
                        by_epoch=False,
                    )
                ],
                chain=ABSOLUTE,
                **m,
            ),
        ]
    return rows


# The largest relative difference from MMCV over the 200 iterations of each
# row whose floor keeps it from being exact with a warm-up, per unit and
# warm-up (constant, linear, exp), rounded up: the numbers of docs/migration.md.
INEXACT: dict[str, dict[str, tuple[float, float, float]]] = {
    "poly-min_lr": {"iter": (1.4e-2, 2.7e-3, 4.6e-3), "epoch": (8.5e-3, 4.1e-4, 1.1e-3)},
    "cos-min_lr": {"iter": (2.6e-3, 2.2e-4, 4.9e-4), "epoch": (1.2e-3, 5.4e-5, 1.5e-4)},
    "cos-ratio": {"iter": (1.3e-3, 1.1e-4, 2.5e-4), "epoch": (5.6e-4, 2.7e-5, 7.2e-5)},
    "flatcos-short": {"iter": (3.1e-4, 5.5e-6, 1.5e-5)},
    "cosrestart-ratio": {"iter": (0.23, 1.8e-2, 4.1e-2), "epoch": (9.5e-2, 4.5e-3, 1.3e-2)},
    "cosrestart-min_lr": {"iter": (2.4e-2, 1.9e-3, 4.2e-3), "epoch": (9.5e-3, 4.6e-4, 1.3e-3)},
    "linear-min_lr": {"iter": (1.5e-2, 3.0e-3, 5.1e-3), "epoch": (9.5e-3, 4.6e-4, 1.3e-3)},
    "m-cos-ratio": {"iter": (7.0e-4, 2.6e-4, 2.7e-4), "epoch": (3.1e-4, 1.1e-4, 1.1e-4)},
    "m-linear-min": {"iter": (8.8e-3, 4.6e-3, 4.7e-3), "epoch": (5.9e-3, 2.0e-3, 2.1e-3)},
}
WARMUPS = (None, "constant", "linear", "exp")


def cases() -> list[Any]:
    """Every row of both units with every warm-up."""
    out = []
    for by_epoch in (False, True):
        unit = "epoch" if by_epoch else "iter"
        for row in lr_rows(by_epoch) + momentum_rows(by_epoch):
            for kind in WARMUPS:
                out.append(pytest.param(row, kind, unit, id=f"{row.name}-{unit}-{kind or 'none'}"))
    return out


# ----------------------------------------------------------------- MMCV's formulas


def _cos(start: float, end: float, pct: float, weight: float = 1.0) -> float:
    return end + 0.5 * weight * (start - end) * (math.cos(math.pi * pct) + 1)


def _lin(start: float, end: float, pct: float) -> float:
    return start + (end - start) * pct


def _target(cfg: dict[str, Any], base: float, name: str) -> float:
    ratio = cfg.get(f"min_{name}_ratio")
    return base * ratio if ratio is not None else cfg[f"min_{name}"]


def mmcv_regular(cfg: dict[str, Any], base: float, t: int, total: int, name: str) -> float:
    """MMCV 1.7's regular value at progress `t` of `total` (epochs or iterations)."""
    policy = cfg["policy"]
    if policy == "fixed":
        return base
    if policy == "step":
        step = cfg["step"]
        power = t // step if isinstance(step, int) else sum(s <= t for s in step)
        value = base * cfg.get("gamma", 0.1 if name == "lr" else 0.5) ** power
        low = cfg.get(f"min_{name}")
        return value if low is None else max(value, low)
    if policy == "exp":
        return base * cfg["gamma"] ** t
    if policy == "poly":
        low = cfg.get("min_lr", 0.0)
        return (base - low) * (1 - t / total) ** cfg.get("power", 1.0) + low
    if policy == "inv":
        return base * (1 + cfg["gamma"] * t) ** (-cfg.get("power", 1.0))
    if policy == "CosineAnnealing":
        return _cos(base, _target(cfg, base, name), t / total)
    if policy == "LinearAnnealing":
        return _lin(base, _target(cfg, base, name), t / total)
    if policy == "FlatCosineAnnealing":
        flat = round(total * cfg["start_percent"])
        if t < flat:
            return base
        return _cos(base, _target(cfg, base, name), (t - flat) / (total - flat))
    if policy == "CosineRestart":
        begin = 0
        for period, weight in zip(cfg["periods"], cfg["restart_weights"], strict=True):
            if t < begin + period:
                return _cos(base, _target(cfg, base, name), (t - begin) / period, weight)
            begin += period
        raise AssertionError("MMCV raises past the last period")
    if policy == "cyclic":
        return _cyclic(cfg, base, t, total, name)
    raise AssertionError(policy)


def _cyclic(cfg: dict[str, Any], base: float, t: int, total: int, name: str) -> float:
    default = (10, 1e-4) if name == "lr" else (0.85 / 0.95, 1.0)
    peak, trough = cfg.get("target_ratio", default)
    length = total // cfg.get("cyclic_times", 1)
    up = int(cfg.get("step_ratio_up", 0.4) * length)
    anneal = _lin if cfg.get("anneal_strategy", "cos") == "linear" else _cos
    cycle, inner = divmod(t, length)
    top = 1 - cfg.get("gamma", 1) ** cycle * (1 - peak)
    if inner < up:
        return anneal(base, base * top, inner / up)
    return anneal(base * top, base * trough, (inner - up) / (length - up))


def _one_cycle(cfg: dict[str, Any], group: int, t: int, total: int, name: str) -> float:
    """MMCV's OneCycle for param group `group`: it ignores the optimizer's own values."""
    anneal = _lin if cfg.get("anneal_strategy", "cos") == "linear" else _cos
    pct = cfg.get("pct_start", 0.3)
    if name == "lr":
        peak = cfg["max_lr"]
        peak = peak[group] if isinstance(peak, list) else peak
        steps = cfg.get("total_steps", total)
        div, final = cfg.get("div_factor", 25), cfg.get("final_div_factor", 1e4)
        start, end = peak / div, peak / div / final
    else:  # momentum: max -> base -> max over runner.max_iters
        start = end = cfg.get("max_momentum", 0.95)
        peak = cfg.get("base_momentum", 0.85)
        steps = total
    up = pct * steps - 1
    if cfg.get("three_phase"):
        phases = [(up, start, peak), (2 * pct * steps - 2, peak, start), (steps - 1, start, end)]
    else:
        phases = [(up, start, peak), (steps - 1, peak, end)]
    begin = 0.0
    for stop, low, high in phases:
        if t <= stop:
            return anneal(low, high, (t - begin) / (stop - begin))
        begin = stop
    raise AssertionError("past total_steps")


def warmup_factor(kind: str | None, i: int, w: int, ratio: float) -> float:
    """MMCV's warm-up multiplier at iteration `i` (1 from iteration `w` on)."""
    if kind is None or i >= w:
        return 1.0
    if kind == "constant":
        return ratio
    if kind == "linear":
        return 1 - (1 - i / w) * (1 - ratio)
    return ratio ** (1 - i / w)


def mmcv_values(row: Row, kind: str | None, w: int = W) -> list[list[float]]:
    """The value MMCV 1.7 sets for each iteration and param group."""
    cfg = row.mmcv
    by_epoch = cfg.get("by_epoch", True) and cfg["policy"] not in ("cyclic", "OneCycle")
    name = row.key
    ratio = R if name == "lr" else RM
    out = []
    for i in range(N):
        t, total = (i // L, E) if by_epoch else (i, N)
        factor = warmup_factor(kind, i, w, ratio)
        values = []
        for g, base in enumerate(row.lrs if name == "lr" else MOMENTUMS[: len(row.lrs)]):
            if cfg["policy"] == "OneCycle":
                regular = _one_cycle(cfg, g, t, total, name)
            else:
                regular = mmcv_regular(cfg, base, t, total, name)
            values.append(regular * factor if name == "lr" else regular / factor)
        out.append(values)
    return out


# ----------------------------------------------------------------- this project's side


def make_optimizer(row: Row) -> torch.optim.SGD:
    """SGD over one parameter per param group, with the row's learning rates."""
    groups = [
        {"params": [torch.nn.Parameter(torch.zeros(3))], "lr": lr, "momentum": momentum}
        for lr, momentum in zip(row.lrs, MOMENTUMS, strict=False)
    ]
    return torch.optim.SGD(groups)


def scheduled_values(
    optimizer: torch.optim.Optimizer, configs: list[dict[str, Any]], key: str
) -> list[list[float]]:
    """The values of `N` iterations, the built schedulers stepped as `ParamSchedulerHook` does."""
    schedulers = [
        PARAM_SCHEDULERS.build(dict(cfg), default_args=dict(optimizer=optimizer)) for cfg in configs
    ]
    runner = SimpleNamespace(param_schedulers=schedulers)
    hook = ParamSchedulerHook()
    out = []
    for i in range(N):  # the value iteration i trains with, then the hook's steps after it
        out.append([float(g[key]) for g in optimizer.param_groups])
        hook.after_train_iter(runner, batch_idx=i % L)
        if (i + 1) % L == 0:
            hook.after_train_epoch(runner)
    return out


def max_rel_error(ours: list[list[float]], theirs: list[list[float]]) -> float:
    return max(
        abs(a - b) / abs(b)
        for xs, ys in zip(ours, theirs, strict=True)
        for a, b in zip(xs, ys, strict=True)
    )


def mapping(row: Row, kind: str | None, w: int = W) -> list[dict[str, Any]]:
    """The row's configs: the main schedule, then the warm-up (CosineRestart needs this order)."""
    if kind is None:
        return row.schedulers
    if row.chain == ABSOLUTE:
        return row.schedulers + absolute_warmup(kind, row.key, w)
    warmup = lr_warmup(kind, w) if row.key == "lr" else momentum_warmup(kind, w)
    return row.schedulers + warmup


def error(row: Row, kind: str | None, w: int = W) -> float:
    """The largest relative difference from MMCV of the row's mapping over `N` iterations."""
    ours = scheduled_values(make_optimizer(row), mapping(row, kind, w), row.key)
    return max_rel_error(ours, mmcv_values(row, kind, w))


# ----------------------------------------------------------------- tests


@pytest.mark.parametrize(("row", "kind", "unit"), cases())
def test_mapping_reproduces_mmcv(row: Row, kind: str | None, unit: str) -> None:
    measured = error(row, kind)
    bounds = INEXACT.get(row.name, {}).get(unit)
    if kind is None or bounds is None:
        assert measured <= EXACT
    else:  # the table says "no" and gives this error
        assert row.chain == FLOOR
        assert 1e-6 < measured <= bounds[WARMUPS.index(kind) - 1]


@pytest.mark.parametrize("kind", ["constant", "linear", "exp"])
@pytest.mark.parametrize("by_epoch", [False, True])
def test_warmup_by_epoch_is_warmup_iters_times_epoch_length(kind: str, by_epoch: bool) -> None:
    """`warmup_by_epoch=True, warmup_iters=2`: the same warm-up over 2 * len(train_dataloader)."""
    row = lr_rows(by_epoch)[2]  # step-list
    assert error(row, kind, w=2 * L) <= EXACT


def test_a_warmup_ending_one_iteration_early_is_what_the_old_table_got_wrong() -> None:
    """`ConstantLR(end=W)` restores the value at iteration W - 1; MMCV warms up until W."""
    row = lr_rows(False)[2]
    late = scheduled_values(make_optimizer(row), row.schedulers + lr_warmup("constant"), "lr")
    early_cfg = [*row.schedulers, dict(lr_warmup("constant")[0], end=W)]
    early = scheduled_values(make_optimizer(row), early_cfg, "lr")
    mmcv = mmcv_values(row, "constant")
    assert late[W - 1] == pytest.approx(mmcv[W - 1], rel=EXACT)
    assert early[W - 1] == pytest.approx([v / R for v in mmcv[W - 1]], rel=EXACT)
