"""A runner's checkpoint: what it holds, how save, load and resume use it, where a run starts.

A checkpoint holds ``meta`` (epoch, iter, seed, names, versions, time), the
model's ``state_dict``, ``optimizer`` and ``param_schedulers`` states, the
``message_hub``, the RNG states (``rng_state``) and whatever hooks add in
``before_save_checkpoint``. The data position is ``meta['epoch']`` and
``meta['iter']``: with the seed, they fix which batches come next.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import os.path as osp
import pickle
import time

from ..__about__ import __version__
from ..checkpoint import _distributed, _storage
from ..checkpoint._io import (
    LAST_CHECKPOINT,
    CheckpointError,
    _peek_meta,
    checkpoint_exists,
    load_checkpoint_file,
    read_last_checkpoint,
    save_checkpoint,
    update_last_checkpoint,
)
from ..checkpoint._rng import get_rng_state, set_rng_state
from ._data_position import data_state, load_data_state
from ._elastic import picked_by_rank_zero

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["StartingPoint", "collect", "save", "load", "resume"]

_SATELLITES = ("hooks-optim", "hooks-logging", "hooks-eval")


class StartingPoint:
    """Where a run starts from: the checkpoint it resumes, or the weights it loads, used once.

    A checkpoint to resume is read at once, when the runner is made, because its
    seed decides the model's initialisation and the data order; the copy is handed
    to the first load of that file instead of reading it twice. When the checkpoint
    ``last_checkpoint`` names is damaged or missing, or the pointer is empty, the
    newest intact one in its folder or `work_dir` is resumed instead, with a
    warning that says why and names each file skipped.

    Args:
        work_dir: Where `resume` without `load_from` looks for ``last_checkpoint``:
            the runner's `checkpoint_dir`, a folder or a URL.
        load_from: A checkpoint to load weights from (or to resume, with `resume`),
            a file or a URL; resuming it has no fallback: a damaged file is an error.
        resume: Resume training rather than only loading weights.
        logger: Where the fallback's warning goes: the runner's, so it reaches the log file.
    """

    def __init__(self, work_dir: str, load_from: str | None, resume: bool, logger: Any) -> None:
        self.load_from = load_from
        self.resume = resume
        self.resume_from: str | None = None
        self._preloaded: dict[str, Any] | None = None
        if resume and load_from is not None:
            self.resume_from, self._preloaded = load_from, _distributed.read_checkpoint(load_from)
        elif resume:  # rank 0 chooses, so every rank resumes the same file
            self.resume_from, self._preloaded = picked_by_rank_zero(
                lambda: _resumable(work_dir, logger), _distributed.read_checkpoint
            )
        self.used = False
        # The checkpoint's meta outlives `_preloaded`, which the load hands over.
        self.resume_meta: dict[str, Any] | None = (
            None if self._preloaded is None else self._preloaded.get("meta")
        )

    @property
    def seed(self) -> int | None:
        """The seed of the checkpoint to resume, or None when not resuming from one."""
        return None if self.resume_meta is None else self.resume_meta["seed"]

    def read(self, filename: str, map_location: Any, weights_only: bool) -> dict[str, Any]:
        """The checkpoint `filename`: the copy read at start-up the first time, else from disk."""
        preloaded = self._preloaded
        if preloaded is not None and filename == self.resume_from:
            self._preloaded = None
            return dict(preloaded)
        return load_checkpoint_file(filename, map_location=map_location, weights_only=weights_only)


def _resumable(work_dir: str, logger: Any) -> tuple[str | None, dict[str, Any] | None]:
    """The checkpoint to resume in `work_dir` and its contents; Nones when there is none.

    Without ``last_checkpoint`` the run is a fresh one. A pointer that is empty
    or names a missing file (a crash, or a file removed by hand) resumes the
    newest intact checkpoint instead, as a damaged one does.
    """
    named = read_last_checkpoint(work_dir)
    if named is None:
        return None, None
    pointer = osp.join(work_dir, LAST_CHECKPOINT)
    if not named:
        return _newest_other(None, work_dir, logger, f"{pointer} is empty", [])
    if not checkpoint_exists(named):
        reason = f"{pointer} names {named}, which does not exist"
        return _newest_other(named, work_dir, logger, reason, [])
    try:
        return named, _distributed.read_checkpoint(named)
    except CheckpointError as err:
        reason = f"{pointer} names a damaged checkpoint"
        return _newest_other(named, work_dir, logger, reason, [err.problem])


def _newest_other(
    latest: str | None, work_dir: str, logger: Any, reason: str, skipped: list[str]
) -> tuple[str, dict[str, Any]]:
    """The newest intact checkpoint beside `latest` (if given) or in `work_dir`, and its contents.

    `reason` says why `latest` is not resumed, `skipped` what was wrong with it.
    Raises `CheckpointError` listing every file tried when none is intact.
    """
    candidates, unusable = _fallback_candidates(latest, work_dir)
    skipped = skipped + unusable
    for path in candidates:
        try:
            checkpoint = load_checkpoint_file(path)
        except (CheckpointError, pickle.UnpicklingError) as err:
            skipped.append(_problem(err))
            continue
        meta = checkpoint["meta"]
        message = (
            f"resuming from {path} (epoch {meta['epoch']}, iter {meta['iter']}), the newest "
            f"intact checkpoint, because {reason}."
        )
        logger.warning(message + (" Skipped: " + "; ".join(skipped) if skipped else ""))
        return path, checkpoint
    raise CheckpointError(
        f"cannot resume in {work_dir}: {reason}, and no other one there is intact. Tried: "
        + ("; ".join(skipped) or "no other checkpoint file is there"),
        latest,
        fix="Restore a checkpoint from a copy and pass it as load_from, or start afresh with "
        "resume=False",
    )


def _fallback_candidates(latest: str | None, work_dir: str) -> tuple[list[str], list[str]]:
    """Checkpoints other than `latest`, newest first, and why the other files were unusable.

    The candidates are the ``*.pth`` files in the folder of `latest` (if given)
    and in `work_dir` (a symlink such as ``latest.pth`` only once, under its
    target) that hold a training ``meta``; they are ordered by its iteration,
    then by time. Either folder may be a URL, whose ``*.pth`` objects are read whole.
    """
    seen: set[str] = set()
    if latest is not None:
        seen.add(latest if _storage.is_url(latest) else osp.realpath(latest))
    found: list[tuple[int, float, str]] = []
    unusable: list[str] = []
    folders = (work_dir,) if latest is None else (osp.dirname(latest), work_dir)
    for folder in dict.fromkeys(folders):
        for real, modified in _checkpoint_files(folder):
            if real in seen:
                continue
            seen.add(real)
            try:
                meta = _peek_meta(real)
            except (CheckpointError, pickle.UnpicklingError) as err:
                unusable.append(_problem(err))
                continue
            if not isinstance(meta, dict) or not {"epoch", "iter", "seed"} <= meta.keys():
                unusable.append(f"{real} is no training checkpoint (no epoch, iter and seed)")
                continue
            found.append((int(meta["iter"]), modified, real))
    found.sort(reverse=True)
    return [path for _, _, path in found], unusable


def _checkpoint_files(folder: str) -> list[tuple[str, float]]:
    """The ``*.pth`` files in `folder` (resolved, symlinks once) or objects at its URL, timed."""
    if _storage.is_url(folder):
        return _storage.checkpoints_in(folder)
    files = []
    for path in sorted(glob.glob(osp.join(glob.escape(folder), "*.pth"))):
        real = osp.realpath(path)
        if osp.isfile(real):
            files.append((real, osp.getmtime(real)))
    return files


def _problem(err: Exception) -> str:
    """What is wrong with a file, without the advice a `CheckpointError` adds."""
    return err.problem if isinstance(err, CheckpointError) else str(err)


def collect(
    runner: Any,
    save_optimizer: bool,
    save_param_scheduler: bool,
    meta: Mapping[str, Any] | None,
    by_epoch: bool,
    sharded: bool = False,
) -> dict[str, Any]:
    """Gather the runner's state into a checkpoint dict and let hooks add theirs (every rank).

    `sharded`: the model and optimizer states hold this rank's shards, for a
    sharded checkpoint (see `hooks_core.checkpoint._distributed`).
    """
    strategy = runner.strategy
    model_state, optim_state = (
        (_distributed.sharded_model_state, _distributed.sharded_optim_state)
        if sharded
        else (strategy.model_state_dict, strategy.optim_state_dict)
    )
    checkpoint: dict[str, Any] = {
        "meta": {**_default_meta(runner, by_epoch), **(meta or {})},
        "state_dict": model_state(runner.model),
        "message_hub": runner.message_hub.state_dict(),
        "rng_state": get_rng_state(),
        "dataloader": data_state(runner),  # where the data stands in its pass
    }
    if save_optimizer and hasattr(runner.optim_wrapper, "state_dict"):
        checkpoint["optimizer"] = optim_state(runner.model, runner.optim_wrapper)
    if save_param_scheduler and runner.param_schedulers is not None:
        checkpoint["param_schedulers"] = _map_schedulers(
            runner.param_schedulers, lambda s: s.state_dict()
        )
    runner.call_hook("before_save_checkpoint", checkpoint=checkpoint)
    return checkpoint


def save(
    runner: Any,
    out_dir: str | os.PathLike[str],
    filename: str,
    save_optimizer: bool,
    save_param_scheduler: bool,
    meta: Mapping[str, Any] | None,
    by_epoch: bool,
    backend_args: Mapping[str, Any] | None = None,
    save_format: str | None = None,
) -> str:
    """Collect the checkpoint, write it on rank 0 and point ``last_checkpoint`` at it.

    `out_dir` and the runner's `checkpoint_dir` (where the pointer goes) may be
    URLs; `backend_args` are their storage options. `save_format` ``'dcp'``
    writes a sharded folder from every rank instead (None: the strategy's
    default, see `_distributed.resolve_format`).
    """
    path = osp.join(out_dir, filename)
    if _distributed.resolve_format(save_format, runner.strategy) == "dcp":
        return _save_sharded(runner, path, save_optimizer, save_param_scheduler, meta, by_epoch)
    checkpoint = collect(runner, save_optimizer, save_param_scheduler, meta, by_epoch)
    if runner.rank == 0:
        try:
            # the pointer's update persists both renames: see update_last_checkpoint
            save_checkpoint(checkpoint, path, backend_args=backend_args, sync_folder=False)
            update_last_checkpoint(runner.checkpoint_dir, path, backend_args)
        except OSError as err:
            runner.logger.error("saving a checkpoint failed: %s", err)
            raise
    return path


def _save_sharded(
    runner: Any,
    path: str,
    save_optimizer: bool,
    save_param_scheduler: bool,
    meta: Mapping[str, Any] | None,
    by_epoch: bool,
) -> str:
    """`save` for a sharded folder: every rank writes its shards, then rank 0 points at it."""
    folder = _distributed.sharded_path(path)
    checkpoint = collect(runner, save_optimizer, save_param_scheduler, meta, by_epoch, True)
    _distributed.save_sharded(checkpoint, folder)()
    if runner.rank == 0:
        update_last_checkpoint(runner.checkpoint_dir, folder)
    return folder


def load(
    runner: Any,
    filename: str,
    map_location: Any,
    strict: bool,
    revise_keys: Sequence[tuple[str, str]],
    weights_only: bool = True,
    resuming: bool = False,
) -> dict[str, Any]:
    """Read a checkpoint, let hooks see it, then load its weights into the model.

    When `resuming`, weights of another shape are an error (the same model goes
    on); otherwise they are skipped with a warning in the log, unless `strict`.
    A sharded folder is loaded by every rank, resharded as needed (with the
    optimizer's shards when `resuming`); hooks then see it after the load.
    """
    if _distributed.is_sharded_checkpoint(filename):
        wrapper = runner.optim_wrapper if resuming else None
        sharded = _distributed.load_sharded(runner.model, filename, wrapper, strict)
        runner.call_hook("after_load_checkpoint", checkpoint=sharded)
        runner.logger.info("Loaded sharded checkpoint %s", filename)
        return sharded
    checkpoint: dict[str, Any] = runner._start.read(filename, map_location, weights_only)
    runner.call_hook("after_load_checkpoint", checkpoint=checkpoint)
    missing, unexpected = runner.strategy.load_model_state_dict(
        runner.model,
        checkpoint["state_dict"],
        strict=strict,
        revise_keys=revise_keys,
        logger=runner.logger,
        resuming_from=filename if resuming else None,
    )
    if missing or unexpected:
        runner.logger.warning(
            "loaded %s with missing keys %s and unexpected keys %s", filename, missing, unexpected
        )
    runner.logger.info("Loaded checkpoint %s", filename)
    return checkpoint


def resume(
    runner: Any,
    filename: str,
    resume_optimizer: bool,
    resume_param_scheduler: bool,
    map_location: Any,
) -> None:
    """Restore everything training needs to continue exactly where the checkpoint was taken."""
    checkpoint = load(runner, filename, map_location, False, ((r"^module\.", ""),), resuming=True)
    meta = checkpoint["meta"]
    runner.train_loop.load_position(meta["epoch"], meta["iter"])
    load_data_state(runner.train_loop, checkpoint)  # the epoch's data order: see _data_position
    runner.message_hub.load_state_dict(checkpoint["message_hub"])
    if resume_optimizer and "optimizer" in checkpoint:
        load_optim = (
            _distributed.load_sharded_optim
            if _distributed.is_sharded_checkpoint(filename)
            else runner.strategy.load_optim_state_dict
        )
        load_optim(runner.model, runner.optim_wrapper, checkpoint["optimizer"])
    elif resume_optimizer and _distributed.WHOLE_OPTIMIZER in checkpoint:  # a converted .pth
        whole = checkpoint[_distributed.WHOLE_OPTIMIZER]
        runner.strategy.load_optim_state_dict(runner.model, runner.optim_wrapper, whole)
    if resume_param_scheduler and "param_schedulers" in checkpoint:
        _load_schedulers(runner.param_schedulers, checkpoint["param_schedulers"])
    if "rng_state" in checkpoint:
        set_rng_state(checkpoint["rng_state"])
    runner.logger.info("resumed epoch: %s, iter: %s", meta["epoch"], meta["iter"])


def _default_meta(runner: Any, by_epoch: bool) -> dict[str, Any]:
    """Counters as MMEngine records them: a per-epoch save counts the finished epoch."""
    epoch, iteration = (
        (runner.epoch + 1, runner.iter) if by_epoch else (runner.epoch, runner.iter + 1)
    )
    return {
        "epoch": epoch,
        "iter": iteration,
        "seed": runner.seed,
        "experiment_name": runner.experiment_name,
        "time": time.strftime("%Y%m%d_%H%M%S", time.localtime()),
        "versions": _versions(),
        "cfg": runner.cfg.pretty_text if runner.cfg else None,  # MMEngine's: the config's text
    }


def _versions() -> dict[str, str]:
    """The versions saved in each checkpoint's meta, looked up once per process."""
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import torch

    versions = {"hooks-core": __version__, "torch": str(torch.__version__)}
    versions["python"] = platform.python_version()
    for name in _SATELLITES:
        with contextlib.suppress(PackageNotFoundError):
            versions[name] = version(name)
    return versions


def _map_schedulers(schedulers: Any, fn: Any) -> Any:
    if isinstance(schedulers, dict):
        return {name: [fn(s) for s in group] for name, group in schedulers.items()}
    return [fn(s) for s in schedulers]


def _load_schedulers(schedulers: Any, states: Any) -> None:
    if isinstance(schedulers, dict):
        for name, group in schedulers.items():
            for scheduler, state in zip(group, states[name], strict=True):
                scheduler.load_state_dict(state)
        return
    for scheduler, state in zip(schedulers, states, strict=True):
        scheduler.load_state_dict(state)
