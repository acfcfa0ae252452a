"""A runner's checkpoint: what it holds, how save, load and resume use it, where a run starts.

A checkpoint holds ``meta`` (epoch, iter, seed, names, versions, time), the
model's ``state_dict``, ``optimizer`` and ``param_schedulers`` states, the
``message_hub``, the RNG states (``rng_state``) and whatever hooks add in
``before_save_checkpoint``. The data position is ``meta['epoch']`` and
``meta['iter']``: with the seed, they fix which batches come next.
"""

from __future__ import annotations

import contextlib
import os
import os.path as osp
import time

from ..__about__ import __version__
from ..checkpoint._io import (
    find_latest_checkpoint,
    get_rng_state,
    load_checkpoint_file,
    load_state_dict,
    save_checkpoint,
    set_rng_state,
    update_last_checkpoint,
    weights_to_cpu,
)
from ..model._wrapper import unwrap_model

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
    to the first load of that file instead of reading it twice.

    Args:
        work_dir: Where `resume` without `load_from` looks for ``last_checkpoint``.
        load_from: A checkpoint to load weights from (or to resume, with `resume`).
        resume: Resume training rather than only loading weights.
    """

    def __init__(self, work_dir: str, load_from: str | None, resume: bool) -> None:
        self.load_from = load_from
        self.resume = resume
        self.resume_from = (load_from or find_latest_checkpoint(work_dir)) if resume else None
        self._preloaded = (
            load_checkpoint_file(self.resume_from) if self.resume_from is not None else None
        )
        self.used = False

    @property
    def seed(self) -> int | None:
        """The seed of the checkpoint to resume, or None when not resuming from one."""
        return None if self._preloaded is None else self._preloaded["meta"]["seed"]

    def read(self, filename: str, map_location: Any, weights_only: bool) -> dict[str, Any]:
        """The checkpoint `filename`: the copy read at start-up the first time, else from disk."""
        preloaded = self._preloaded
        if preloaded is not None and filename == self.resume_from:
            self._preloaded = None
            return dict(preloaded)
        return load_checkpoint_file(filename, map_location=map_location, weights_only=weights_only)


def collect(
    runner: Any,
    save_optimizer: bool,
    save_param_scheduler: bool,
    meta: Mapping[str, Any] | None,
    by_epoch: bool,
) -> dict[str, Any]:
    """Gather the runner's state into a checkpoint dict and let hooks add theirs (every rank)."""
    checkpoint: dict[str, Any] = {
        "meta": {**_default_meta(runner, by_epoch), **(meta or {})},
        "state_dict": weights_to_cpu(unwrap_model(runner.model).state_dict()),
        "message_hub": runner.message_hub.state_dict(),
        "rng_state": get_rng_state(),
    }
    if save_optimizer and hasattr(runner.optim_wrapper, "state_dict"):
        checkpoint["optimizer"] = runner.optim_wrapper.state_dict()
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
) -> str:
    """Collect the checkpoint, write it on rank 0 and point ``last_checkpoint`` at it."""
    path = osp.join(out_dir, filename)
    checkpoint = collect(runner, save_optimizer, save_param_scheduler, meta, by_epoch)
    if runner.rank == 0:
        save_checkpoint(checkpoint, path)
        update_last_checkpoint(runner.work_dir, path)
    return path


def load(
    runner: Any,
    filename: str,
    map_location: Any,
    strict: bool,
    revise_keys: Sequence[tuple[str, str]],
    weights_only: bool = True,
) -> dict[str, Any]:
    """Read a checkpoint, let hooks see it, then load its weights into the model."""
    checkpoint: dict[str, Any] = runner._start.read(filename, map_location, weights_only)
    runner.call_hook("after_load_checkpoint", checkpoint=checkpoint)
    missing, unexpected = load_state_dict(
        unwrap_model(runner.model), checkpoint["state_dict"], strict, revise_keys=tuple(revise_keys)
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
    checkpoint = load(runner, filename, map_location, False, ((r"^module\.", ""),))
    meta = checkpoint["meta"]
    runner.train_loop.load_position(meta["epoch"], meta["iter"])
    runner.message_hub.load_state_dict(checkpoint["message_hub"])
    if resume_optimizer and "optimizer" in checkpoint:
        runner.optim_wrapper.load_state_dict(checkpoint["optimizer"])
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
