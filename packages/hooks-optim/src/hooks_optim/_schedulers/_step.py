"""Piecewise-constant and geometric schedules: Constant, Step, MultiStep, Exponential."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from hooks_core import PARAM_SCHEDULERS

from ._base import LRSchedulerMixin, MomentumSchedulerMixin, _ParamScheduler

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "ConstantParamScheduler",
    "ConstantLR",
    "ConstantMomentum",
    "StepParamScheduler",
    "StepLR",
    "StepMomentum",
    "MultiStepParamScheduler",
    "MultiStepLR",
    "MultiStepMomentum",
    "ExponentialParamScheduler",
    "ExponentialLR",
    "ExponentialMomentum",
]


@PARAM_SCHEDULERS.register_module()
class ConstantParamScheduler(_ParamScheduler):
    """Multiply the value by `factor` inside the window, and restore it at its last step.

    The classic constant warm-up: ``ConstantLR(factor=0.1, end=5)`` trains the
    first four steps at a tenth of the learning rate. As in MMEngine, the
    value is restored at step ``end - 1``, so ``end=T+1`` equals PyTorch's
    ``ConstantLR(total_iters=T)``.

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        factor: The multiplier, in (0, 1].
        **kwargs: `begin`, `end`, `last_step`, `by_epoch`, `verbose`,
            `convert_to_iter_based`, `epoch_length` (see `_ParamScheduler`).
    """

    def __init__(
        self, optimizer: Any, param_name: str, factor: float = 1.0 / 3, **kwargs: Any
    ) -> None:
        if not 0 < factor <= 1:
            raise ValueError(f"factor must be in (0, 1], got {factor}")
        self.factor = factor
        super().__init__(optimizer, param_name, **kwargs)

    def _prepare(self) -> None:
        self.total_iters = self.end - self.begin - 1

    def _get_value(self) -> list[float]:
        current = self._current()
        if self.last_step == 0:
            return [v * self.factor for v in current]
        if self.last_step == self.total_iters:
            return [v / self.factor for v in current]
        return current


@PARAM_SCHEDULERS.register_module()
class ConstantLR(LRSchedulerMixin, ConstantParamScheduler):
    """`ConstantParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class ConstantMomentum(MomentumSchedulerMixin, ConstantParamScheduler):
    """`ConstantParamScheduler` for the momentum (or Adam's ``betas[0]``)."""


@PARAM_SCHEDULERS.register_module()
class StepParamScheduler(_ParamScheduler):
    """Multiply the value by `gamma` every `step_size` steps.

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        step_size: Steps between two decays (epochs, or iterations when
            ``by_epoch=False``; converted by `convert_to_iter_based`).
        gamma: The multiplier applied at each decay.
        **kwargs: The base arguments (see `_ParamScheduler`).
    """

    _epoch_params = ("step_size",)

    def __init__(
        self, optimizer: Any, param_name: str, step_size: int, gamma: float = 0.1, **kwargs: Any
    ) -> None:
        if step_size < 1:
            raise ValueError(f"step_size must be positive, got {step_size}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, param_name, **kwargs)

    def _get_value(self) -> list[float]:
        current = self._current()
        if self.last_step == 0 or self.last_step % self.step_size != 0:
            return current
        return [v * self.gamma for v in current]


@PARAM_SCHEDULERS.register_module()
class StepLR(LRSchedulerMixin, StepParamScheduler):
    """`StepParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class StepMomentum(MomentumSchedulerMixin, StepParamScheduler):
    """`StepParamScheduler` for the momentum (or Adam's ``betas[0]``)."""


@PARAM_SCHEDULERS.register_module()
class MultiStepParamScheduler(_ParamScheduler):
    """Multiply the value by `gamma` at each milestone (counted from `begin`).

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        milestones: Steps at which to decay; a repeated milestone decays twice.
        gamma: The multiplier applied at each milestone.
        **kwargs: The base arguments (see `_ParamScheduler`).
    """

    _epoch_params = ("milestones",)

    def __init__(
        self,
        optimizer: Any,
        param_name: str,
        milestones: Sequence[int],
        gamma: float = 0.1,
        **kwargs: Any,
    ) -> None:
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, param_name, **kwargs)

    def _prepare(self) -> None:
        # A dict of plain ints, not a Counter, so the state loads with weights_only=True.
        self._counts = dict(Counter(self.milestones))

    def _get_value(self) -> list[float]:
        current = self._current()
        count = self._counts.get(self.last_step, 0)
        if count == 0:
            return current
        return [v * self.gamma**count for v in current]


@PARAM_SCHEDULERS.register_module()
class MultiStepLR(LRSchedulerMixin, MultiStepParamScheduler):
    """`MultiStepParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class MultiStepMomentum(MomentumSchedulerMixin, MultiStepParamScheduler):
    """`MultiStepParamScheduler` for the momentum (or Adam's ``betas[0]``)."""


@PARAM_SCHEDULERS.register_module()
class ExponentialParamScheduler(_ParamScheduler):
    """Multiply the value by `gamma` at every step.

    With `convert_to_iter_based`, `gamma` becomes ``gamma ** (1 / epoch_length)``
    so that the curve passes through the epoch-based values at each epoch
    boundary (MMEngine keeps `gamma`, which decays `epoch_length` times faster).

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        gamma: The multiplier applied at each step.
        **kwargs: The base arguments (see `_ParamScheduler`).
    """

    def __init__(self, optimizer: Any, param_name: str, gamma: float, **kwargs: Any) -> None:
        self.gamma = gamma
        super().__init__(optimizer, param_name, **kwargs)

    def _scale_epoch_params(self, length: int) -> None:
        self.gamma = self.gamma ** (1.0 / length)

    def _get_value(self) -> list[float]:
        current = self._current()
        if self.last_step == 0:
            return current
        return [v * self.gamma for v in current]


@PARAM_SCHEDULERS.register_module()
class ExponentialLR(LRSchedulerMixin, ExponentialParamScheduler):
    """`ExponentialParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class ExponentialMomentum(MomentumSchedulerMixin, ExponentialParamScheduler):
    """`ExponentialParamScheduler` for the momentum (or Adam's ``betas[0]``)."""
