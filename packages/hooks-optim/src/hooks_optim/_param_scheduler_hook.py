"""`ParamSchedulerHook`: steps the runner's parameter schedulers at the right points."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hooks_core import HOOKS, Hook

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["ParamSchedulerHook"]


@HOOKS.register_module()
class ParamSchedulerHook(Hook):
    """Step each scheduler in ``runner.param_schedulers`` after its unit of training.

    * after every training iteration: the iteration-based ones (``by_epoch=False``);
    * after every training epoch: the epoch-based ones. A metric-driven one
      (``need_val_args``, e.g. ``ReduceOnPlateauLR``) only counts the epoch there;
    * after every validation epoch with metrics: the epoch-based metric-driven
      ones, given the metrics. Without metrics (None) nothing steps.

    ``runner.param_schedulers`` is read at each call, so the hook also works
    when called directly on a runner stand-in. It may be None, a list of
    schedulers, or a dict of such lists (one per optimizer of an
    ``OptimWrapperDict``); anything else is a `TypeError` naming its type.

    It runs at LOW priority, as in MMEngine: after the NORMAL hooks have seen
    the values the iteration used, and before the checkpoint hook (VERY_LOW),
    so a checkpoint holds the state for the next step.
    """

    priority = "LOW"

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Step the iteration-based schedulers."""
        schedulers = runner.param_schedulers
        for scheduler in schedulers if type(schedulers) is list else _schedulers(runner):
            if not scheduler.by_epoch:
                scheduler.step()

    def idle_points(self, runner: Any) -> tuple[str, ...]:
        """After each iteration, when no scheduler is iteration-based: nothing steps there."""
        if all(scheduler.by_epoch for scheduler in _schedulers(runner)):
            return ("after_train_iter",)
        return ()

    def after_train_epoch(self, runner: Any) -> None:
        """Step the epoch-based schedulers."""
        for scheduler in _schedulers(runner):
            if scheduler.by_epoch:
                scheduler.step()

    def after_val_epoch(self, runner: Any, metrics: Mapping[str, Any] | None = None) -> None:
        """Step the epoch-based metric-driven schedulers with `metrics`; None steps nothing.

        The training epoch was counted by `after_train_epoch` already, so a
        validation without metrics must not count it again.
        """
        if metrics is None:
            return
        for scheduler in _schedulers(runner):
            if scheduler.by_epoch and getattr(scheduler, "need_val_args", False):
                scheduler.step(metrics)


def _schedulers(runner: Any) -> Iterator[Any]:
    """The schedulers of ``runner.param_schedulers``: None, a list, or a dict of lists."""
    schedulers = runner.param_schedulers
    if schedulers is None:
        return iter(())
    if isinstance(schedulers, (list, tuple)):
        return iter(schedulers)
    if isinstance(schedulers, dict):
        for name, group in schedulers.items():
            if not isinstance(group, (list, tuple)):
                raise TypeError(
                    f"runner.param_schedulers[{name!r}] should be a list of ParamScheduler, "
                    f"got {type(group).__name__}: {group!r}; give each optimizer a list, "
                    f"e.g. param_scheduler=dict({name}=[...])"
                )
        return (scheduler for group in schedulers.values() for scheduler in group)
    raise TypeError(
        "runner.param_schedulers should be list of ParamScheduler or a dict containing "
        f"list of ParamScheduler (or None), got {type(schedulers).__name__}: {schedulers!r}"
    )
