"""MMCV 1.x's ``LrUpdaterHook`` family: the learning rate recomputed from epoch/iter, with warm-up.

``lr_config=dict(policy='step', step=[8, 11], warmup='linear', ...)`` on the
MMCV runners builds these by name (``StepLrUpdaterHook``). The values equal
MMCV 1.7.2's (``tools/compare_mmcv_lr.py`` measures it). The hooks take the
runner alone, as MMCV's do, and read ``runner.optimizer`` (an optimizer or a
dict of them), ``epoch``, ``iter``, ``max_epochs``, ``max_iters`` and
``data_loader``. For new code, ``ParamSchedulerHook`` with the schedulers of
this package is MMEngine's replacement.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

from hooks_core import HOOKS, Hook

from ._mmcv_schedule import (
    anneal_function,
    annealing_cos,
    annealing_linear,
    annealing_target,
    check_by_epoch,
    check_one_of,
    check_step,
    check_warmup,
    cyclic_phases,
    cyclic_target_ratio,
    cyclic_value,
    format_param,
    get_position_from_periods,
    map_values,
    per_group,
    progress_of,
    step_exponent,
    warmup_action,
    warmup_factor,
    write_groups,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "LrUpdaterHook",
    "FixedLrUpdaterHook",
    "StepLrUpdaterHook",
    "ExpLrUpdaterHook",
    "PolyLrUpdaterHook",
    "InvLrUpdaterHook",
    "CosineAnnealingLrUpdaterHook",
    "FlatCosineAnnealingLrUpdaterHook",
    "CosineRestartLrUpdaterHook",
    "CyclicLrUpdaterHook",
    "OneCycleLrUpdaterHook",
    "LinearAnnealingLrUpdaterHook",
    "annealing_cos",
    "annealing_linear",
]


def _initial_lr(group: dict[str, Any]) -> float:
    """The group's ``initial_lr`` (set from its ``lr`` the first time, kept on resume)."""
    return group.setdefault("initial_lr", group["lr"])  # type: ignore[no-any-return]


def _write_lr(group: dict[str, Any], lr: float) -> None:
    group["lr"] = lr


class LrUpdaterHook(Hook):
    """Base of the LR policies: a subclass defines ``get_lr(runner, base_lr)``.

    The regular LR is set before each epoch (`by_epoch`) or each iteration.
    During the first `warmup_iters` iterations it is multiplied by the
    warm-up factor: ``warmup_ratio`` (constant), ``1 - (1 - i/W)(1 - ratio)``
    (linear) or ``ratio ** (1 - i/W)`` (exp). Warm-up scales the schedule's
    own value at that iteration; it does not delay the schedule.

    Args:
        by_epoch: Recompute the LR per epoch rather than per iteration.
        warmup: None, ``'constant'``, ``'linear'`` or ``'exp'``.
        warmup_iters: Length of the warm-up, in iterations (epochs with
            `warmup_by_epoch`).
        warmup_ratio: The warm-up's starting factor, in (0, 1].
        warmup_by_epoch: Count `warmup_iters` in epochs.

    Raises:
        ValueError: an unknown `warmup`; with a warm-up, ``warmup_iters <= 0``
            or `warmup_ratio` outside (0, 1] (MMCV: AssertionError).
    """

    def __init__(
        self,
        by_epoch: bool = True,
        warmup: str | None = None,
        warmup_iters: int = 0,
        warmup_ratio: float = 0.1,
        warmup_by_epoch: bool = False,
    ) -> None:
        check_warmup(warmup, warmup_iters, warmup_ratio)
        self.by_epoch = by_epoch
        self.warmup = warmup
        self.warmup_ratio = warmup_ratio
        self.warmup_by_epoch = warmup_by_epoch
        # With warmup_by_epoch the iterations are known at the first epoch.
        self.warmup_epochs: int | None = warmup_iters if warmup_by_epoch else None
        self.warmup_iters: int | None = None if warmup_by_epoch else warmup_iters
        self.base_lr: Any = []  # the initial LR of each group
        self.regular_lr: Any = []  # the LR without warm-up

    def _set_lr(self, runner: Any, lr_groups: Any) -> None:
        write_groups(runner.optimizer, lr_groups, _write_lr)

    def get_lr(self, runner: Any, base_lr: float) -> float:
        """The LR of a group whose initial LR is `base_lr`, at the runner's epoch/iter."""
        raise NotImplementedError(f"{type(self).__name__} must define get_lr(runner, base_lr)")

    def get_regular_lr(self, runner: Any) -> Any:
        """`get_lr` for every group (per optimizer for a dict of them)."""
        return map_values(self.base_lr, lambda base: self.get_lr(runner, base))

    def get_warmup_lr(self, cur_iters: int) -> Any:
        """The regular LR times the warm-up factor at iteration `cur_iters`."""
        assert self.warmup is not None and self.warmup_iters is not None
        factor = warmup_factor(self.warmup, cur_iters, self.warmup_iters, self.warmup_ratio)
        return map_values(self.regular_lr, lambda lr: lr * factor)

    def before_run(self, runner: Any) -> None:
        """Record each group's ``initial_lr``."""
        self.base_lr = per_group(runner.optimizer, _initial_lr)

    def before_train_epoch(self, runner: Any) -> None:
        """Convert warm-up epochs to iterations; set the epoch's LR when `by_epoch`."""
        if self.warmup_iters is None:
            self.warmup_iters = self.warmup_epochs * len(runner.data_loader)  # type: ignore[operator]
        if self.by_epoch:
            self.regular_lr = self.get_regular_lr(runner)
            self._set_lr(runner, self.regular_lr)

    def before_train_iter(self, runner: Any) -> None:  # type: ignore[override]
        """Set the iteration's LR, or its warm-up."""
        if not self.by_epoch:
            self.regular_lr = self.get_regular_lr(runner)
        if self.warmup is not None and self.warmup_iters is None:
            raise RuntimeError(
                f"{type(self).__name__}(warmup_by_epoch=True) converts epochs to iterations "
                "before the first training epoch, which this runner does not call "
                "(IterBasedRunner): give warmup_iters in iterations instead"
            )
        action = warmup_action(self.by_epoch, self.warmup, runner.iter, self.warmup_iters or 0)
        if action == "warmup":
            self._set_lr(runner, self.get_warmup_lr(runner.iter))
        elif action == "regular":
            self._set_lr(runner, self.regular_lr)


@HOOKS.register_module()
class FixedLrUpdaterHook(LrUpdaterHook):
    """The initial LR throughout (warm-up aside)."""

    def get_lr(self, runner: Any, base_lr: float) -> float:
        return base_lr


@HOOKS.register_module()
class StepLrUpdaterHook(LrUpdaterHook):
    """``base_lr * gamma ** k`` after `k` steps, no lower than `min_lr`.

    Args:
        step: Decay every `step` epochs/iterations (an int), or at each of
            these milestones (a list).
        gamma: The decay factor.
        min_lr: The floor; None for none.
        **kwargs: `LrUpdaterHook`'s arguments.
    """

    def __init__(
        self,
        step: int | list[int],
        gamma: float = 0.1,
        min_lr: float | None = None,
        **kwargs: Any,
    ) -> None:
        check_step(step)
        self.step = step
        self.gamma = gamma
        self.min_lr = min_lr
        super().__init__(**kwargs)

    def get_lr(self, runner: Any, base_lr: float) -> float:
        progress = runner.epoch if self.by_epoch else runner.iter
        lr = base_lr * self.gamma ** step_exponent(self.step, progress)
        return lr if self.min_lr is None else max(lr, self.min_lr)


@HOOKS.register_module()
class ExpLrUpdaterHook(LrUpdaterHook):
    """``base_lr * gamma ** progress``."""

    def __init__(self, gamma: float, **kwargs: Any) -> None:
        self.gamma = gamma
        super().__init__(**kwargs)

    def get_lr(self, runner: Any, base_lr: float) -> float:
        progress = runner.epoch if self.by_epoch else runner.iter
        return float(base_lr * self.gamma**progress)


@HOOKS.register_module()
class PolyLrUpdaterHook(LrUpdaterHook):
    """From the initial LR to `min_lr` along ``(1 - progress / max_progress) ** power``."""

    def __init__(self, power: float = 1.0, min_lr: float = 0.0, **kwargs: Any) -> None:
        self.power = power
        self.min_lr = min_lr
        super().__init__(**kwargs)

    def get_lr(self, runner: Any, base_lr: float) -> float:
        progress, max_progress = progress_of(runner, self.by_epoch)
        coeff = (1 - progress / max_progress) ** self.power
        return float((base_lr - self.min_lr) * coeff + self.min_lr)


@HOOKS.register_module()
class InvLrUpdaterHook(LrUpdaterHook):
    """``base_lr * (1 + gamma * progress) ** -power``."""

    def __init__(self, gamma: float, power: float = 1.0, **kwargs: Any) -> None:
        self.gamma = gamma
        self.power = power
        super().__init__(**kwargs)

    def get_lr(self, runner: Any, base_lr: float) -> float:
        progress = runner.epoch if self.by_epoch else runner.iter
        return float(base_lr * (1 + self.gamma * progress) ** (-self.power))


class _AnnealingLr(LrUpdaterHook):
    """From the initial LR to `min_lr` (or ``base_lr * min_lr_ratio``), along `_strategy`."""

    _strategy = "cos"  # the curve, as `anneal_function` names it

    def __init__(
        self, min_lr: float | None = None, min_lr_ratio: float | None = None, **kwargs: Any
    ) -> None:
        check_one_of("min_lr", min_lr, "min_lr_ratio", min_lr_ratio)
        self.min_lr = min_lr
        self.min_lr_ratio = min_lr_ratio
        super().__init__(**kwargs)

    def get_lr(self, runner: Any, base_lr: float) -> float:
        progress, max_progress = progress_of(runner, self.by_epoch)
        target = annealing_target(base_lr, self.min_lr, self.min_lr_ratio)
        return anneal_function(self._strategy)(base_lr, target, progress / max_progress)


@HOOKS.register_module()
class CosineAnnealingLrUpdaterHook(_AnnealingLr):
    """A half cosine from the initial LR to the minimum (one of `min_lr`, `min_lr_ratio`).

    Raises:
        ValueError: both or neither of `min_lr` and `min_lr_ratio` (MMCV: AssertionError).
    """

    _strategy = "cos"


@HOOKS.register_module()
class FlatCosineAnnealingLrUpdaterHook(LrUpdaterHook):
    """The initial LR for the first `start_percent` of training, then a cosine to the minimum.

    Args:
        start_percent: Where the cosine starts, a float in [0, 1].
        min_lr, min_lr_ratio: The minimum, or its ratio to the initial LR (one of them).
        **kwargs: `LrUpdaterHook`'s arguments.
    """

    def __init__(
        self,
        start_percent: float = 0.75,
        min_lr: float | None = None,
        min_lr_ratio: float | None = None,
        **kwargs: Any,
    ) -> None:
        check_one_of("min_lr", min_lr, "min_lr_ratio", min_lr_ratio)
        if not isinstance(start_percent, float) or not 0 <= start_percent <= 1:
            raise ValueError(
                f"expected float between 0 and 1 start_percent, but got {start_percent!r}"
            )
        self.start_percent = start_percent
        self.min_lr = min_lr
        self.min_lr_ratio = min_lr_ratio
        super().__init__(**kwargs)

    def get_lr(self, runner: Any, base_lr: float) -> float:
        progress, max_progress = progress_of(runner, self.by_epoch)
        start = round(max_progress * self.start_percent)
        if progress < start:
            return base_lr
        target = annealing_target(base_lr, self.min_lr, self.min_lr_ratio)
        return annealing_cos(base_lr, target, (progress - start) / (max_progress - start))


@HOOKS.register_module()
class CosineRestartLrUpdaterHook(LrUpdaterHook):
    """Cosine annealing restarted after each period, at the initial LR times the period's weight.

    Args:
        periods: The length of each cosine, in epochs/iterations; together
            they must cover training.
        restart_weights: One weight per period.
        min_lr, min_lr_ratio: The minimum, or its ratio to the initial LR (one of them).
        **kwargs: `LrUpdaterHook`'s arguments.

    Raises:
        ValueError: `periods` and `restart_weights` differ in length, or (at
            ``before_run``) the periods end before training does.
    """

    def __init__(
        self,
        periods: Sequence[int],
        restart_weights: Sequence[float] = (1,),
        min_lr: float | None = None,
        min_lr_ratio: float | None = None,
        **kwargs: Any,
    ) -> None:
        check_one_of("min_lr", min_lr, "min_lr_ratio", min_lr_ratio)
        if len(periods) != len(restart_weights):
            raise ValueError(
                f"periods and restart_weights should have the same length, got "
                f"{len(periods)} periods and {len(restart_weights)} weights"
            )
        self.periods = list(periods)
        self.restart_weights = list(restart_weights)
        self.min_lr = min_lr
        self.min_lr_ratio = min_lr_ratio
        super().__init__(**kwargs)
        self.cumulative_periods = [sum(self.periods[: i + 1]) for i in range(len(self.periods))]

    def before_run(self, runner: Any) -> None:
        """Refuse periods that end before training does, now rather than mid-training."""
        super().before_run(runner)
        length = runner.max_epochs if self.by_epoch else runner.max_iters
        if length and self.cumulative_periods[-1] < length:
            unit = "epochs" if self.by_epoch else "iterations"
            raise ValueError(
                f"CosineRestartLrUpdaterHook periods {self.periods} cover "
                f"{self.cumulative_periods[-1]} {unit}, training has {length}: lengthen the periods"
            )

    def get_lr(self, runner: Any, base_lr: float) -> float:
        progress = runner.epoch if self.by_epoch else runner.iter
        target = annealing_target(base_lr, self.min_lr, self.min_lr_ratio)
        index = get_position_from_periods(progress, self.cumulative_periods)
        restart = 0 if index == 0 else self.cumulative_periods[index - 1]
        alpha = min((progress - restart) / self.periods[index], 1)
        return annealing_cos(base_lr, target, alpha, self.restart_weights[index])


@HOOKS.register_module()
class CyclicLrUpdaterHook(LrUpdaterHook):
    """Cycles up to ``base * target_ratio[0]`` and down to ``base * target_ratio[1]``, by iteration.

    Args:
        by_epoch: Must be False.
        target_ratio: ``(peak, trough)`` relative to the initial LR; one
            value `r` means ``(r, r / 1e5)``.
        cyclic_times: Cycles over training.
        step_ratio_up: The rising part of each cycle, in [0, 1).
        anneal_strategy: ``'cos'`` or ``'linear'``.
        gamma: Each cycle's peak moves towards the base by this factor, in (0, 1].
        **kwargs: `LrUpdaterHook`'s arguments.
    """

    def __init__(
        self,
        by_epoch: bool = False,
        target_ratio: float | tuple[float, ...] = (10, 1e-4),
        cyclic_times: int = 1,
        step_ratio_up: float = 0.4,
        anneal_strategy: str = "cos",
        gamma: float = 1,
        **kwargs: Any,
    ) -> None:
        self.target_ratio = cyclic_target_ratio(target_ratio)
        if not 0 <= step_ratio_up < 1.0:
            raise ValueError(f'"step_ratio_up" must be in range [0,1), got {step_ratio_up!r}')
        if not 0 < gamma <= 1:
            raise ValueError(f'"gamma" must be in range (0, 1], got {gamma!r}')
        self.anneal_func = anneal_function(anneal_strategy)
        check_by_epoch(type(self).__name__, by_epoch)
        self.cyclic_times = cyclic_times
        self.step_ratio_up = step_ratio_up
        self.gamma = gamma
        self.max_iter_per_phase: int | None = None
        self.lr_phases: list[list[float]] = []
        super().__init__(by_epoch, **kwargs)

    def before_run(self, runner: Any) -> None:
        """Record the initial LRs and lay out the cycle over ``runner.max_iters``."""
        super().before_run(runner)
        self.max_iter_per_phase, self.lr_phases = cyclic_phases(
            runner.max_iters, self.cyclic_times, self.step_ratio_up, self.target_ratio
        )

    def get_lr(self, runner: Any, base_lr: float) -> float:
        assert self.max_iter_per_phase is not None, "before_run lays out the cycle"
        return cyclic_value(
            base_lr, runner.iter, self.max_iter_per_phase, self.lr_phases, self.gamma,
            self.anneal_func,
        )  # fmt: skip


@HOOKS.register_module()
class OneCycleLrUpdaterHook(LrUpdaterHook):
    """The 1cycle policy: from ``max_lr / div_factor`` up to `max_lr`, then far below, by iteration.

    The optimizer's own LR is not used: the cycle is defined by `max_lr`.

    Args:
        max_lr: The peak, per group (a list) or per optimizer (a dict).
        total_steps: The cycle's length; ``runner.max_iters`` when None, and
            never shorter than it.
        pct_start: The rising part of the cycle, a float in [0, 1].
        anneal_strategy: ``'cos'`` or ``'linear'``.
        div_factor: The start is ``max_lr / div_factor``.
        final_div_factor: The end is ``start / final_div_factor``.
        three_phase: Come back down to the start symmetrically, then anneal
            to the end, instead of annealing to the end in one phase.
        **kwargs: `LrUpdaterHook`'s arguments (``by_epoch`` must be False).
    """

    def __init__(
        self,
        max_lr: float | list[float] | dict[str, Any],
        total_steps: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        **kwargs: Any,
    ) -> None:
        check_by_epoch(type(self).__name__, kwargs.setdefault("by_epoch", False))
        if not isinstance(max_lr, (numbers.Number, list, dict)):
            raise ValueError(
                f"the type of max_lr must be the one of list or dict, but got {type(max_lr)}"
            )
        if total_steps is not None and not isinstance(total_steps, int):
            raise ValueError(f"the type of total_steps must be int, but got {type(total_steps)}")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"expected float between 0 and 1 pct_start, but got {pct_start!r}")
        self._max_lr = max_lr
        self.total_steps = total_steps
        self.pct_start = pct_start
        self.anneal_func = anneal_function(anneal_strategy)
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor
        self.three_phase = three_phase
        self.lr_phases: list[list[float]] = []  # [end iteration, start factor, end factor]
        super().__init__(**kwargs)

    def before_run(self, runner: Any) -> None:
        """Set the cycle's start as each group's initial LR and lay out the phases."""
        total = runner.max_iters if self.total_steps is None else self.total_steps
        if total < runner.max_iters:
            raise ValueError(
                f"The total steps must be greater than or equal to max iterations "
                f"{runner.max_iters} of runner, but total steps is {total}."
            )
        named = runner.optimizer if isinstance(runner.optimizer, dict) else None
        optimizers = named or {type(runner.optimizer).__name__: runner.optimizer}
        starts = {}
        for name, optim in optimizers.items():
            starts[name] = [lr / self.div_factor for lr in format_param(name, optim, self._max_lr)]
            for group, lr in zip(optim.param_groups, starts[name], strict=True):
                group.setdefault("initial_lr", lr)
        self.base_lr = starts if named is not None else next(iter(starts.values()))
        up = float(self.pct_start * total) - 1
        if self.three_phase:
            down = float(2 * self.pct_start * total) - 2
            self.lr_phases = [
                [up, 1, self.div_factor],
                [down, self.div_factor, 1],
                [total - 1, 1, 1 / self.final_div_factor],
            ]
        else:
            self.lr_phases = [
                [up, 1, self.div_factor],
                [total - 1, self.div_factor, 1 / self.final_div_factor],
            ]

    def get_lr(self, runner: Any, base_lr: float) -> float:
        start = 0.0
        for end, start_factor, end_factor in self.lr_phases:
            if runner.iter <= end:
                pct = (runner.iter - start) / (end - start)
                return self.anneal_func(base_lr * start_factor, base_lr * end_factor, pct)
            start = end
        raise ValueError(
            f"iteration {runner.iter} is past the cycle's {self.lr_phases[-1][0] + 1} steps: "
            "give total_steps covering training"
        )


@HOOKS.register_module()
class LinearAnnealingLrUpdaterHook(_AnnealingLr):
    """A straight line from the initial LR to the minimum (one of `min_lr`, `min_lr_ratio`).

    Raises:
        ValueError: both or neither of `min_lr` and `min_lr_ratio` (MMCV: AssertionError).
    """

    _strategy = "linear"
