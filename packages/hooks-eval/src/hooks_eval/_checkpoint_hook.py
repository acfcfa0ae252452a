"""`CheckpointHook`: MMEngine's periodic, last, kept-N and best checkpoints, optionally async.

A step's regular checkpoint is written once that step's validation (if any)
is over, so it records what the validation changed: the best score and file,
early-stopping counters, validation scalars. A run resumed from it continues
exactly, and MMEngine's re-save after a new best (mmengine#1166) is not needed.
"""

from __future__ import annotations

import os
import os.path as osp

from hooks_core import HOOKS, Hook
from hooks_core.checkpoint import update_last_checkpoint

from ._best import BestCheckpoints
from ._bookkeeping import out_dir_of, record_in_checkpoint, remove_file
from ._publish import publish_checkpoint
from ._writer import CheckpointWriter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["CheckpointHook", "DEFAULT_CHECKPOINT_HOOK"]

#: The runner's ``checkpoint`` default hook, contributed through an entry point.
DEFAULT_CHECKPOINT_HOOK: dict[str, Any] = {"type": "CheckpointHook", "interval": 1}


@HOOKS.register_module()
class CheckpointHook(Hook):
    """Save checkpoints every `interval` epochs (or iterations), the last one, and the best.

    Checkpoints are written on rank 0 through hooks-core's atomic writer, and
    ``work_dir/last_checkpoint`` names the newest regular one, for
    ``resume=True``. The kept list (`max_keep_ckpts`) and the best scores and
    files live in the message hub (``keep_ckpt_ids``, ``last_ckpt``,
    ``best_score``, ``best_ckpt``, as in MMEngine) and so survive a resume; they
    change, and replaced files are removed, only once a write has succeeded.

    Args:
        interval: Save every this many epochs (`by_epoch`) or iterations; -1 or
            0 saves only the last one (with `save_last`).
        by_epoch: Count in epochs, else in iterations.
        save_optimizer: Put the optimizer's state in regular checkpoints.
        save_param_scheduler: Put the schedulers' states in regular checkpoints.
        out_dir: Save to ``out_dir/<work dir name>`` instead of the work dir.
        max_keep_ckpts: Keep only this many latest regular checkpoints; -1 or 0
            keeps all.
        save_last: Also save after the last epoch (or iteration).
        save_best: A metric name, a list of them, or ``'auto'`` (the first
            metric): after each validation, keep the checkpoint with the best
            score as ``best_{key}_{epoch_N|iter_N}.pth`` (a ``/`` in the key
            becomes ``_``), replacing the previous best. It holds the model and
            ``meta`` but no optimizer or scheduler state.
        rule: ``'greater'`` or ``'less'``, one for all keys or one per key;
            None infers it from the key's name (see `greater_keys`).
        greater_keys: Names better greater, matched exactly then as parts of
            the key, ignoring case; MMEngine's ``('acc', 'top', 'AR@', 'auc',
            'precision', 'mAP', 'mDice', 'mIoU', 'mAcc', 'aAcc')`` by default.
        less_keys: Names better less; ``('loss',)`` by default.
        filename_tmpl: The regular checkpoint's name, formatted with the epoch
            (or iteration) number; ``'epoch_{}.pth'`` or ``'iter_{}.pth'`` by default.
        published_keys: After training, write copies of the last (with
            `save_last`) and best checkpoints holding only these keys, named
            ``{stem}-{sha256[:8]}.pth``, e.g. ``['meta', 'state_dict']``.
        save_begin: Start counting the interval at this epoch (or iteration):
            ``interval=2, save_begin=5`` saves epochs 5, 7, 9, ...
        async_save: Copy the state to CPU memory on the training thread and write
            it on a background thread. One write at most is in flight; an error
            is raised at the next save or at the end of training, and the run
            waits for the last write before it ends.

    Raises:
        TypeError: a count that is not an int.
        ValueError: a negative `save_begin`, a `filename_tmpl` without a number,
            repeated `published_keys`, or a bad `save_best`/`rule` (see `BestCheckpoints`).

    Example:
        >>> default_hooks = dict(checkpoint=dict(
        ...     type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'))
    """

    priority = "VERY_LOW"

    def __init__(
        self,
        interval: int = -1,
        by_epoch: bool = True,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        out_dir: str | os.PathLike[str] | None = None,
        max_keep_ckpts: int = -1,
        save_last: bool = True,
        save_best: str | Sequence[str] | None = None,
        rule: str | Sequence[str] | None = None,
        greater_keys: str | Sequence[str] | None = None,
        less_keys: str | Sequence[str] | None = None,
        filename_tmpl: str | None = None,
        published_keys: str | Sequence[str] | None = None,
        save_begin: int = 0,
        async_save: bool = False,
    ) -> None:
        for name, value in (("interval", interval), ("max_keep_ckpts", max_keep_ckpts),
                            ("save_begin", save_begin)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"CheckpointHook {name} must be an int, got {value!r}")
        if save_begin < 0:
            raise ValueError(f"CheckpointHook save_begin must be >= 0, got {save_begin}")
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.save_param_scheduler = save_param_scheduler
        self.out_dir_option = out_dir
        self.out_dir = ""  # resolved against the runner's work dir in before_train
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.save_begin = save_begin
        self.filename_tmpl = _check_template(
            filename_tmpl or ("epoch_{}.pth" if by_epoch else "iter_{}.pth")
        )
        self.published_keys = _check_published_keys(published_keys)
        self.best = (
            None
            if save_best is None
            else BestCheckpoints(save_best, rule, greater_keys, less_keys, "CheckpointHook")
        )
        self.writer = CheckpointWriter(async_save)
        self._pending: tuple[int, dict[str, int]] | None = None  # a save waiting for validation
        self._training = False

    # ------------------------------------------------------------ training
    def before_train(self, runner: Any) -> None:
        """Resolve the output folder and apply a smaller `max_keep_ckpts` to a resumed list."""
        self._training = True
        self.out_dir = out_dir_of(runner, self.out_dir_option)
        runner.logger.info("Checkpoints will be saved to %s.", self.out_dir)
        if self.max_keep_ckpts > 0:
            hub = runner.message_hub
            kept = list(hub.get_info("keep_ckpt_ids", []))
            for step in kept[: -self.max_keep_ckpts]:
                if runner.rank == 0:
                    remove_file(self._path(step))
            hub.update_info("keep_ckpt_ids", kept[-self.max_keep_ckpts :])

    def before_train_epoch(self, runner: Any) -> None:
        """Write the previous epoch's checkpoint if no validation followed it."""
        self._flush(runner)

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        """Write the previous iteration's checkpoint if no validation followed it."""
        if self._pending is not None:
            self._flush(runner)

    def after_train_epoch(self, runner: Any) -> None:
        """Save (after the validation that may follow) every `interval` epochs and the last."""
        if self.by_epoch and (
            self.every_n_epochs(runner, self.interval, self.save_begin)
            or (self.save_last and self.is_last_train_epoch(runner))
        ):
            runner.logger.info("Saving checkpoint at %d epochs", runner.epoch + 1)
            self._pending = (runner.epoch + 1, {"epoch": runner.epoch + 1, "iter": runner.iter})

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Save (after the validation that may follow) every `interval` iterations and the last."""
        if not self.by_epoch and (
            self.every_n_train_iters(runner, self.interval, self.save_begin)
            or (self.save_last and self.is_last_train_iter(runner))
        ):
            runner.logger.info("Saving checkpoint at %d iterations", runner.iter + 1)
            self._pending = (runner.iter + 1, {"epoch": runner.epoch, "iter": runner.iter + 1})

    def after_train(self, runner: Any) -> None:
        """Write what is pending, wait for the last write, and publish the final checkpoints."""
        self._flush(runner)
        self.writer.wait()
        self._training = False
        if self.published_keys is not None and runner.rank == 0:
            self._publish(runner)

    def after_run(self, runner: Any) -> None:
        """Wait for the last write; a save still pending (training was interrupted) is dropped."""
        self._pending = None
        self.writer.close()

    # ------------------------------------------------------------ validation
    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Keep the best checkpoint of each `save_best` metric (during training only)."""
        if self.best is None or not self._training:
            return
        self.writer.wait()  # the scores to beat are those of completed writes
        step = runner.epoch if self.by_epoch else runner.iter
        self.best.update(
            runner,
            metrics,
            self.out_dir,
            self.filename_tmpl.format(step),
            {"epoch": runner.epoch, "iter": runner.iter},
            self.writer,
        )

    def after_val(self, runner: Any) -> None:
        """Write the checkpoint of the step this validation followed."""
        self._flush(runner)

    # ------------------------------------------------------------ checkpoints
    def before_save_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        """Let a write in flight finish first, so files and the pointer keep their order."""
        if self.writer.wait():  # its bookkeeping changed the hub after the dict was made
            checkpoint["message_hub"] = runner.message_hub.state_dict()

    # ------------------------------------------------------------ helpers
    def _path(self, step: int) -> str:
        return osp.join(self.out_dir, self.filename_tmpl.format(step))

    def _flush(self, runner: Any) -> None:
        if self._pending is None:
            return
        step, meta = self._pending
        self._pending = None
        self._save(runner, step, meta)

    def _save(self, runner: Any, step: int, meta: dict[str, int]) -> None:
        """Write the regular checkpoint of `step`, then point at it and drop the oldest kept."""
        self.writer.wait()
        hub = runner.message_hub
        path = self._path(step)
        info: dict[str, Any] = {"last_ckpt": path}
        dropped: list[int] = []
        if self.max_keep_ckpts > 0:
            kept = [s for s in hub.get_info("keep_ckpt_ids", []) if s != step] + [step]
            dropped, info["keep_ckpt_ids"] = (
                kept[: -self.max_keep_ckpts],
                kept[-self.max_keep_ckpts :],
            )
        checkpoint = runner.collect_checkpoint(
            self.save_optimizer, self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch
        )
        record_in_checkpoint(checkpoint, info)
        work_dir = runner.work_dir

        def point_and_prune() -> None:
            update_last_checkpoint(work_dir, path)
            for old in dropped:
                remove_file(self._path(old))

        self.writer.write(checkpoint, path, point_and_prune, lambda: hub.update_info_dict(info))

    def _publish(self, runner: Any) -> None:
        assert self.published_keys is not None
        hub = runner.message_hub
        targets = [hub.get_info("last_ckpt")] if self.save_last else []
        targets += self.best.paths(hub) if self.best is not None else []
        for path in dict.fromkeys(p for p in targets if p is not None and osp.isfile(p)):
            published, removed = publish_checkpoint(path, self.published_keys)
            runner.logger.info(
                "Published %s (without %s) as %s", osp.basename(path), removed, published
            )

    def __repr__(self) -> str:
        return (
            f"CheckpointHook(interval={self.interval}, by_epoch={self.by_epoch}, "
            f"max_keep_ckpts={self.max_keep_ckpts}, save_last={self.save_last}, "
            f"save_best={None if self.best is None else self.best.keys}, "
            f"save_begin={self.save_begin}, async_save={self.writer.async_save})"
        )


def _check_template(template: str) -> str:
    if template.format(1) == template.format(2):
        raise ValueError(
            f"CheckpointHook filename_tmpl {template!r} must contain a '{{}}' for the epoch "
            "or iteration number, e.g. 'epoch_{}.pth'"
        )
    return template


def _check_published_keys(keys: str | Sequence[str] | None) -> list[str] | None:
    if keys is None:
        return None
    names = [keys] if isinstance(keys, str) else list(keys)
    if not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
        raise ValueError(
            f"CheckpointHook published_keys must be distinct checkpoint keys such as "
            f"['meta', 'state_dict'], got {keys!r}"
        )
    return names
