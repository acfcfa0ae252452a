"""`_ParamScheduler`: the base of every parameter scheduler, and the LR/momentum mixins.

A scheduler changes one entry (``'lr'``, ``'momentum'``, ``'weight_decay'``...)
of each of the optimizer's ``param_groups`` as training progresses. Its
``step()`` is called once per epoch (``by_epoch=True``) or once per iteration,
by `ParamSchedulerHook`; it acts only while its global step is in
``[begin, end)``, so schedulers covering consecutive windows chain into one
schedule (warm-up, then decay).

Most schedulers are *chainable*, as in PyTorch and MMEngine: each step derives
the new value from the value currently in the optimizer, so two schedulers
active at once multiply their effects. The state is plain Python values, so a
checkpoint holding it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
import numbers
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from hooks_core.utils import check_positive_int

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["INF", "_ParamScheduler", "LRSchedulerMixin", "MomentumSchedulerMixin"]

INF = 1_000_000_000
"""The default ``end``: a window that never closes (an int, so step arithmetic stays exact)."""

_logger = logging.getLogger(__name__)

_S = TypeVar("_S", bound="_ParamScheduler")


class _ParamScheduler:
    """Base class: schedule `param_name` of every param group of `optimizer`.

    Subclasses implement `_get_value`, the values for the current
    ``last_step`` (the number of steps taken inside the window, 0 at `begin`).

    Args:
        optimizer: A torch optimizer, or a wrapper exposing ``param_groups``
            (an ``OptimWrapper``); the groups are read through it on every step.
        param_name: The param-group key to schedule.
        begin: First global step (epoch or iteration) at which the scheduler acts.
        end: The scheduler stops acting at this step; the value then stays.
        last_step: The index of the last step taken inside the window, for
            restarting a schedule by hand; -1 starts afresh. Resuming is
            better done with `load_state_dict`.
        by_epoch: Whether a step is an epoch (True) or an iteration.
        verbose: Log each new value.
        convert_to_iter_based: Express an epoch-based schedule in iterations
            (`begin`, `end` and the family's periods are multiplied by
            `epoch_length`), so the value changes smoothly every iteration.
        epoch_length: Iterations per epoch; required by `convert_to_iter_based`.
            The runner passes ``len(train_dataloader)``.

    Raises:
        ValueError: if ``end <= begin`` or ``last_step < -1``, if a conversion
            lacks `epoch_length` or is asked of an iteration-based scheduler.
        TypeError: if `optimizer` has no list of ``param_groups`` (an
            ``OptimWrapperDict`` needs one scheduler list per optimizer).
        KeyError: if ``last_step != -1`` but the groups hold no ``initial_<param_name>``.
    """

    need_val_args: ClassVar[bool] = False
    """Whether `step` needs validation metrics (`ReduceOnPlateauParamScheduler`)."""

    _epoch_params: ClassVar[tuple[str, ...]] = ()
    """Attributes counting steps, which `convert_to_iter_based` multiplies by the epoch length."""

    def __init__(
        self,
        optimizer: Any,
        param_name: str,
        begin: int = 0,
        end: int = INF,
        last_step: int = -1,
        by_epoch: bool = True,
        verbose: bool = False,
        convert_to_iter_based: bool = False,
        epoch_length: int | None = None,
    ) -> None:
        _check_optimizer(type(self).__name__, optimizer)
        if isinstance(last_step, bool) or not isinstance(last_step, int) or last_step < -1:
            raise ValueError(f"last_step must be an int >= -1, got {last_step!r}")
        if end <= begin:
            raise ValueError(f"end ({end}) must be greater than begin ({begin})")
        self.optimizer = optimizer
        self.param_name = param_name
        self.by_epoch = by_epoch
        self.verbose = verbose
        if convert_to_iter_based:
            length = _check_conversion(type(self).__name__, by_epoch, epoch_length)
            begin, end = begin * length, end if end == INF else end * length
            self._scale_epoch_params(length)
            self.by_epoch = False
        self.begin = int(begin)
        self.end = int(end)
        self._check_groups()

        key = f"initial_{param_name}"
        groups = self.optimizer.param_groups
        if last_step == -1:
            for group in groups:
                group.setdefault(key, self._read(group))
        else:
            missing = [i for i, group in enumerate(groups) if key not in group]
            if missing:
                raise KeyError(
                    f"param groups {missing} have no {key!r}: it is set when a scheduler "
                    "starts with last_step=-1, so restarting with last_step="
                    f"{last_step} needs an optimizer that was scheduled before"
                )
        self.base_values: list[float] = [float(group[key]) for group in groups]
        self.last_step = last_step
        # The global step of the last `step()` call (MMEngine's convention): the
        # constructor's own call makes it 0 when starting afresh.
        self._global_step = -1 if last_step == -1 else self.begin + last_step
        self._last_value: list[float] = []
        self._prepare()
        self.step()

    @classmethod
    def build_iter_from_epoch(cls: type[_S], *args: Any, epoch_length: int, **kwargs: Any) -> _S:
        """Build the scheduler with its epoch-based arguments converted to iterations."""
        kwargs.update(convert_to_iter_based=True, epoch_length=epoch_length)
        return cls(*args, **kwargs)

    # ------------------------------------------------------------ for subclasses
    def _prepare(self) -> None:
        """Derive values from the (converted) arguments before the first step; optional."""

    def _get_value(self) -> list[float]:
        """The values of the current ``last_step``, one per param group."""
        raise NotImplementedError

    def _scale_epoch_params(self, length: int) -> None:
        for name in self._epoch_params:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, numbers.Number):
                setattr(self, name, value * length)  # type: ignore[operator]
            else:
                setattr(self, name, [v * length for v in value])

    def _check_groups(self) -> None:
        """Fail early if a param group lacks the scheduled key."""
        for i, group in enumerate(self.optimizer.param_groups):
            if self.param_name not in group:
                raise KeyError(f"param group {i} has no {self.param_name!r} to schedule")

    def _read(self, group: dict[str, Any]) -> float:
        return float(group[self.param_name])

    def _write(self, group: dict[str, Any], value: float) -> None:
        group[self.param_name] = value

    def _current(self) -> list[float]:
        return [self._read(group) for group in self.optimizer.param_groups]

    # ------------------------------------------------------------ public API
    def step(self) -> None:
        """Advance one epoch or iteration; the values change only inside ``[begin, end)``."""
        self._global_step += 1
        if self.begin <= self._global_step < self.end:
            self.last_step += 1
            groups = self.optimizer.param_groups
            for i, (group, value) in enumerate(zip(groups, self._get_value(), strict=True)):
                self._write(group, value)
                self.print_value(self.verbose, i, value)
        self._last_value = self._current()

    def get_last_value(self) -> list[float]:
        """The values the last `step` left in the optimizer, one per param group."""
        return list(self._last_value)

    def print_value(self, is_verbose: bool, group: int, value: float) -> None:
        """Log the new value of param group `group` when `is_verbose` (``verbose=True``)."""
        if is_verbose:
            _logger.info("Adjusting parameter value of group %d to %.4e.", group, value)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer, as plain Python values (lists, numbers, strings)."""
        return {key: _plain(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict`; the optimizer's own state holds the current values."""
        self.__dict__.update(state_dict)


class LRSchedulerMixin(_ParamScheduler):
    """Schedule the learning rate: ``XxxLR(opt, ...)`` is ``XxxParamScheduler(opt, 'lr', ...)``."""

    def __init__(self, optimizer: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(optimizer, "lr", *args, **kwargs)


class MomentumSchedulerMixin(_ParamScheduler):
    """Schedule the momentum: SGD/RMSprop's ``momentum``, or ``betas[0]`` for the Adam family.

    Raises:
        ValueError: if a param group has neither ``momentum`` nor ``betas``.
    """

    def __init__(self, optimizer: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(optimizer, "momentum", *args, **kwargs)

    def _check_groups(self) -> None:
        for i, group in enumerate(self.optimizer.param_groups):
            if "momentum" not in group and "betas" not in group:
                raise ValueError(
                    f"param group {i} has neither 'momentum' nor 'betas': "
                    f"{type(self.optimizer).__name__} has no momentum to schedule"
                )

    def _read(self, group: dict[str, Any]) -> float:
        if "momentum" in group:
            return float(group["momentum"])
        return float(group["betas"][0])

    def _write(self, group: dict[str, Any], value: float) -> None:
        if "momentum" in group:
            group["momentum"] = value
        else:
            group["betas"] = (value, *tuple(group["betas"])[1:])


def _check_conversion(name: str, by_epoch: bool, epoch_length: int | None) -> int:
    if not by_epoch:
        raise ValueError(
            f"{name}: convert_to_iter_based converts an epoch-based schedule, "
            "but by_epoch=False already counts iterations"
        )
    if epoch_length is None:
        raise ValueError(
            f"{name}: convert_to_iter_based=True needs epoch_length (iterations per "
            "epoch); the runner passes len(train_dataloader)"
        )
    return check_positive_int(epoch_length, f"{name}: epoch_length")


def _plain(value: Any) -> Any:
    """Tuples become lists (recursively), so the state is JSON-like and `weights_only` loads it."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _check_optimizer(name: str, optimizer: Any) -> None:
    """Refuse what has no ``param_groups``, or a dict of them (an ``OptimWrapperDict``)."""
    groups = getattr(optimizer, "param_groups", None)
    if groups is None:
        raise TypeError(
            f"{name} needs a torch optimizer or a wrapper with 'param_groups', "
            f"got {type(optimizer).__name__}"
        )
    if isinstance(groups, dict):
        raise TypeError(
            f"{name} schedules one optimizer, got {type(optimizer).__name__} holding "
            f"{sorted(groups)}: give one list of schedulers per optimizer, e.g. "
            "param_scheduler=dict(generator=[...], discriminator=[...])"
        )


def _per_group(name: str, value: float | Sequence[float] | None, optimizer: Any) -> list[Any]:
    """Broadcast a scalar to every param group, or check a per-group list's length.

    An optimizer wrapper over several groups adds MMEngine's base group
    (``base_param_settings``) last; a list with one value per group of the
    optimizer itself gives that group the last value.
    """
    count = len(optimizer.param_groups)
    if not isinstance(value, (list, tuple)):
        return [value] * count
    values = list(value)
    if getattr(optimizer, "base_param_settings", None) is not None and len(values) == count - 1:
        values.append(values[-1])
    if len(values) != count:
        raise ValueError(f"{name} has {len(value)} values for {count} param groups")
    return values
