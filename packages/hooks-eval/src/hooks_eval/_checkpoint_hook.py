"""`CheckpointHook`: MMEngine's periodic, last, kept-N and best checkpoints, optionally async.

Inside a runner's training loop, a step's regular checkpoint is written once
that step's validation (if any) is over, so it records what the validation
changed: the best score and file, early-stopping counters, validation scalars.
A run resumed from it continues exactly, and MMEngine's re-save after a new
best (mmengine#1166) is not needed. Called directly, as MMEngine's tests call
it, the hook saves at once, exactly as MMEngine's does.
"""

from __future__ import annotations

import os
import os.path as osp

from hooks_core import HOOKS, Hook
from hooks_core.checkpoint import (
    check_storage_args,
    is_url,
    point_latest,
    remove_checkpoint,
    resolve_format,
    sharded_path,
    update_last_checkpoint,
)
from hooks_core.dist import all_reduce_mean, is_distributed

from ._best import BestCheckpoints, best_keys
from ._bookkeeping import out_dir_of, record_in_checkpoint, remove_file
from ._publish import publish_checkpoint
from ._rules import GREATER_KEYS, LESS_KEYS, key_names, str_names
from ._writer import CheckpointWriter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, ClassVar

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
    What ``before_train`` prepares (the output folder, the resumed state) is
    prepared on first use when a method is called directly.

    Args:
        interval: Save every this many epochs (`by_epoch`) or iterations; -1 or
            0 (MMEngine's "never") saves only the last one (with `save_last`).
        by_epoch: Count in epochs, else in iterations.
        save_optimizer: Put the optimizer's state in regular checkpoints.
        save_param_scheduler: Put the schedulers' states in regular checkpoints.
        out_dir: Save to ``out_dir/<work dir name>`` instead of the work dir: a
            folder, or a URL (``s3://bucket/checkpoints``, ``memory://...``)
            written through fsspec; ``last_checkpoint`` stays in the work dir.
        max_keep_ckpts: Keep only this many latest regular checkpoints; -1 or 0
            keeps all. Checkpoints the runner saved on SIGTERM
            (``interrupted_iter_N.pth``) go too, once a checkpoint written after
            the resume makes every kept one newer than them.
        save_last: Also save after the last epoch (or iteration).
        save_best: A metric name, a list of them, or ``'auto'`` (the first
            metric): after each validation, keep the checkpoint with the best
            score as ``best_{key}_{filename}`` (every ``/`` becomes ``_``),
            replacing the previous best. It holds the model and ``meta`` but no
            optimizer or scheduler state. A key the first validation does not
            produce is an error (`KeyError`) listing the metrics it produced.
        rule: ``'greater'`` or ``'less'``, one for all keys or one per key;
            None infers it from the key's name (see `greater_keys`), at the
            first validation if the name says nothing (`ValueError` there when
            the metric exists but its name still says nothing).
        greater_keys: Names better greater, matched exactly then as parts of
            the key, ignoring case; MMEngine's ``_default_greater_keys``
            (``'acc', 'top', 'AR@', 'auc', 'precision', 'mAP', 'mDice', 'mIoU',
            'mAcc', 'aAcc'``) by default.
        less_keys: Names better less; ``['loss']`` by default.
        file_client_args: MMEngine's older name of `backend_args`.
        filename_tmpl: The regular checkpoint's name, formatted with the epoch
            (or iteration) number; ``'epoch_{}.pth'`` or ``'iter_{}.pth'`` by default.
        backend_args: MMEngine's storage options. For a URL (`out_dir`, or a
            URL work_dir) they are fsspec's storage options, with an optional
            ``backend`` (``'fsspec'`` or the protocol), e.g. ``dict(backend='s3',
            endpoint_url=..., key=..., secret=...)``, used to write, point at,
            copy and remove checkpoints there; for a local folder only
            ``dict(backend='local')`` is accepted, and changes nothing.
        published_keys: After training, write copies of the last (with
            `save_last`) and best checkpoints holding only these keys, named
            ``{stem}-{sha256[:8]}.pth``, e.g. ``['meta', 'state_dict']``.
        save_begin: Start counting the interval at this epoch (or iteration):
            ``interval=2, save_begin=5`` saves epochs 5, 7, 9, ...
        sync_buffer: MMCV's option: in a distributed run, average the model's
            buffers (BatchNorm statistics...) over ranks before each save.
        async_save: Copy the state to CPU memory on the training thread and write
            it on a background thread. One write at most is in flight; an error
            is raised at the next save or at the end of training, and the run
            waits for the last write before it ends.
        save_format: ``'dcp'``: each regular checkpoint is a sharded folder
            (``iter_8.dcp``) every rank writes with ``torch.distributed.checkpoint``
            (with `async_save`, ``dcp.async_save``); ``'pth'``: one file rank 0
            writes; None: the runner's strategy decides (``FSDPStrategy(
            state_dict_cfg='sharded')`` is ``'dcp'``).
        create_symlink: MMCV's option: point ``latest.pth`` (a symlink, or a
            copy where links fail) at each new regular checkpoint. None does it
            on MMCV's runners (`EpochBasedRunner`, `IterBasedRunner`), as MMCV does.

    On MMCV's runners, whose ``meta`` MMCV hooks share, each regular save also
    sets ``runner.meta['hook_msgs']['last_ckpt']`` (when ``meta`` is a dict),
    once the file is written, as MMCV's hook does.

    Raises:
        TypeError: a count that is not an int; a `save_best`, `rule`,
            `greater_keys`, `less_keys` or `published_keys` of the wrong type.
        ValueError: an `interval` or `max_keep_ckpts` below -1, a negative
            `save_begin`, a `filename_tmpl` without a number,
            repeated `published_keys`, storage options that do not fit `out_dir`
            (see `check_storage_args`), both `file_client_args` and
            `backend_args`, or a bad `save_best`/`rule` (see `BestCheckpoints`).

    Example:
        >>> default_hooks = dict(checkpoint=dict(
        ...     type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'))
    """

    priority = "VERY_LOW"

    # MMEngine's names: a downstream library overrides them to infer other rules.
    _default_greater_keys: ClassVar[Sequence[str]] = list(GREATER_KEYS)
    _default_less_keys: ClassVar[Sequence[str]] = list(LESS_KEYS)

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
        file_client_args: Mapping[str, Any] | None = None,
        filename_tmpl: str | None = None,
        backend_args: Mapping[str, Any] | None = None,
        published_keys: str | Sequence[str] | None = None,
        save_begin: int = 0,
        *,
        sync_buffer: bool = False,
        async_save: bool = False,
        create_symlink: bool | None = None,
        save_format: str | None = None,
    ) -> None:
        owner = "CheckpointHook"
        for name, value in (("interval", interval), ("max_keep_ckpts", max_keep_ckpts),
                            ("save_begin", save_begin)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"CheckpointHook {name} must be an int, got {value!r}")
        if save_begin < 0:
            raise ValueError(f"CheckpointHook save_begin must be >= 0, got {save_begin}")
        _check_counts(interval, max_keep_ckpts, "epochs" if by_epoch else "iterations")
        storage = check_storage_args(out_dir, file_client_args, backend_args, owner)
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.save_param_scheduler = save_param_scheduler
        self.out_dir: str | os.PathLike[str] | None = out_dir  # the folder, from before_train on
        self._out_dir_option = out_dir
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.file_client_args = file_client_args
        self.backend_args = backend_args
        self.filename_tmpl = _check_template(
            filename_tmpl or ("epoch_{}.pth" if by_epoch else "iter_{}.pth")
        )
        self.greater_keys = key_names(
            greater_keys, self._default_greater_keys, "greater_keys", owner
        )
        self.less_keys = key_names(less_keys, self._default_less_keys, "less_keys", owner)
        self.save_best = best_keys(save_best, owner)
        self.best = (
            BestCheckpoints(self.save_best, rule, self.greater_keys, self.less_keys, owner)
            if self.save_best
            else None
        )
        self.published_keys = _check_published_keys(published_keys)
        self.save_begin = save_begin
        self.sync_buffer = sync_buffer
        self.create_symlink = create_symlink
        self.save_format = save_format
        resolve_format(save_format, None)  # checked now; the strategy's default once started
        self._sharded = save_format == "dcp"
        self.last_ckpt: str | None = None
        self.writer = CheckpointWriter(async_save, storage)
        self._pending: tuple[int, dict[str, int]] | None = None  # a save waiting for validation
        self._training: bool | None = None  # None: called directly; False: a run not training
        self._in_loop = False  # a train loop drives the hook, so a validation may follow a save
        self._started = False

    # ------------------------------------------------------------ MMEngine's attributes
    @property
    def key_indicators(self) -> list[str]:
        """The `save_best` keys (``'auto'`` until the first metrics name it)."""
        return self._best("key_indicators").key_indicators

    @property
    def rules(self) -> list[str | None]:
        """The rule of each of `key_indicators`."""
        return self._best("rules").rules

    @property
    def best_ckpt_path(self) -> str | None:
        """The best checkpoint so far, with one `save_best` key."""
        best = self._best("best_ckpt_path")
        if len(best.key_indicators) != 1:
            raise AttributeError(
                "CheckpointHook has best_ckpt_path_dict, not best_ckpt_path, with several "
                "save_best keys"
            )
        return next(iter(best.paths.values()))

    @property
    def best_ckpt_path_dict(self) -> dict[str, str | None]:
        """The best checkpoint so far of each key, with several `save_best` keys."""
        best = self._best("best_ckpt_path_dict")
        if len(best.key_indicators) == 1:
            raise AttributeError(
                "CheckpointHook has best_ckpt_path, not best_ckpt_path_dict, with one save_best key"
            )
        return best.paths

    def _best(self, attribute: str) -> BestCheckpoints:
        if self.best is None:
            raise AttributeError(f"CheckpointHook has no {attribute}: save_best is not set")
        return self.best

    # ------------------------------------------------------------ training
    def before_run(self, runner: Any) -> None:
        """A run starts: validations count for the best checkpoint only once training begins."""
        self._training = False

    def before_train(self, runner: Any) -> None:
        """Resolve the output folder and take the kept list and best files from the hub."""
        self._training = True
        self._in_loop = False
        self._start(runner)

    def _start(self, runner: Any) -> None:
        """What saving needs from the runner; a smaller `max_keep_ckpts` prunes a resumed list."""
        self._started = True
        self.out_dir = out_dir_of(runner, self._out_dir_option)
        self._sharded = resolve_format(self.save_format, getattr(runner, "strategy", None)) == "dcp"
        if self._out_dir_option is None:  # the options are checked now that the folder is known
            check_storage_args(self.out_dir, None, self.writer.backend_args, "CheckpointHook")
        runner.logger.info("Checkpoints will be saved to %s.", self.out_dir)
        hub = runner.message_hub
        self.last_ckpt = hub.get_info("last_ckpt")
        if self.best is not None:
            self.best.restore(hub)
        if self.max_keep_ckpts > 0:
            kept = list(hub.get_info("keep_ckpt_ids", []))
            for step in kept[: -self.max_keep_ckpts]:
                if runner.rank == 0:
                    remove_checkpoint(self._path(step), self.writer.backend_args)
            hub.update_info("keep_ckpt_ids", kept[-self.max_keep_ckpts :])

    def before_train_epoch(self, runner: Any) -> None:
        """Write the previous epoch's checkpoint if no validation followed it."""
        self._in_loop = True
        self._flush(runner)

    def idle_points(self, runner: Any) -> tuple[str, ...]:
        """The iteration points, when saving by epoch: a save waits at most for the next epoch."""
        return ("before_train_iter", "after_train_iter") if self.by_epoch else ()

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        """Write the previous iteration's checkpoint if no validation followed it."""
        self._in_loop = True
        if self._pending is not None:
            self._flush(runner)

    def after_train_epoch(self, runner: Any) -> None:
        """Save every `interval` epochs from `save_begin`, and the last one."""
        if self.by_epoch and (
            self.every_n_epochs(runner, self.interval, self.save_begin)
            or (self.save_last and self.is_last_train_epoch(runner))
        ):
            runner.logger.info("Saving checkpoint at %d epochs", runner.epoch + 1)
            self._due(runner, runner.epoch + 1, {"epoch": runner.epoch + 1, "iter": runner.iter})

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Save every `interval` iterations from `save_begin`, and the last one."""
        if not self.by_epoch and (
            self.every_n_train_iters(runner, self.interval, self.save_begin)
            or (self.save_last and self.is_last_train_iter(runner))
        ):
            runner.logger.info("Saving checkpoint at %d iterations", runner.iter + 1)
            self._due(runner, runner.iter + 1, {"epoch": runner.epoch, "iter": runner.iter + 1})

    def _due(self, runner: Any, step: int, meta: dict[str, int]) -> None:
        """Save now, or, in a loop that may validate next, once that validation is over."""
        if not self._started:
            self._start(runner)
        if self._in_loop and getattr(runner, "val_loop", None) is not None:
            self._pending = (step, meta)
        else:
            self._save(runner, step, meta)

    def after_train(self, runner: Any) -> None:
        """Write what is pending, wait for the last write, and publish the final checkpoints."""
        self._flush(runner)
        self.writer.wait()
        self._training = False
        self._in_loop = False
        if self.published_keys is not None and runner.rank == 0:
            self._publish(runner)

    def after_run(self, runner: Any) -> None:
        """Wait for the last write; a save still pending (training was interrupted) is dropped."""
        self._pending = None
        self.writer.close()

    # ------------------------------------------------------------ validation
    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Keep the best checkpoint of each `save_best` metric (not in runs that only validate)."""
        if self.best is None or self._training is False:
            return
        if not metrics:
            runner.logger.warning(
                "CheckpointHook: the validation gave no metrics, so no best checkpoint is "
                "saved for it"
            )
            return
        if not self._started:
            self._start(runner)
        self.writer.wait()  # the scores to beat are those of completed writes
        step = runner.epoch if self.by_epoch else runner.iter
        assert isinstance(self.out_dir, str)  # set by _start
        self.best.update(
            runner,
            metrics,
            self.out_dir,
            self.filename_tmpl.format(step),
            f"{step} {'epoch' if self.by_epoch else 'iter'}",
            {"epoch": runner.epoch, "iter": runner.iter},
            self.writer,
            self._collect,
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
        assert isinstance(self.out_dir, str)  # set by _start
        path = osp.join(self.out_dir, self.filename_tmpl.format(step))
        return sharded_path(path) if self._sharded else path

    def _flush(self, runner: Any) -> None:
        if self._pending is None:
            return
        step, meta = self._pending
        self._pending = None
        self._save(runner, step, meta)

    def _collect(
        self,
        runner: Any,
        save_optimizer: bool,
        save_param_scheduler: bool,
        meta: dict[str, Any],
        by_epoch: bool,
    ) -> dict[str, Any]:
        """The checkpoint dict, after averaging the buffers over ranks with `sync_buffer`."""
        if self.sync_buffer and is_distributed():
            all_reduce_mean(runner.model.buffers())
        sharded = {"sharded": True} if self._sharded else {}  # MMCV's runners lack the option
        checkpoint: dict[str, Any] = runner.collect_checkpoint(
            save_optimizer, save_param_scheduler, meta=meta, by_epoch=by_epoch, **sharded
        )
        return checkpoint

    def _save(self, runner: Any, step: int, meta: dict[str, int]) -> None:
        """Write the regular checkpoint of `step`, then point at it and drop the oldest kept."""
        self.writer.wait()
        hub = runner.message_hub
        path = self._path(step)
        info: dict[str, Any] = {"last_ckpt": path}
        dropped: list[int] = []
        superseded: list[str] = []
        if self.max_keep_ckpts > 0:
            kept = [s for s in hub.get_info("keep_ckpt_ids", []) if s != step] + [step]
            dropped, info["keep_ckpt_ids"] = (
                kept[: -self.max_keep_ckpts],
                kept[-self.max_keep_ckpts :],
            )
            superseded = self._superseded(hub, info["keep_ckpt_ids"], info)
        checkpoint = self._collect(
            runner, self.save_optimizer, self.save_param_scheduler, meta, self.by_epoch
        )
        record_in_checkpoint(checkpoint, info)
        work_dir = getattr(runner, "checkpoint_dir", runner.work_dir)  # where the pointer goes
        storage = self.writer.backend_args
        mmcv_runner = getattr(runner, "log_buffer", None) is not None  # MMCV's runners have one
        symlink = mmcv_runner if self.create_symlink is None else self.create_symlink

        def point_and_prune() -> None:
            update_last_checkpoint(work_dir, path, storage)
            if symlink:
                point_latest(path, storage)
            for old in dropped:
                remove_checkpoint(self._path(old), storage)
            for old_path in superseded:
                if remove_file(old_path, storage):
                    runner.logger.info("Removed %s: newer checkpoints replace it", old_path)

        def commit() -> None:
            hub.update_info_dict(info)
            self.last_ckpt = path
            if mmcv_runner and isinstance(runner.meta, dict):
                runner.meta.setdefault("hook_msgs", {})["last_ckpt"] = path

        # point_and_prune's update_last_checkpoint persists the file's rename too
        self.writer.write(
            checkpoint, path, point_and_prune, commit, self._sharded, sync_folder=False
        )

    def _superseded(self, hub: Any, kept: list[int], info: dict[str, Any]) -> list[str]:
        """The interrupted checkpoints every `kept` one is newer than; `info` lists the others.

        The runner lists each ``interrupted_iter_N.pth`` it saves on SIGTERM in
        the hub's ``interrupted_ckpts`` (path, epoch, iter) before writing it,
        so the list travels in the checkpoints of the run that resumed from it,
        and only files of this run's own history are ever removed. A scan of
        the folder could not tell which epoch a file was saved in, nor whether
        it belongs to this run. A regular checkpoint of step ``s`` is newer
        than one interrupted at ``p`` epochs (or iterations) done when ``s > p``.
        They are removed only after the new checkpoint is written and pointed at.
        """
        interrupted = hub.get_info("interrupted_ckpts")
        if not interrupted:
            return []
        unit, oldest = ("epoch" if self.by_epoch else "iter"), min(kept)
        info["interrupted_ckpts"] = [item for item in interrupted if item[unit] >= oldest]
        return [item["path"] for item in interrupted if item[unit] < oldest]

    def _publish(self, runner: Any) -> None:
        assert self.published_keys is not None
        targets = [self.last_ckpt] if self.save_last else []
        targets += self.best.paths.values() if self.best is not None else []
        present = (p for p in targets if p is not None and (is_url(p) or osp.isfile(p)))
        for path in dict.fromkeys(present):  # a URL is not looked up: this hook wrote it
            published, removed = publish_checkpoint(
                path, self.published_keys, self.writer.backend_args
            )
            runner.logger.info(
                "The checkpoint %s is published to %s (without %s)", path, published, removed
            )

    def __repr__(self) -> str:
        return (
            f"CheckpointHook(interval={self.interval}, by_epoch={self.by_epoch}, "
            f"max_keep_ckpts={self.max_keep_ckpts}, save_last={self.save_last}, "
            f"save_best={self.save_best}, save_begin={self.save_begin}, "
            f"async_save={self.writer.async_save})"
        )


def _check_counts(interval: int, max_keep_ckpts: int, unit: str) -> None:
    """MMEngine reads -1 (and 0) as "never" and "keep all"; lower values are most likely typos."""
    if interval < -1:
        raise ValueError(
            f"CheckpointHook interval={interval} is not valid: give the number of {unit} "
            "between two saves (> 0), or -1 to save only the last checkpoint (save_last)"
        )
    if max_keep_ckpts < -1:
        raise ValueError(
            f"CheckpointHook max_keep_ckpts={max_keep_ckpts} is not valid: give how many of "
            "the latest checkpoints to keep (> 0), or -1 to keep all of them"
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
    names = str_names(keys)
    if names is None:
        raise TypeError(
            f"CheckpointHook published_keys must be a str or a list of str such as "
            f"['meta', 'state_dict'], got {keys!r}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"CheckpointHook published_keys lists a key twice: {list(names)}")
    return list(names)
