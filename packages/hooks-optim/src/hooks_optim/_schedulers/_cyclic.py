"""Schedules that go up and down: OneCycle (super-convergence) and MMCV's Cyclic.

Both compute each value from fixed quantities (OneCycle from `eta_max`, Cyclic
from the group's initial value) rather than from the current one: they define
the whole curve and are not meant to be stacked with another scheduler over
the same window.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hooks_core import PARAM_SCHEDULERS

from ._base import INF, LRSchedulerMixin, MomentumSchedulerMixin, _ParamScheduler, _per_group

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "OneCycleParamScheduler",
    "OneCycleLR",
    "OneCycleMomentum",
    "CyclicParamScheduler",
    "CyclicLR",
    "CyclicMomentum",
]


def _anneal(start: float, end: float, pct: float, strategy: str) -> float:
    """The value a fraction `pct` of the way from `start` to `end`."""
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def _check_strategy(strategy: str) -> str:
    if strategy not in ("cos", "linear"):
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {strategy!r}")
    return strategy


@PARAM_SCHEDULERS.register_module()
class OneCycleParamScheduler(_ParamScheduler):
    """The 1cycle policy: from ``eta_max / div_factor`` up to `eta_max`, then far below the start.

    Equal to PyTorch's ``OneCycleLR`` (without its momentum cycling). For
    the momentum, which cycles the other way, pass a `div_factor` below 1:
    ``OneCycleMomentum(eta_max=0.85, div_factor=0.85 / 0.95, final_div_factor=1)``
    goes from 0.95 down to 0.85 and back (MMCV's ``OneCycleMomentumUpdaterHook``).

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        eta_max: The peak value, or one per param group.
        total_steps: The length of the cycle; defaults to ``end - begin``.
            After it the value stays.
        pct_start: The fraction of the cycle spent going up.
        anneal_strategy: ``'cos'`` or ``'linear'``.
        div_factor: The start value is ``eta_max / div_factor``.
        final_div_factor: The final value is the start value divided by this.
        three_phase: Go back down to the start value before the final decay
            (fast.ai's variant) instead of decaying straight from the peak.
        **kwargs: The base arguments (see `_ParamScheduler`).
    """

    _epoch_params = ("total_steps",)

    def __init__(
        self,
        optimizer: Any,
        param_name: str,
        eta_max: float | Sequence[float] = 0.0,
        total_steps: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        **kwargs: Any,
    ) -> None:
        if not 0 <= pct_start <= 1:
            raise ValueError(f"pct_start must be in [0, 1], got {pct_start}")
        self.eta_max = list(eta_max) if isinstance(eta_max, (list, tuple)) else eta_max
        self.total_steps = total_steps
        self.pct_start = pct_start
        self.anneal_strategy = _check_strategy(anneal_strategy)
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor
        self.three_phase = three_phase
        super().__init__(optimizer, param_name, **kwargs)

    def _prepare(self) -> None:
        if self.total_steps is None:
            if self.end == INF:
                raise ValueError(f"{type(self).__name__} needs total_steps or end")
            self.total_steps = self.end - self.begin
        if self.total_steps < 1:
            raise ValueError(f"total_steps must be positive, got {self.total_steps}")
        peaks = _per_group("eta_max", self.eta_max, self.optimizer)
        # One [start, peak, final] triple per group.
        self.cycle_values = [
            [peak / self.div_factor, peak, peak / self.div_factor / self.final_div_factor]
            for peak in peaks
        ]
        up = self.pct_start * self.total_steps
        last = self.total_steps - 1
        # [end step, index of the start value, index of the end value] per phase
        self.phases: list[list[float]] = (
            [[up - 1, 0, 1], [2 * up - 2, 1, 0], [last, 0, 2]]
            if self.three_phase
            else [[up - 1, 0, 1], [last, 1, 2]]
        )

    def _get_value(self) -> list[float]:
        assert self.total_steps is not None
        if self.last_step >= self.total_steps:
            return self._current()
        return [self._value_at(self.last_step, values) for values in self.cycle_values]

    def _value_at(self, step: int, values: list[float]) -> float:
        start_step = 0.0
        for i, (end_step, start, end) in enumerate(self.phases):
            if step <= end_step or i == len(self.phases) - 1:
                pct = (step - start_step) / (end_step - start_step)
                return _anneal(values[int(start)], values[int(end)], pct, self.anneal_strategy)
            start_step = end_step
        raise AssertionError("unreachable: the last phase always matches")


@PARAM_SCHEDULERS.register_module()
class OneCycleLR(LRSchedulerMixin, OneCycleParamScheduler):
    """`OneCycleParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class OneCycleMomentum(MomentumSchedulerMixin, OneCycleParamScheduler):
    """`OneCycleParamScheduler` for the momentum; see there for cycling it downwards."""


@PARAM_SCHEDULERS.register_module()
class CyclicParamScheduler(_ParamScheduler):
    """MMCV's ``cyclic`` policy: `cyclic_times` cycles up to ``base * target_ratio[0]`` and down.

    Each cycle rises from the initial value to ``target_ratio[0]`` times it over
    the first `step_ratio_up` of the cycle, then falls to ``target_ratio[1]``
    times it. With ``gamma < 1`` each cycle's amplitude shrinks by `gamma`. For
    the momentum MMCV uses ``target_ratio=(0.85 / 0.95, 1)``.

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        target_ratio: ``(peak, trough)`` relative to the initial value; a single
            number means ``(ratio, ratio / 1e5)``.
        cyclic_times: Cycles over the window ``[begin, end)``.
        step_ratio_up: The fraction of a cycle spent going up, in [0, 1).
        anneal_strategy: ``'cos'`` or ``'linear'``.
        gamma: Amplitude decay per cycle, in (0, 1].
        **kwargs: The base arguments (see `_ParamScheduler`); `end` must be set.
            MMCV allows only iteration-based cycles; here ``by_epoch`` is free.
    """

    def __init__(
        self,
        optimizer: Any,
        param_name: str,
        target_ratio: float | Sequence[float] = (10.0, 1e-4),
        cyclic_times: int = 1,
        step_ratio_up: float = 0.4,
        anneal_strategy: str = "cos",
        gamma: float = 1.0,
        **kwargs: Any,
    ) -> None:
        ratios = (
            [float(target_ratio), float(target_ratio) / 1e5]
            if isinstance(target_ratio, (int, float))
            else [float(r) for r in target_ratio]
        )
        if len(ratios) != 2:
            raise ValueError(f"target_ratio must be a number or a pair, got {target_ratio!r}")
        if not 0 <= step_ratio_up < 1:
            raise ValueError(f"step_ratio_up must be in [0, 1), got {step_ratio_up}")
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        if cyclic_times < 1:
            raise ValueError(f"cyclic_times must be positive, got {cyclic_times}")
        self.target_ratio = ratios
        self.cyclic_times = cyclic_times
        self.step_ratio_up = step_ratio_up
        self.anneal_strategy = _check_strategy(anneal_strategy)
        self.gamma = gamma
        super().__init__(optimizer, param_name, **kwargs)

    def _prepare(self) -> None:
        if self.end == INF:
            raise ValueError(f"{type(self).__name__} needs a finite end")
        self.cycle_length = max(1, (self.end - self.begin) // self.cyclic_times)
        self.up_steps = int(self.step_ratio_up * self.cycle_length)

    def _get_value(self) -> list[float]:
        cycle, t = divmod(self.last_step, self.cycle_length)
        scale = self.gamma**cycle
        peak, trough = self.target_ratio
        if t < self.up_steps:
            start, end, pct = 1.0, 1 - scale + peak * scale, t / self.up_steps
        else:
            start, end = 1 - scale + peak * scale, trough
            pct = (t - self.up_steps) / (self.cycle_length - self.up_steps)
        return [
            _anneal(base * start, base * end, pct, self.anneal_strategy)
            for base in self.base_values
        ]


@PARAM_SCHEDULERS.register_module()
class CyclicLR(LRSchedulerMixin, CyclicParamScheduler):
    """`CyclicParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class CyclicMomentum(MomentumSchedulerMixin, CyclicParamScheduler):
    """`CyclicParamScheduler` for the momentum (or Adam's ``betas[0]``)."""
