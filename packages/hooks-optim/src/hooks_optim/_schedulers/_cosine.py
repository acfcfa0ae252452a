"""Cosine schedules: CosineAnnealing, MMCV's FlatCosineAnnealing, and CosineRestart."""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

from hooks_core import PARAM_SCHEDULERS

from ._base import INF, LRSchedulerMixin, MomentumSchedulerMixin, _ParamScheduler

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "CosineAnnealingParamScheduler",
    "CosineAnnealingLR",
    "CosineAnnealingMomentum",
    "FlatCosineAnnealingParamScheduler",
    "FlatCosineAnnealingLR",
    "FlatCosineAnnealingMomentum",
    "CosineRestartParamScheduler",
    "CosineRestartLR",
    "CosineRestartMomentum",
]


class _CosineBase(_ParamScheduler):
    """`eta_min` / `eta_min_ratio` handling shared by the cosine schedules."""

    def __init__(
        self,
        optimizer: Any,
        param_name: str,
        eta_min: float | None = None,
        eta_min_ratio: float | None = None,
        **kwargs: Any,
    ) -> None:
        if eta_min is not None and eta_min_ratio is not None:
            raise ValueError("give eta_min or eta_min_ratio, not both")
        self.eta_min = eta_min
        self.eta_min_ratio = eta_min_ratio
        super().__init__(optimizer, param_name, **kwargs)

    def _minimums(self) -> list[float]:
        """The value each group decays to: `eta_min`, or `eta_min_ratio` times its base value."""
        if self.eta_min_ratio is not None:
            return [base * self.eta_min_ratio for base in self.base_values]
        return [0.0 if self.eta_min is None else self.eta_min] * len(self.base_values)

    def _cosine_step(self, t: int, period: float) -> list[float]:
        """Values at step ``t >= 1`` of a half cosine of length `period`, from the current ones."""
        cos_t, cos_prev = math.cos(math.pi * t / period), math.cos(math.pi * (t - 1) / period)
        if (t - 1 - period) % (2 * period) == 0:  # the ratio below would divide by zero
            return [
                v + (base - low) * (1 - math.cos(math.pi / period)) / 2
                for v, base, low in zip(
                    self._current(), self.base_values, self._minimums(), strict=True
                )
            ]
        ratio = (1 + cos_t) / (1 + cos_prev)
        return [
            (v - low) * ratio + low
            for v, low in zip(self._current(), self._minimums(), strict=True)
        ]


@PARAM_SCHEDULERS.register_module()
class CosineAnnealingParamScheduler(_CosineBase):
    """Anneal the value along a half cosine from its current value to `eta_min` over `T_max` steps.

    Equal to PyTorch's ``CosineAnnealingLR``. After `T_max` steps the cosine
    continues upwards, as in PyTorch; set ``end = begin + T_max`` to stop.

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        T_max: Steps of the half cosine; defaults to ``end - begin``.
        eta_min: The minimum value (0 when neither it nor `eta_min_ratio` is given).
        eta_min_ratio: The minimum as a fraction of each group's initial value.
        **kwargs: The base arguments (see `_ParamScheduler`).
    """

    _epoch_params = ("T_max",)

    def __init__(
        self,
        optimizer: Any,
        param_name: str,
        T_max: int | None = None,
        eta_min: float | None = None,
        eta_min_ratio: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.T_max = T_max
        super().__init__(optimizer, param_name, eta_min, eta_min_ratio, **kwargs)

    def _prepare(self) -> None:
        if self.T_max is None:
            if self.end == INF:
                raise ValueError(
                    f"{type(self).__name__} needs T_max or end to know the length of the cosine"
                )
            self.T_max = self.end - self.begin
        if self.T_max <= 0:
            raise ValueError(f"T_max must be positive, got {self.T_max}")

    def _get_value(self) -> list[float]:
        if self.last_step == 0:
            return self._current()
        assert self.T_max is not None
        return self._cosine_step(self.last_step, self.T_max)


@PARAM_SCHEDULERS.register_module()
class CosineAnnealingLR(LRSchedulerMixin, CosineAnnealingParamScheduler):
    """`CosineAnnealingParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class CosineAnnealingMomentum(MomentumSchedulerMixin, CosineAnnealingParamScheduler):
    """`CosineAnnealingParamScheduler` for the momentum (or Adam's ``betas[0]``)."""


@PARAM_SCHEDULERS.register_module()
class FlatCosineAnnealingParamScheduler(_CosineBase):
    """MMCV's ``FlatCosineAnnealing``: flat for `start_percent` of the window, then a cosine.

    Over the window ``[begin, end)`` of ``n`` steps the value stays for
    ``round(n * start_percent)`` steps and then anneals to `eta_min`, reaching
    it at `end`, like MMCV's ``FlatCosineAnnealingLrUpdaterHook``.

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        start_percent: The flat fraction of the window, in [0, 1).
        eta_min: The final value (0 when neither it nor `eta_min_ratio` is given).
        eta_min_ratio: The final value as a fraction of each group's initial value.
        **kwargs: The base arguments (see `_ParamScheduler`); `end` must be set.
    """

    def __init__(
        self,
        optimizer: Any,
        param_name: str,
        start_percent: float = 0.75,
        eta_min: float | None = None,
        eta_min_ratio: float | None = None,
        **kwargs: Any,
    ) -> None:
        if not 0 <= start_percent < 1:
            raise ValueError(f"start_percent must be in [0, 1), got {start_percent}")
        self.start_percent = start_percent
        super().__init__(optimizer, param_name, eta_min, eta_min_ratio, **kwargs)

    def _prepare(self) -> None:
        if self.end == INF:
            raise ValueError(f"{type(self).__name__} needs a finite end")
        total = self.end - self.begin
        self.flat_steps = round(total * self.start_percent)
        self.anneal_steps = total - self.flat_steps

    def _get_value(self) -> list[float]:
        t = self.last_step - self.flat_steps
        if t <= 0:
            return self._current()
        return self._cosine_step(t, self.anneal_steps)


@PARAM_SCHEDULERS.register_module()
class FlatCosineAnnealingLR(LRSchedulerMixin, FlatCosineAnnealingParamScheduler):
    """`FlatCosineAnnealingParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class FlatCosineAnnealingMomentum(MomentumSchedulerMixin, FlatCosineAnnealingParamScheduler):
    """`FlatCosineAnnealingParamScheduler` for the momentum (or Adam's ``betas[0]``)."""


@PARAM_SCHEDULERS.register_module()
class CosineRestartParamScheduler(_CosineBase):
    """Cosine annealing restarted at the end of each period (SGDR).

    Each period starts again at the initial value times its restart weight.
    With equal periods and weights 1 it is PyTorch's
    ``CosineAnnealingWarmRestarts(T_0=period)``. After the last period the
    value stays.

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        periods: The length of each cosine, in steps.
        restart_weights: The weight of each restart, one per period.
        eta_min: The minimum value (0 when neither it nor `eta_min_ratio` is given).
        eta_min_ratio: The minimum as a fraction of each group's initial value.
        **kwargs: The base arguments (see `_ParamScheduler`).
    """

    _epoch_params = ("periods",)

    def __init__(
        self,
        optimizer: Any,
        param_name: str,
        periods: Sequence[int],
        restart_weights: Sequence[float] = (1.0,),
        eta_min: float | None = None,
        eta_min_ratio: float | None = None,
        **kwargs: Any,
    ) -> None:
        if len(periods) != len(restart_weights):
            raise ValueError(
                f"periods ({len(periods)}) and restart_weights ({len(restart_weights)}) "
                "must have the same length"
            )
        if any(p < 1 for p in periods):
            raise ValueError(f"periods must be positive, got {list(periods)}")
        self.periods = list(periods)
        self.restart_weights = [float(w) for w in restart_weights]
        super().__init__(optimizer, param_name, eta_min, eta_min_ratio, **kwargs)

    def _prepare(self) -> None:
        self.cumulative_periods = list(itertools.accumulate(self.periods))

    def _get_value(self) -> list[float]:
        index = next(
            (i for i, end in enumerate(self.cumulative_periods) if self.last_step < end), None
        )
        if index is None:  # after the last period
            return self._current()
        start = self.cumulative_periods[index - 1] if index else 0
        t = self.last_step - start
        if t == 0:
            return [base * self.restart_weights[index] for base in self.base_values]
        return self._cosine_step(t, self.periods[index])


@PARAM_SCHEDULERS.register_module()
class CosineRestartLR(LRSchedulerMixin, CosineRestartParamScheduler):
    """`CosineRestartParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class CosineRestartMomentum(MomentumSchedulerMixin, CosineRestartParamScheduler):
    """`CosineRestartParamScheduler` for the momentum (or Adam's ``betas[0]``)."""
