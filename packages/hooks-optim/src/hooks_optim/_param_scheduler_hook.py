"""`ParamSchedulerHook`: steps the runner's parameter schedulers at the right points."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hooks_core import HOOKS, Hook

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ParamSchedulerHook"]


@HOOKS.register_module()
class ParamSchedulerHook(Hook):
    """Step each scheduler in ``runner.param_schedulers`` after its unit of training.

    * after every training iteration: the iteration-based ones (``by_epoch=False``);
    * after every training epoch: the epoch-based ones, except those driven by
      validation metrics (``need_val_args``, e.g. ``ReduceOnPlateauLR``);
    * after every validation epoch: the epoch-based metric-driven ones, with the metrics.

    It runs at LOW priority, as in MMEngine: after the NORMAL hooks have seen
    the values the iteration used, and before the checkpoint hook (VERY_LOW),
    so a checkpoint holds the state for the next step. The schedulers are
    sorted into these three lists once, in ``before_train``, so the
    per-iteration cost is one loop over the iteration-based ones.

    ``runner.param_schedulers`` may be None, a list of schedulers, or a dict of
    such lists (one per optimizer of an ``OptimWrapperDict``).
    """

    priority = "LOW"

    def __init__(self) -> None:
        self._by_iter: list[Any] = []
        self._by_epoch: list[Any] = []
        self._by_val: list[Any] = []

    def before_train(self, runner: Any) -> None:
        schedulers = _flatten(runner.param_schedulers)
        self._by_iter = [s for s in schedulers if not s.by_epoch and not _needs_metrics(s)]
        self._by_epoch = [s for s in schedulers if s.by_epoch and not _needs_metrics(s)]
        self._by_val = [s for s in schedulers if s.by_epoch and _needs_metrics(s)]

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        for scheduler in self._by_iter:
            scheduler.step()

    def after_train_epoch(self, runner: Any) -> None:
        for scheduler in self._by_epoch:
            scheduler.step()

    def after_val_epoch(self, runner: Any, metrics: Mapping[str, Any] | None = None) -> None:
        """Step the metric-driven schedulers; a validation outside training steps nothing."""
        if metrics is None:
            return
        for scheduler in self._by_val:
            scheduler.step(metrics)

    def after_train(self, runner: Any) -> None:
        # A later `runner.val()` must not step the schedulers of a finished run.
        self._by_iter, self._by_epoch, self._by_val = [], [], []


def _needs_metrics(scheduler: Any) -> bool:
    return bool(getattr(scheduler, "need_val_args", False))


def _flatten(schedulers: Any) -> list[Any]:
    """The schedulers of None, a list, or a dict of lists, in order."""
    if schedulers is None:
        return []
    if isinstance(schedulers, (list, tuple)):
        return list(schedulers)
    if isinstance(schedulers, dict) and all(
        isinstance(group, (list, tuple)) for group in schedulers.values()
    ):
        return [scheduler for group in schedulers.values() for scheduler in group]
    raise TypeError(
        "runner.param_schedulers must be None, a list of schedulers or a dict of such "
        f"lists (one per optimizer), got {type(schedulers).__name__}: {schedulers!r}"
    )
