"""Smooth monotone schedules: Linear (warm-up), Poly, and MMCV's Inverse (``inv``)."""

from __future__ import annotations

from typing import Any

from hooks_core import PARAM_SCHEDULERS

from ._base import LRSchedulerMixin, MomentumSchedulerMixin, _ParamScheduler

__all__ = [
    "LinearParamScheduler",
    "LinearLR",
    "LinearMomentum",
    "PolyParamScheduler",
    "PolyLR",
    "PolyMomentum",
    "InverseParamScheduler",
    "InverseLR",
    "InverseMomentum",
]


@PARAM_SCHEDULERS.register_module()
class LinearParamScheduler(_ParamScheduler):
    """Scale the value linearly from ``start_factor`` to ``end_factor`` times it.

    The usual warm-up: ``LinearLR(start_factor=0.001, by_epoch=False, end=500)``.
    The end factor is reached at step ``end - 1`` (MMEngine's convention), so
    ``end=T+1`` equals PyTorch's ``LinearLR(total_iters=T)``.

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        start_factor: The multiplier at the first step, in (0, 1].
        end_factor: The multiplier at the last step of the window, in [0, 1].
        **kwargs: The base arguments (see `_ParamScheduler`).
    """

    def __init__(
        self,
        optimizer: Any,
        param_name: str,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        **kwargs: Any,
    ) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f"start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"end_factor must be in [0, 1], got {end_factor}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        super().__init__(optimizer, param_name, **kwargs)

    def _prepare(self) -> None:
        self.total_iters = self.end - self.begin - 1

    def _get_value(self) -> list[float]:
        current = self._current()
        if self.last_step == 0:
            return [v * self.start_factor for v in current]
        if self.last_step > self.total_iters:
            return current
        slope = self.end_factor - self.start_factor
        # factor(t) / factor(t - 1), factor(t) = start + slope * t / total_iters
        ratio = 1.0 + slope / (self.total_iters * self.start_factor + (self.last_step - 1) * slope)
        return [v * ratio for v in current]


@PARAM_SCHEDULERS.register_module()
class LinearLR(LRSchedulerMixin, LinearParamScheduler):
    """`LinearParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class LinearMomentum(MomentumSchedulerMixin, LinearParamScheduler):
    """`LinearParamScheduler` for the momentum (or Adam's ``betas[0]``)."""


@PARAM_SCHEDULERS.register_module()
class PolyParamScheduler(_ParamScheduler):
    """Decay the value polynomially to `eta_min` at step ``end - 1``.

    ``value = (base - eta_min) * (1 - t / (end - begin - 1)) ** power + eta_min``;
    with ``eta_min=0`` and ``end=T+1`` this is PyTorch's ``PolynomialLR(total_iters=T)``.

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        eta_min: The final value.
        power: The exponent; 1 is a linear decay.
        **kwargs: The base arguments (see `_ParamScheduler`); `end` must be set.
    """

    def __init__(
        self,
        optimizer: Any,
        param_name: str,
        eta_min: float = 0.0,
        power: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self.eta_min = eta_min
        self.power = power
        super().__init__(optimizer, param_name, **kwargs)

    def _prepare(self) -> None:
        self.total_iters = self.end - self.begin - 1

    def _get_value(self) -> list[float]:
        current = self._current()
        if self.last_step == 0 or self.last_step > self.total_iters:
            return current
        ratio = (1.0 - 1.0 / (self.total_iters - self.last_step + 1)) ** self.power
        return [(v - self.eta_min) * ratio + self.eta_min for v in current]


@PARAM_SCHEDULERS.register_module()
class PolyLR(LRSchedulerMixin, PolyParamScheduler):
    """`PolyParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class PolyMomentum(MomentumSchedulerMixin, PolyParamScheduler):
    """`PolyParamScheduler` for the momentum (or Adam's ``betas[0]``)."""


@PARAM_SCHEDULERS.register_module()
class InverseParamScheduler(_ParamScheduler):
    """MMCV's ``inv`` policy: ``value = base * (1 + gamma * t) ** (-power)``.

    A slow, never-ending decay (Caffe's ``inv``), which MMEngine dropped. With
    `convert_to_iter_based`, `gamma` is divided by the epoch length so that
    the curve passes through the epoch-based values at each epoch boundary.

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        gamma: How fast the value decays; positive.
        power: The exponent of the decay.
        **kwargs: The base arguments (see `_ParamScheduler`).
    """

    def __init__(
        self, optimizer: Any, param_name: str, gamma: float, power: float = 1.0, **kwargs: Any
    ) -> None:
        if gamma <= 0:
            raise ValueError(f"gamma must be positive, got {gamma}")
        self.gamma = gamma
        self.power = power
        super().__init__(optimizer, param_name, **kwargs)

    def _scale_epoch_params(self, length: int) -> None:
        self.gamma = self.gamma / length

    def _get_value(self) -> list[float]:
        current = self._current()
        if self.last_step == 0:
            return current
        t = self.last_step
        ratio = ((1.0 + self.gamma * t) / (1.0 + self.gamma * (t - 1))) ** (-self.power)
        return [v * ratio for v in current]


@PARAM_SCHEDULERS.register_module()
class InverseLR(LRSchedulerMixin, InverseParamScheduler):
    """`InverseParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class InverseMomentum(MomentumSchedulerMixin, InverseParamScheduler):
    """`InverseParamScheduler` for the momentum (or Adam's ``betas[0]``)."""
