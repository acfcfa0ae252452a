"""What MMCV 1.x's LR and momentum updater hooks share: curves, warm-up, per-group values.

The values are MMCV 1.7.2's to the last bit (same operations in the same
order), so a run migrated from ``mmcv.runner`` follows the same schedule.
Values per parameter group are a list, or for a dict of optimizers a dict
name -> list, as MMCV keeps them.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

from ._schedulers._cyclic import _anneal, _check_strategy

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "annealing_cos",
    "annealing_linear",
    "anneal_function",
    "annealing_target",
    "check_by_epoch",
    "check_one_of",
    "check_step",
    "check_warmup",
    "cyclic_phases",
    "cyclic_target_ratio",
    "cyclic_value",
    "format_param",
    "get_position_from_periods",
    "map_values",
    "per_group",
    "progress_of",
    "step_exponent",
    "warmup_action",
    "warmup_factor",
    "write_groups",
]


def annealing_cos(start: float, end: float, factor: float, weight: float = 1.0) -> float:
    """Cosine from ``weight * start + (1 - weight) * end`` (factor 0) down to `end` (factor 1)."""
    return end + 0.5 * weight * (start - end) * (math.cos(math.pi * factor) + 1)


def annealing_linear(start: float, end: float, factor: float) -> float:
    """The straight line from `start` (factor 0) to `end` (factor 1)."""
    return _anneal(start, end, factor, "linear")


def anneal_function(strategy: str) -> Callable[[float, float, float], float]:
    """`annealing_cos` for ``'cos'``, `annealing_linear` for ``'linear'``; ValueError otherwise."""
    return annealing_cos if _check_strategy(strategy) == "cos" else annealing_linear


def annealing_target(base: float, minimum: float | None, ratio: float | None) -> float:
    """Where annealing ends: ``base * ratio`` if a ratio is given, else the minimum."""
    if ratio is not None:
        return base * ratio
    assert minimum is not None  # check_one_of ran at construction
    return minimum


# ------------------------------------------------------------ validation
def check_warmup(warmup: str | None, warmup_iters: int, warmup_ratio: float) -> None:
    """MMCV's warm-up checks, as ValueErrors naming the option (MMCV asserts the last two)."""
    if warmup is None:
        return
    if warmup not in ("constant", "linear", "exp"):
        raise ValueError(f"warmup must be None, 'constant', 'linear' or 'exp', got {warmup!r}")
    if not warmup_iters > 0:
        raise ValueError(
            f"warmup_iters must be a positive number of iterations (epochs with "
            f"warmup_by_epoch=True) when warmup={warmup!r}, got {warmup_iters!r}"
        )
    if not 0 < warmup_ratio <= 1.0:
        raise ValueError(f"warmup_ratio must be in (0, 1], got {warmup_ratio!r}")


def check_one_of(name: str, value: float | None, ratio_name: str, ratio: float | None) -> None:
    """Exactly one of the minimum and its ratio (MMCV: AssertionError)."""
    if (value is None) == (ratio is None):
        given = "both" if value is not None else "neither"
        raise ValueError(f"give exactly one of {name} and {ratio_name}, got {given}")


def check_step(step: int | Sequence[int]) -> None:
    """A positive interval, or a list of positive milestones (MMCV: TypeError / AssertionError)."""
    if isinstance(step, list):
        if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in step):
            raise ValueError(f"step must be a list of positive ints, got {step!r}")
    elif isinstance(step, int) and not isinstance(step, bool):
        if step <= 0:
            raise ValueError(f"step must be a positive int, got {step!r}")
    else:
        raise TypeError(f'"step" must be a list or integer, got {type(step).__name__}')


def check_by_epoch(hook: str, by_epoch: bool) -> None:
    """Cyclic and OneCycle count iterations only (MMCV: AssertionError)."""
    if by_epoch:
        raise ValueError(f"{hook} supports only by_epoch=False (MMCV's rule), got by_epoch=True")


# ------------------------------------------------------------ where training is
def progress_of(runner: Any, by_epoch: bool) -> tuple[int, int]:
    """``(epoch, max_epochs)`` when `by_epoch`, else ``(iter, max_iters)``."""
    if by_epoch:
        return runner.epoch, runner.max_epochs
    return runner.iter, runner.max_iters


def step_exponent(step: int | Sequence[int], progress: int) -> int:
    """How many decays are due: ``progress // step``, or the milestones passed."""
    if isinstance(step, int):
        return progress // step
    return next((i for i, s in enumerate(step) if progress < s), len(step))


def get_position_from_periods(iteration: int, cumulative_periods: Sequence[int]) -> int:
    """The index of the first cumulative period that `iteration` has not reached."""
    for i, period in enumerate(cumulative_periods):
        if iteration < period:
            return i
    raise ValueError(
        f"Current iteration {iteration} exceeds cumulative_periods {list(cumulative_periods)}: "
        "make the periods cover the whole training"
    )


# ------------------------------------------------------------ warm-up
def warmup_factor(warmup: str, cur_iter: int, warmup_iters: int, ratio: float) -> float:
    """What warm-up multiplies the LR by (and divides the momentum by) at `cur_iter`."""
    if warmup == "constant":
        return ratio
    if warmup == "linear":
        return 1 - (1 - cur_iter / warmup_iters) * (1 - ratio)
    if warmup == "exp":
        return float(ratio ** (1 - cur_iter / warmup_iters))
    raise ValueError(f"warmup must be 'constant', 'linear' or 'exp', got {warmup!r}")


def warmup_action(
    by_epoch: bool, warmup: str | None, cur_iter: int, warmup_iters: int
) -> str | None:
    """What ``before_train_iter`` sets: ``'warmup'``, ``'regular'`` or nothing (None).

    Iteration-based schedules set a value every iteration. Epoch-based ones
    set theirs before each epoch; the iterations only warm it up, and restore
    it at the first iteration after the warm-up.
    """
    if not by_epoch:
        return "regular" if warmup is None or cur_iter >= warmup_iters else "warmup"
    if warmup is None or cur_iter > warmup_iters:
        return None
    return "regular" if cur_iter == warmup_iters else "warmup"


# ------------------------------------------------------------ values per group
def per_group(optimizer: Any, read: Callable[[dict[str, Any]], Any]) -> Any:
    """`read` of each param group: a list, or a dict name -> list for a dict of optimizers."""
    if isinstance(optimizer, dict):
        return {k: [read(g) for g in optim.param_groups] for k, optim in optimizer.items()}
    return [read(g) for g in optimizer.param_groups]


def map_values(values: Any, fn: Callable[[Any], float]) -> Any:
    """`fn` of each value, keeping the list (or dict of lists) shape."""
    if isinstance(values, dict):
        return {k: [fn(v) for v in group_values] for k, group_values in values.items()}
    return [fn(v) for v in values]


def write_groups(
    optimizer: Any, values: Any, write: Callable[[dict[str, Any], float], None]
) -> None:
    """``write(group, value)`` for each param group and its value (groups added later are left)."""
    if isinstance(optimizer, dict):
        for k, optim in optimizer.items():
            for group, value in zip(optim.param_groups, values[k], strict=False):
                write(group, value)
    else:
        for group, value in zip(optimizer.param_groups, values, strict=False):
            write(group, value)


def format_param(name: str, optimizer: Any, param: Any) -> list[float]:
    """One value per param group of `optimizer`, from a number, a list or a dict by optimizer."""
    if isinstance(param, numbers.Number):
        return [param] * len(optimizer.param_groups)  # type: ignore[list-item]
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ValueError(
                f"expected {len(optimizer.param_groups)} values for {name}, got {len(param)}"
            )
        return list(param)
    if name not in param:
        raise KeyError(f"{name} is not found in {list(param.keys())}: give a value per optimizer")
    return format_param(name, optimizer, param[name])


# ------------------------------------------------------------ the cyclic policy
def cyclic_target_ratio(target_ratio: Any) -> tuple[float, float]:
    """``(peak, trough)`` relative to the base: a lone value `r` means ``(r, r / 1e5)``."""
    if isinstance(target_ratio, float):
        return target_ratio, target_ratio / 1e5
    if isinstance(target_ratio, (tuple, list)):
        if len(target_ratio) == 1:
            return target_ratio[0], target_ratio[0] / 1e5
        if len(target_ratio) == 2:
            return target_ratio[0], target_ratio[1]
        raise ValueError(
            f'"target_ratio" must be a float or a tuple of two floats, got {target_ratio!r}'
        )
    raise ValueError(
        f"target_ratio should be either float or tuple, got {type(target_ratio).__name__}"
    )


def cyclic_phases(
    max_iters: int, cyclic_times: int, step_ratio_up: float, target_ratio: tuple[float, float]
) -> tuple[int, list[list[float]]]:
    """The cycle length and its two phases ``[start, end, start_ratio, end_ratio]``."""
    per_cycle = max_iters // cyclic_times
    if per_cycle < 1:
        raise ValueError(
            f"cyclic_times={cyclic_times} cycles do not fit in max_iters={max_iters} iterations"
        )
    up = int(step_ratio_up * per_cycle)
    return per_cycle, [
        [0, up, 1, target_ratio[0]],
        [up, per_cycle, target_ratio[0], target_ratio[1]],
    ]


def cyclic_value(
    base: float,
    iteration: int,
    per_cycle: int,
    phases: list[list[float]],
    gamma: float,
    anneal: Callable[[float, float, float], float],
) -> float:
    """The value at `iteration`; with ``gamma < 1`` each cycle's peak moves towards the base."""
    current = iteration % per_cycle
    scale = gamma ** (iteration // per_cycle)
    for start, end, start_ratio, end_ratio in phases:
        if start <= current < end:
            if start == 0:
                end_ratio = 1 - scale + end_ratio * scale
            else:
                start_ratio = 1 - scale + start_ratio * scale
            return anneal(base * start_ratio, base * end_ratio, (current - start) / (end - start))
    raise AssertionError("unreachable: the phases cover the cycle")
