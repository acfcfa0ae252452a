"""ReduceOnPlateau: lower the value when a validation metric stops improving."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from hooks_core import PARAM_SCHEDULERS

from ._base import LRSchedulerMixin, MomentumSchedulerMixin, _ParamScheduler, _per_group

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "ReduceOnPlateauParamScheduler",
    "ReduceOnPlateauLR",
    "ReduceOnPlateauMomentum",
]


@PARAM_SCHEDULERS.register_module()
class ReduceOnPlateauParamScheduler(_ParamScheduler):
    """Scale the value by `factor` once `monitor` has not improved for over `patience` evaluations.

    As in MMEngine, `ParamSchedulerHook` calls ``step()`` after each training
    epoch, which only counts the epoch, and ``step(metrics)`` after each
    validation (this scheduler has ``need_val_args = True``), which reacts to
    the metrics when the epochs counted so far are inside ``[begin, end)``.
    So `begin` and `end` count training epochs and `patience` and `cooldown`
    validations. It is epoch-based only.

    Args:
        optimizer: The optimizer or its wrapper.
        param_name: The param-group key to schedule.
        monitor: The metric to watch, a key of the validation metrics.
        rule: ``'less'`` if a smaller metric is better (a loss), ``'greater'``
            if a larger one is (an accuracy).
        factor: The multiplier applied on a plateau, in (0, 1).
        patience: Evaluations without improvement tolerated before reducing.
        threshold: How much better a metric must be to count as an improvement.
        threshold_rule: ``'rel'`` (relative to the best) or ``'abs'``.
        cooldown: Evaluations to wait after a reduction before counting again.
        min_value: The lowest value, or one per param group.
        eps: Changes smaller than this are not applied.
        **kwargs: The base arguments (see `_ParamScheduler`).

    Raises:
        ValueError: on a bad `rule`, `threshold_rule`, `threshold` or `factor`,
            or with ``by_epoch=False`` (or `convert_to_iter_based`): validation
            metrics arrive per validation round, not per iteration.
    """

    need_val_args: ClassVar[bool] = True

    def __init__(
        self,
        optimizer: Any,
        param_name: str,
        monitor: str = "loss",
        rule: str = "less",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_rule: str = "rel",
        cooldown: int = 0,
        min_value: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
        **kwargs: Any,
    ) -> None:
        if rule not in ("less", "greater"):
            raise ValueError(f"rule must be 'less' or 'greater', got {rule!r}")
        if threshold_rule not in ("rel", "abs"):
            raise ValueError(f"threshold_rule must be 'rel' or 'abs', got {threshold_rule!r}")
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        if not kwargs.get("by_epoch", True) or kwargs.get("convert_to_iter_based", False):
            raise ValueError(
                f"{type(self).__name__} steps after each validation with its metrics, "
                "so it must be epoch-based (by_epoch=True, no convert_to_iter_based)"
            )
        self.monitor = monitor
        self.rule = rule
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_rule = threshold_rule
        self.cooldown = cooldown
        self.eps = eps
        self.best = math.inf if rule == "less" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._min_value = min_value
        super().__init__(optimizer, param_name, **kwargs)

    def _prepare(self) -> None:
        self.min_values = [
            float(v) for v in _per_group("min_value", self._min_value, self.optimizer)
        ]
        del self._min_value

    def step(self, metrics: Mapping[str, Any] | None = None) -> None:
        """Count a training epoch (no `metrics`), or react to a validation's `metrics`.

        Args:
            metrics: The validation metrics; None only counts one training
                epoch (what the constructor and `ParamSchedulerHook` after each
                training epoch do).

        Raises:
            TypeError: if `metrics` is not a dict.
            KeyError: if `monitor` is not among the metrics.
        """
        if metrics is None:
            self._global_step += 1
            self._last_value = self._current()
            return
        if not isinstance(metrics, dict):
            raise TypeError(f"metrics must be a dict, got {type(metrics).__name__}")
        if self.begin <= self._global_step < self.end:
            self.last_step += 1
            if self.monitor not in metrics:
                raise KeyError(
                    f"{type(self).__name__} monitors {self.monitor!r}, which is not among "
                    f"the validation metrics {sorted(metrics)}; set monitor= to one of them"
                )
            self._update(float(metrics[self.monitor]))
        self._last_value = self._current()

    def _update(self, metric: float) -> None:
        if self._is_better(metric):
            self.best = metric
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            groups = self.optimizer.param_groups
            for i, (group, value) in enumerate(zip(groups, self._get_value(), strict=True)):
                if self._read(group) - value > self.eps:
                    self._write(group, value)
                    self.print_value(self.verbose, i, value)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

    def _is_better(self, metric: float) -> bool:
        # PyTorch's rules; the first metric always improves on the infinite initial best.
        sign = -1.0 if self.rule == "less" else 1.0
        if self.threshold_rule == "rel":
            bar = self.best * (1 + sign * self.threshold)
        else:
            bar = self.best + sign * self.threshold
        return metric < bar if self.rule == "less" else metric > bar

    def _get_value(self) -> list[float]:
        current = self._current()
        return [max(v * self.factor, low) for v, low in zip(current, self.min_values, strict=True)]


@PARAM_SCHEDULERS.register_module()
class ReduceOnPlateauLR(LRSchedulerMixin, ReduceOnPlateauParamScheduler):
    """`ReduceOnPlateauParamScheduler` for the learning rate."""


@PARAM_SCHEDULERS.register_module()
class ReduceOnPlateauMomentum(MomentumSchedulerMixin, ReduceOnPlateauParamScheduler):
    """`ReduceOnPlateauParamScheduler` for the momentum (or Adam's ``betas[0]``)."""
