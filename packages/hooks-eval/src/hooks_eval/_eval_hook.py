"""`EvalHook`: MMCV's evaluation hook, for configs written for MMCV, on the runner's val loop."""

from __future__ import annotations

import sys

from hooks_core import HOOKS, Hook
from hooks_core.utils import check_positive_int

from ._best import BestCheckpoints, best_keys
from ._bookkeeping import out_dir_of
from ._rules import GREATER_KEYS, LESS_KEYS, key_names
from ._writer import CheckpointWriter

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Sequence
    from typing import Any

__all__ = ["EvalHook"]


@HOOKS.register_module()
class EvalHook(Hook):
    """Validate every `interval` epochs (or iterations) from `start`, keeping the best checkpoint.

    The options are MMCV's. Validation runs the runner's validation loop (so
    give the runner ``val_dataloader``, ``val_cfg`` and ``val_evaluator``), and
    the hook takes over its schedule: the training loop's own ``val_interval``
    no longer applies. With a `start`, a run that begins (or resumes) at or
    after it validates once first, if due, as MMCV does. The best checkpoint is
    ``best_{key}_{epoch_N|iter_N}.pth``, with the model but no optimizer state;
    its score and file are kept in the message hub as ``eval_best_score`` and
    ``eval_best_ckpt`` and survive a resume. Use this hook's `save_best` rather
    than `CheckpointHook`'s when both are registered.

    Args:
        interval: Validate every this many epochs (or iterations).
        start: Count the interval from this epoch (or iteration); None counts
            from the beginning.
        by_epoch: Count in epochs, else in iterations.
        save_best: A metric name, a list of them, or ``'auto'``; see `CheckpointHook`.
        rule: ``'greater'`` or ``'less'`` (one, or one per key); None infers it.
        greater_keys, less_keys: See `CheckpointHook`.
        out_dir: Save best checkpoints to ``out_dir/<work dir name>``.
        **eval_kwargs: MMCV passed these (``metric=...``) to ``dataset.evaluate``;
            they are refused, since the runner's ``val_evaluator`` computes the metrics.

    Raises:
        TypeError: a `save_best`, `rule`, `greater_keys` or `less_keys` of the wrong type.
        ValueError: `interval` < 1, `start` < 0, any `eval_kwargs`, or a bad
            `save_best`/`rule`.
    """

    priority = "LOW"  # where MMCV-era libraries registered it

    def __init__(
        self,
        interval: int = 1,
        start: int | None = None,
        by_epoch: bool = True,
        save_best: str | Sequence[str] | None = None,
        rule: str | Sequence[str] | None = None,
        greater_keys: str | Sequence[str] | None = None,
        less_keys: str | Sequence[str] | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        **eval_kwargs: Any,
    ) -> None:
        if eval_kwargs:
            raise ValueError(
                f"EvalHook got {sorted(eval_kwargs)}, which MMCV passed to dataset.evaluate; "
                "here metrics come from the runner's val_evaluator: put them there, e.g. "
                "val_evaluator=dict(type='Accuracy')"
            )
        check_positive_int(interval, "EvalHook interval")
        if start is not None and (
            isinstance(start, bool) or not isinstance(start, int) or start < 0
        ):
            raise ValueError(f"EvalHook start must be None or an int >= 0, got {start!r}")
        self.interval = interval
        self.start = start
        self.by_epoch = by_epoch
        self.out_dir_option = out_dir
        keys = best_keys(save_best, "EvalHook")
        self.best = (
            BestCheckpoints(
                keys,
                rule,
                key_names(greater_keys, GREATER_KEYS, "greater_keys", "EvalHook"),
                key_names(less_keys, LESS_KEYS, "less_keys", "EvalHook"),
                "EvalHook",
                info_prefix="eval_",
            )
            if keys
            else None
        )
        self._writer = CheckpointWriter()
        self._first = True
        self._step = 0  # the epoch (or iteration) number the running validation follows
        self._meta: dict[str, int] = {}

    # ------------------------------------------------------------ schedule
    def before_train(self, runner: Any) -> None:
        """Check there is a val loop and take its schedule over from the training loop."""
        if runner.val_loop is None:
            raise RuntimeError(
                "EvalHook validates with the runner's validation loop: give the runner "
                "val_dataloader, val_cfg and val_evaluator"
            )
        runner.train_loop.val_begin = sys.maxsize
        self._first = True
        if self.best is not None:
            self.best.restore(runner.message_hub)

    def before_train_epoch(self, runner: Any) -> None:
        """Validate once before training if it begins at or after `start` (MMCV's resume check)."""
        if self.by_epoch and self._first:
            self._first = False
            if self.start is not None and runner.epoch >= self.start:
                self.after_train_epoch(runner)

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        """Validate once before training if it begins at or after `start` (MMCV's resume check)."""
        if not self.by_epoch and self._first:
            self._first = False
            if self.start is not None and runner.iter >= self.start:
                self.after_train_iter(runner, batch_idx, data_batch)

    def after_train_epoch(self, runner: Any) -> None:
        """Validate when the epoch just finished is due."""
        if self.by_epoch and self.every_n_epochs(runner, self.interval, self.start or 0):
            self._validate(
                runner, runner.epoch + 1, {"epoch": runner.epoch + 1, "iter": runner.iter}
            )

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Validate when the iteration just finished is due."""
        if not self.by_epoch and self.every_n_train_iters(runner, self.interval, self.start or 0):
            self._validate(
                runner, runner.iter + 1, {"epoch": runner.epoch, "iter": runner.iter + 1}
            )

    def _validate(self, runner: Any, step: int, meta: dict[str, int]) -> None:
        self._step, self._meta = step, meta
        try:
            runner.val_loop.run()
        finally:
            self._step = 0
        runner.model.train()  # an iteration-based loop does not switch back by itself

    # ------------------------------------------------------------ best checkpoint
    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Keep the best checkpoint of the validation this hook started."""
        if self.best is None or not self._step:
            return
        if not metrics:
            runner.logger.warning(
                "EvalHook: the validation gave no metrics, so no best checkpoint is saved for it"
            )
            return
        unit = "epoch" if self.by_epoch else "iter"
        self.best.update(
            runner,
            metrics,
            out_dir_of(runner, self.out_dir_option),
            f"{unit}_{self._step}.pth",
            f"{self._step} {unit}",
            self._meta,
            self._writer,
        )

    def __repr__(self) -> str:
        return (
            f"EvalHook(interval={self.interval}, start={self.start}, by_epoch={self.by_epoch}, "
            f"save_best={None if self.best is None else self.best.key_indicators})"
        )
