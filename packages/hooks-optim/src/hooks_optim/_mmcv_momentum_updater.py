"""MMCV 1.x's ``MomentumUpdaterHook`` family: SGD's momentum (Adam's ``betas[0]``) by epoch/iter.

``momentum_config=dict(policy='cyclic', ...)`` on the MMCV runners builds
these by name (``CyclicMomentumUpdaterHook``), usually next to the matching LR
policy: the momentum goes down while the LR goes up. The values equal MMCV
1.7.2's, warm-up included: it divides the momentum by the LR warm-up's factor.
"""

from __future__ import annotations

from typing import Any

from hooks_core import HOOKS, Hook

from ._mmcv_schedule import (
    anneal_function,
    annealing_target,
    check_by_epoch,
    check_one_of,
    check_step,
    check_warmup,
    cyclic_phases,
    cyclic_target_ratio,
    cyclic_value,
    format_param,
    map_values,
    per_group,
    progress_of,
    step_exponent,
    warmup_action,
    warmup_factor,
    write_groups,
)

__all__ = [
    "MomentumUpdaterHook",
    "StepMomentumUpdaterHook",
    "CosineAnnealingMomentumUpdaterHook",
    "LinearAnnealingMomentumUpdaterHook",
    "CyclicMomentumUpdaterHook",
    "OneCycleMomentumUpdaterHook",
]


def _initial_momentum(group: dict[str, Any]) -> float:
    """The group's ``initial_momentum`` (from ``momentum`` or ``betas[0]`` the first time)."""
    if "initial_momentum" not in group:
        if "momentum" in group:
            group["initial_momentum"] = group["momentum"]
        elif "betas" in group:
            group["initial_momentum"] = group["betas"][0]
        else:
            raise ValueError(
                "MomentumUpdaterHook needs param groups with 'momentum' (SGD, RMSprop) or 'betas' "
                f"(the Adam family); this one has {sorted(k for k in group if k != 'params')}"
            )
    return group["initial_momentum"]  # type: ignore[no-any-return]


def _write_momentum(group: dict[str, Any], momentum: float) -> None:
    if "momentum" in group:
        group["momentum"] = momentum
    elif "betas" in group:
        group["betas"] = (momentum, group["betas"][1])


class MomentumUpdaterHook(Hook):
    """Base of the momentum policies: a subclass defines ``get_momentum(runner, base_momentum)``.

    As `LrUpdaterHook`, but warm-up divides: the momentum during warm-up is
    the regular one divided by ``warmup_ratio`` (constant), by
    ``1 - (1 - i/W)(1 - ratio)`` (linear) or by ``ratio ** (1 - i/W)`` (exp),
    so it starts higher. There is no ``warmup_by_epoch``.

    Args:
        by_epoch: Recompute per epoch rather than per iteration.
        warmup: None, ``'constant'``, ``'linear'`` or ``'exp'``.
        warmup_iters: Length of the warm-up in iterations.
        warmup_ratio: The warm-up's starting factor, in (0, 1].

    Raises:
        ValueError: an unknown `warmup`; with a warm-up, ``warmup_iters <= 0``
            or `warmup_ratio` outside (0, 1] (MMCV: AssertionError).
    """

    def __init__(
        self,
        by_epoch: bool = True,
        warmup: str | None = None,
        warmup_iters: int = 0,
        warmup_ratio: float = 0.9,
    ) -> None:
        check_warmup(warmup, warmup_iters, warmup_ratio)
        self.by_epoch = by_epoch
        self.warmup = warmup
        self.warmup_iters = warmup_iters
        self.warmup_ratio = warmup_ratio
        self.base_momentum: Any = []  # the initial momentum of each group
        self.regular_momentum: Any = []  # the momentum without warm-up

    def _set_momentum(self, runner: Any, momentum_groups: Any) -> None:
        write_groups(runner.optimizer, momentum_groups, _write_momentum)

    def get_momentum(self, runner: Any, base_momentum: Any) -> float:
        """The momentum of a group whose initial momentum is `base_momentum`, now."""
        raise NotImplementedError(
            f"{type(self).__name__} must define get_momentum(runner, base_momentum)"
        )

    def get_regular_momentum(self, runner: Any) -> Any:
        """`get_momentum` for every group (per optimizer for a dict of them)."""
        return map_values(self.base_momentum, lambda base: self.get_momentum(runner, base))

    def get_warmup_momentum(self, cur_iters: int) -> Any:
        """The regular momentum divided by the warm-up factor at iteration `cur_iters`."""
        assert self.warmup is not None
        factor = warmup_factor(self.warmup, cur_iters, self.warmup_iters, self.warmup_ratio)
        return map_values(self.regular_momentum, lambda momentum: momentum / factor)

    def before_run(self, runner: Any) -> None:
        """Record each group's ``initial_momentum``."""
        self.base_momentum = per_group(runner.optimizer, _initial_momentum)

    def before_train_epoch(self, runner: Any) -> None:
        """Set the epoch's momentum when `by_epoch`."""
        if self.by_epoch:
            self.regular_momentum = self.get_regular_momentum(runner)
            self._set_momentum(runner, self.regular_momentum)

    def before_train_iter(self, runner: Any) -> None:  # type: ignore[override]
        """Set the iteration's momentum, or its warm-up."""
        if not self.by_epoch:
            self.regular_momentum = self.get_regular_momentum(runner)
        action = warmup_action(self.by_epoch, self.warmup, runner.iter, self.warmup_iters)
        if action == "warmup":
            self._set_momentum(runner, self.get_warmup_momentum(runner.iter))
        elif action == "regular":
            self._set_momentum(runner, self.regular_momentum)


@HOOKS.register_module()
class StepMomentumUpdaterHook(MomentumUpdaterHook):
    """``base * gamma ** k`` after `k` steps, no lower than `min_momentum`.

    Args:
        step: Decay every `step` epochs/iterations (an int), or at these milestones (a list).
        gamma: The decay factor.
        min_momentum: The floor; None for none.
        **kwargs: `MomentumUpdaterHook`'s arguments.
    """

    def __init__(
        self,
        step: int | list[int],
        gamma: float = 0.5,
        min_momentum: float | None = None,
        **kwargs: Any,
    ) -> None:
        check_step(step)
        self.step = step
        self.gamma = gamma
        self.min_momentum = min_momentum
        super().__init__(**kwargs)

    def get_momentum(self, runner: Any, base_momentum: float) -> float:
        progress = runner.epoch if self.by_epoch else runner.iter
        momentum = base_momentum * self.gamma ** step_exponent(self.step, progress)
        return momentum if self.min_momentum is None else max(momentum, self.min_momentum)


class _AnnealingMomentum(MomentumUpdaterHook):
    """From the initial momentum to `min_momentum` (or ``base * min_momentum_ratio``)."""

    def __init__(
        self,
        min_momentum: float | None = None,
        min_momentum_ratio: float | None = None,
        **kwargs: Any,
    ) -> None:
        check_one_of("min_momentum", min_momentum, "min_momentum_ratio", min_momentum_ratio)
        self.min_momentum = min_momentum
        self.min_momentum_ratio = min_momentum_ratio
        super().__init__(**kwargs)

    _strategy = "cos"  # the curve, as `anneal_function` names it

    def get_momentum(self, runner: Any, base_momentum: float) -> float:
        progress, max_progress = progress_of(runner, self.by_epoch)
        target = annealing_target(base_momentum, self.min_momentum, self.min_momentum_ratio)
        return anneal_function(self._strategy)(base_momentum, target, progress / max_progress)


@HOOKS.register_module()
class CosineAnnealingMomentumUpdaterHook(_AnnealingMomentum):
    """A half cosine from the initial momentum to `min_momentum` (or its ratio to the initial).

    Raises:
        ValueError: both or neither minimum given (MMCV: AssertionError).
    """

    _strategy = "cos"


@HOOKS.register_module()
class LinearAnnealingMomentumUpdaterHook(_AnnealingMomentum):
    """A straight line from the initial momentum to `min_momentum` (or its ratio to the initial).

    Raises:
        ValueError: both or neither minimum given (MMCV: AssertionError).
    """

    _strategy = "linear"


@HOOKS.register_module()
class CyclicMomentumUpdaterHook(MomentumUpdaterHook):
    """Cycles to ``base * target_ratio[0]`` and back to ``base * target_ratio[1]``, by iteration.

    Paired with `CyclicLrUpdaterHook`: with the defaults and a base of 0.95
    it goes from 0.95 down to 0.85 while the LR rises, and back.

    Args:
        by_epoch: Must be False.
        target_ratio: ``(low, high)`` relative to the initial momentum.
        cyclic_times: Cycles over training.
        step_ratio_up: The first part of each cycle, in [0, 1).
        anneal_strategy: ``'cos'`` or ``'linear'``.
        gamma: Each cycle's swing shrinks by this factor.
        **kwargs: `MomentumUpdaterHook`'s arguments.
    """

    def __init__(
        self,
        by_epoch: bool = False,
        target_ratio: tuple[float, float] = (0.85 / 0.95, 1.0),
        cyclic_times: int = 1,
        step_ratio_up: float = 0.4,
        anneal_strategy: str = "cos",
        gamma: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self.target_ratio = cyclic_target_ratio(target_ratio)
        if not 0 <= step_ratio_up < 1.0:
            raise ValueError(f'"step_ratio_up" must be in range [0,1), got {step_ratio_up!r}')
        self.anneal_func = anneal_function(anneal_strategy)
        check_by_epoch(type(self).__name__, by_epoch)
        self.cyclic_times = cyclic_times
        self.step_ratio_up = step_ratio_up
        self.gamma = gamma
        self.max_iter_per_phase: int | None = None
        self.momentum_phases: list[list[float]] = []
        super().__init__(by_epoch, **kwargs)

    def before_run(self, runner: Any) -> None:
        """Record the initial momenta and lay out the cycle over ``runner.max_iters``."""
        super().before_run(runner)
        self.max_iter_per_phase, self.momentum_phases = cyclic_phases(
            runner.max_iters, self.cyclic_times, self.step_ratio_up, self.target_ratio
        )

    def get_momentum(self, runner: Any, base_momentum: float) -> float:
        assert self.max_iter_per_phase is not None, "before_run lays out the cycle"
        return cyclic_value(
            base_momentum, runner.iter, self.max_iter_per_phase, self.momentum_phases,
            self.gamma, self.anneal_func,
        )  # fmt: skip


@HOOKS.register_module()
class OneCycleMomentumUpdaterHook(MomentumUpdaterHook):
    """The 1cycle momentum: from `max_momentum` down to `base_momentum` and back (iterations only).

    It mirrors `OneCycleLrUpdaterHook` with the same `pct_start`; each group
    stores its ``base_momentum`` and ``max_momentum``, and starts at the latter.

    Args:
        base_momentum: The low point, per group (a list) or per optimizer (a dict).
        max_momentum: The high point, likewise.
        pct_start: The falling part of the cycle, a float in [0, 1].
        anneal_strategy: ``'cos'`` or ``'linear'``.
        three_phase: Fall, rise back by ``2 * pct_start``, then stay at the high point.
        **kwargs: `MomentumUpdaterHook`'s arguments (``by_epoch`` must be False).
    """

    def __init__(
        self,
        base_momentum: float | list[float] | dict[str, Any] = 0.85,
        max_momentum: float | list[float] | dict[str, Any] = 0.95,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        three_phase: bool = False,
        **kwargs: Any,
    ) -> None:
        check_by_epoch(type(self).__name__, kwargs.setdefault("by_epoch", False))
        for name, value in (("base_momentum", base_momentum), ("max_momentum", max_momentum)):
            if not isinstance(value, (float, list, dict)):
                raise ValueError(f"{name} must be a float, a list or a dict, got {value!r}")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start!r}")
        self._base_momentum = base_momentum
        self._max_momentum = max_momentum
        self.pct_start = pct_start
        self.anneal_func = anneal_function(anneal_strategy)
        self.three_phase = three_phase
        self.momentum_phases: list[dict[str, Any]] = []
        super().__init__(**kwargs)

    def before_run(self, runner: Any) -> None:
        """Put each group at its `max_momentum`, store both bounds in it, lay out the phases."""
        named = runner.optimizer if isinstance(runner.optimizer, dict) else None
        for name, optim in (named or {type(runner.optimizer).__name__: runner.optimizer}).items():
            if "momentum" not in optim.defaults and "betas" not in optim.defaults:
                raise ValueError(
                    f"{type(self).__name__} needs an optimizer with momentum or betas, "
                    f"{type(optim).__name__} has neither"
                )
            lows = format_param(name, optim, self._base_momentum)
            highs = format_param(name, optim, self._max_momentum)
            for group, low, high in zip(optim.param_groups, lows, highs, strict=True):
                _write_momentum(group, high)
                group["base_momentum"] = low
                group["max_momentum"] = high
        down = float(self.pct_start * runner.max_iters) - 1
        last = runner.max_iters - 1
        if self.three_phase:
            up = float(2 * self.pct_start * runner.max_iters) - 2
            phases = [(down, "max", "base"), (up, "base", "max"), (last, "max", "max")]
        else:
            phases = [(down, "max", "base"), (last, "base", "max")]
        self.momentum_phases = [
            {"end_iter": end, "start_momentum": f"{a}_momentum", "end_momentum": f"{b}_momentum"}
            for end, a, b in phases
        ]

    def get_momentum(self, runner: Any, param_group: dict[str, Any]) -> float:
        """The momentum of `param_group` (holding its bounds) at ``runner.iter``."""
        start = 0.0
        for i, phase in enumerate(self.momentum_phases):
            end = phase["end_iter"]
            if runner.iter <= end or i == len(self.momentum_phases) - 1:
                pct = (runner.iter - start) / (end - start)
                return self.anneal_func(
                    param_group[phase["start_momentum"]], param_group[phase["end_momentum"]], pct
                )
            start = end
        raise AssertionError("unreachable: the last phase always matches")

    def get_regular_momentum(self, runner: Any) -> Any:
        """`get_momentum` of every param group (its bounds live in the group)."""
        return per_group(runner.optimizer, lambda group: self.get_momentum(runner, group))
