"""`Runner`: builds a training run from its parts and drives the loops and hooks.

The runner itself is thin. Each of train, val and test is a `Stage` that builds
its loop on first use; building objects from configs lives in `_builders`,
checkpoint contents and the starting point of a run in `_checkpointing`, file
mechanics in `hooks_core.checkpoint`, distributed set-up in `hooks_core.dist`,
runtime values in the `MessageHub`, and the order of hook points in the loops.
"""

from __future__ import annotations

import atexit
import os
import os.path as osp
import time

from .. import hooks
from ..config._config import copy_config
from ..dist._dist import broadcast_object, destroy_dist, get_dist_info, init_dist
from ..engine._hook_list import HookList
from ..model._wrapper import unwrap_model, wrap_model
from ..registry._first_party import pip_install
from ..registry._roots import LOG_PROCESSORS, MODELS
from ..runtime._logging import FILE_ONLY, get_runner_logger
from ..runtime._message_hub import MessageHub
from ..runtime._signals import StopRequested, TrainingInterrupted, stop_requests_on_sigterm
from . import _builders, _checkpointing
from ._default_hooks import merge_default_hooks
from ._randomness import set_random_seed
from ._stage import Stage

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from ..engine._hook import Hook
    from ..engine._priority import Priority

__all__ = ["Runner"]

assert hooks  # the built-in hooks register themselves on import

_ARGUMENTS = (
    "model", "work_dir", "train_dataloader", "val_dataloader", "test_dataloader", "train_cfg",
    "val_cfg", "test_cfg", "optim_wrapper", "param_scheduler", "val_evaluator", "test_evaluator",
    "default_hooks", "custom_hooks", "load_from", "resume", "launcher", "env_cfg", "randomness",
    "experiment_name", "log_level", "log_processor",
)  # fmt: skip


class _FromLoop:
    """A runner attribute read from one of its loops, e.g. ``runner.val_dataloader``.

    Reading it builds the loop; without that stage it is None.
    """

    def __init__(self, loop_property: str, attribute: str) -> None:
        self.loop_property = loop_property
        self.attribute = attribute

    def __get__(self, runner: Any, owner: type | None = None) -> Any:
        if runner is None:
            return self
        loop = getattr(runner, self.loop_property)
        return None if loop is None else getattr(loop, self.attribute)


class Runner:
    """Train, validate and test a model, calling hooks at every point of the loops.

    The arguments and their meaning are MMEngine's. Parts given as config dicts
    are built through the registries when first needed, so a runner made only
    for testing never builds an optimizer.

    Args:
        model: The model (an ``nn.Module`` with ``train_step``/``val_step``/
            ``test_step``, e.g. a `BaseModel`) or its config.
        work_dir: Where logs and checkpoints go.
        train_dataloader, val_dataloader, test_dataloader: Dataloaders or configs
            (``dict(dataset=..., batch_size=..., sampler=dict(type='DefaultSampler'))``).
        train_cfg: ``dict(by_epoch=True, max_epochs=N, val_interval=1)``,
            ``dict(by_epoch=False, max_iters=N, val_interval=M)`` or ``dict(type=...)``.
        val_cfg, test_cfg: ``dict()`` for the default loops, or ``dict(type=...)``.
        optim_wrapper: An optimizer wrapper or its config (needs hooks-optim).
        param_scheduler: Scheduler configs or objects (needs hooks-optim).
        val_evaluator, test_evaluator: Evaluators or metric configs (needs hooks-eval).
        default_hooks: Overrides of the default hooks by key; None removes one.
        custom_hooks: More hooks (objects or configs), NORMAL priority unless set.
        load_from: A checkpoint whose weights to load (or to resume from).
        resume: Resume training; with no `load_from`, from the latest checkpoint
            in `work_dir`.
        launcher: ``'none'`` or ``'pytorch'`` (started by ``torchrun``).
        env_cfg: ``dict(dist_cfg=dict(backend=...))``; the backend defaults to
            nccl with CUDA and gloo without.
        randomness: ``dict(seed=None, deterministic=False, diff_rank_seed=False)``.
        experiment_name: Name of the run; a timestamp is appended.
        cfg: The whole config, kept in checkpoints and the message hub.
        log_level: Level of the runner's logger.
        log_processor: The log processor or its config (needs hooks-logging),
            e.g. ``dict(window_size=20)``; built when the logger first asks.
    """

    def __init__(
        self,
        model: Any,
        work_dir: str | os.PathLike[str],
        train_dataloader: Any = None,
        val_dataloader: Any = None,
        test_dataloader: Any = None,
        train_cfg: Any = None,
        val_cfg: Any = None,
        test_cfg: Any = None,
        optim_wrapper: Any = None,
        param_scheduler: Any = None,
        val_evaluator: Any = None,
        test_evaluator: Any = None,
        default_hooks: Mapping[str, Any] | None = None,
        custom_hooks: Sequence[Any] | None = None,
        load_from: str | None = None,
        resume: bool = False,
        launcher: str = "none",
        env_cfg: Mapping[str, Any] | None = None,
        randomness: Mapping[str, Any] | None = None,
        experiment_name: str | None = None,
        cfg: Mapping[str, Any] | None = None,
        log_level: str | int = "INFO",
        log_processor: Any = None,
    ) -> None:
        _require_torch()
        _check_complete("train", train_dataloader, train_cfg, optim_wrapper, "optim_wrapper")
        _check_complete("val", val_dataloader, val_cfg, val_evaluator, "val_evaluator")
        _check_complete("test", test_dataloader, test_cfg, test_evaluator, "test_evaluator")
        if param_scheduler is not None and optim_wrapper is None:
            raise ValueError("param_scheduler needs an optim_wrapper to schedule")
        self.cfg = copy_config(cfg) if cfg is not None else None
        self.launcher = launcher
        if launcher != "none":
            dist_cfg = dict((env_cfg or {}).get("dist_cfg", {}))
            if init_dist(launcher, **dist_cfg):  # the group it created ends with the process
                atexit.register(destroy_dist)
        self.rank, self.world_size = get_dist_info()
        self.distributed = self.world_size > 1

        self.work_dir = osp.abspath(os.fspath(work_dir))
        os.makedirs(self.work_dir, exist_ok=True)
        self.timestamp: str = broadcast_object(
            _new_log_dir_name(self.work_dir) if self.rank == 0 else None
        )
        self.experiment_name = _unique_name(
            f"{experiment_name or _cfg_name(cfg) or 'run'}_{self.timestamp}"
        )
        self.log_dir = osp.join(self.work_dir, self.timestamp)
        log_file = osp.join(self.log_dir, f"{self.timestamp}.log")
        self.logger: logging.Logger = get_runner_logger(
            self.experiment_name, log_file, log_level, self.rank
        )
        self.message_hub = MessageHub.get_instance(self.experiment_name)
        self._log_processor_cfg = log_processor
        self._log_processor: Any = None

        self._start = _checkpointing.StartingPoint(self.work_dir, load_from, resume)
        self._randomness = dict(randomness or {})
        self.seed = self._set_randomness()

        self.model = wrap_model(
            MODELS.build(model) if isinstance(model, dict) else model,
            self.distributed,
            dict((self.cfg or {}).get("model_wrapper_cfg", {})),
        )
        self.optim_wrapper = optim_wrapper
        self.param_schedulers: Any = None
        self._param_scheduler_cfg = param_scheduler
        self._train = Stage("train", train_dataloader, train_cfg)
        self._val = Stage("val", val_dataloader, val_cfg, val_evaluator)
        self._test = Stage("test", test_dataloader, test_cfg, test_evaluator)

        self._hooks = HookList(self)
        self.register_default_hooks(default_hooks)
        self.register_custom_hooks(custom_hooks or ())
        self.logger.info(
            "Hooks will be executed in the following order:\n%s",
            self.get_hooks_info(),
            extra=FILE_ONLY,
        )
        self.logger.info(
            "%d hooks registered; the order they run in at each point is in %s",
            len(self._hooks),
            log_file,
        )

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any]) -> Runner:
        """Build a runner from a whole config, reading the keys `Runner` takes."""
        _warn_untranslated_mmcv_keys(cfg)
        kwargs = {key: cfg[key] for key in _ARGUMENTS if key in cfg}
        if cfg.get("log_config"):
            kwargs.update(_from_mmcv_log_config(cfg["log_config"], kwargs))
        missing = [key for key in ("model", "work_dir") if key not in kwargs]
        if missing:
            raise KeyError(f"the config has no {' or '.join(missing)}; both are required")
        return cls(**kwargs, cfg=cfg)

    # ------------------------------------------------------------ state hooks read
    @property
    def epoch(self) -> int:
        """Completed training epochs (0 before training starts)."""
        loop = self._train.loop
        return 0 if loop is None else loop.epoch

    @property
    def iter(self) -> int:
        """Completed training iterations (0 before training starts); read every iteration."""
        loop = self._train.loop
        return 0 if loop is None else loop.iter

    @property
    def max_epochs(self) -> int:
        return int(self.train_loop.max_epochs)

    @property
    def max_iters(self) -> int:
        return int(self.train_loop.max_iters)

    @property
    def hooks(self) -> list[Hook]:
        """The registered hooks, in call order."""
        return list(self._hooks)

    @property
    def train_loop(self) -> Any:
        """The training loop, built on first use; raises if the runner has none."""
        if not self._train.configured:
            raise RuntimeError(
                "this runner cannot train: give train_dataloader, train_cfg and optim_wrapper"
            )
        return self._train.get(self.build_train_loop)

    @property
    def built_train_loop(self) -> Any:
        """The training loop if it has been built, else None; reading it never builds one."""
        return self._train.loop

    @property
    def val_loop(self) -> Any:
        """The validation loop, built on first use, or None without validation."""
        return self._val.get(self.build_val_loop)

    @property
    def test_loop(self) -> Any:
        """The test loop, built on first use, or None without testing."""
        return self._test.get(self.build_test_loop)

    @property
    def _resume(self) -> bool:
        """Whether this run resumes: MMEngine's attribute, which hooks written for it read."""
        return self._start.resume

    @property
    def _load_from(self) -> str | None:
        """The checkpoint given as `load_from`: MMEngine's attribute, which hooks read."""
        return self._start.load_from

    @property
    def log_processor(self) -> Any:
        """The log processor, built from its config on first use (type ``LogProcessor``)."""
        if self._log_processor is None:
            self._log_processor = self.build_log_processor(self._log_processor_cfg)
        return self._log_processor

    # Read from the stage's loop, building it: what MMEngine's runner exposes.
    train_dataloader = _FromLoop("train_loop", "dataloader")
    val_dataloader = _FromLoop("val_loop", "dataloader")
    test_dataloader = _FromLoop("test_loop", "dataloader")
    val_evaluator = _FromLoop("val_loop", "evaluator")
    test_evaluator = _FromLoop("test_loop", "evaluator")

    # ------------------------------------------------------------ building
    def build_dataloader(self, cfg: Any) -> Any:
        """Build a dataloader from its config; the run's seed fixes its order."""
        return _builders.build_dataloader(cfg, self.seed)

    def build_evaluator(self, cfg: Any) -> Any:
        """Build an evaluator from its config (or return a ready one)."""
        return _builders.build_evaluator(cfg)

    def build_optim_wrapper(self, optim_wrapper: Any) -> Any:
        """Build the optimizer wrapper of `self.model` from its config (or return a ready one)."""
        return _builders.build_optim_wrapper(optim_wrapper, self.model)

    def build_param_scheduler(self, scheduler: Any) -> Any:
        """Build the parameter schedulers of the built `optim_wrapper` (one, a list or a dict)."""
        return _builders.build_param_schedulers(scheduler, self.optim_wrapper, self.train_loop)

    def build_train_loop(self, loop: Any) -> Any:
        """Build the training loop from `train_cfg` (or return a ready loop)."""
        return _builders.build_train_loop(self, loop, self._train.dataloader)

    def build_val_loop(self, loop: Any) -> Any:
        """Build the validation loop from `val_cfg` (or return a ready loop)."""
        return self._build_eval_loop(self._val, loop)

    def build_test_loop(self, loop: Any) -> Any:
        """Build the test loop from `test_cfg` (or return a ready loop)."""
        return self._build_eval_loop(self._test, loop)

    def _build_eval_loop(self, stage: Stage, loop: Any) -> Any:
        return _builders.build_eval_loop(self, loop, stage.dataloader, stage.evaluator, stage.name)

    def build_log_processor(self, log_processor: Any) -> Any:
        """Build the log processor from its config (a ``LogProcessor`` unless it names a type)."""
        if log_processor is None or isinstance(log_processor, dict):
            return LOG_PROCESSORS.build({"type": "LogProcessor", **(log_processor or {})})
        return log_processor

    # ------------------------------------------------------------ running
    def train(self) -> Any:
        """Train (validating on schedule) and return the model."""
        loop = self.train_loop
        self.optim_wrapper = self.build_optim_wrapper(self.optim_wrapper)
        self.param_schedulers = self.build_param_scheduler(self._param_scheduler_cfg)
        if self.val_loop is not None:
            _require_method(self.model, "val_step")
        _require_method(self.model, "train_step")
        self.call_hook("before_run")
        self.load_or_resume()
        initialize = getattr(self.optim_wrapper, "initialize_count_status", None)
        if initialize is not None:  # gradient accumulation needs to know where training is
            initialize(self.model, loop.iter, loop.max_iters)
        with stop_requests_on_sigterm(loop.request_stop):
            try:
                model = loop.run()
            except StopRequested as stop:
                self._stop_after_signal(stop)
        self.call_hook("after_run")
        return model

    def _stop_after_signal(self, stop: StopRequested) -> None:
        """Save where training stopped, finish the run's hooks, and exit cleanly."""
        path = self.save_checkpoint(
            self.work_dir,
            f"interrupted_iter_{self.iter}.pth",
            meta={"epoch": self.epoch, "iter": self.iter},
        )
        self.logger.warning(
            "%s: stopped after iteration %d and saved %s; run again with resume=True to continue",
            stop,
            self.iter,
            path,
        )
        self.call_hook("after_run")
        raise TrainingInterrupted(path) from None

    def val(self) -> dict[str, Any]:
        """Validate once and return the metrics."""
        return self._evaluate("val")

    def test(self) -> dict[str, Any]:
        """Test once and return the metrics."""
        return self._evaluate("test")

    def _evaluate(self, mode: str) -> dict[str, Any]:
        loop = self.val_loop if mode == "val" else self.test_loop
        if loop is None:
            raise RuntimeError(
                f"this runner cannot {mode}: give {mode}_dataloader, {mode}_cfg and "
                f"{mode}_evaluator"
            )
        _require_method(self.model, f"{mode}_step")
        self.call_hook("before_run")
        self.load_or_resume()
        metrics: dict[str, Any] = loop.run()
        self.call_hook("after_run")
        return metrics

    # ------------------------------------------------------------ hooks
    def register_hook(
        self, hook: Hook | Mapping[str, Any], priority: int | str | Priority | None = None
    ) -> Hook:
        """Register a hook (or its config) at its priority; see `HookList.register`."""
        return self._hooks.register(hook, priority)

    def register_default_hooks(self, hooks: Mapping[str, Any] | None = None) -> None:
        """Register the default hooks, with the user's overrides applied by key."""
        for hook in merge_default_hooks(hooks).values():
            self.register_hook(hook)

    def register_custom_hooks(self, hooks: Sequence[Any]) -> None:
        """Register extra hooks; NORMAL priority unless their class or config says otherwise."""
        for hook in hooks:
            self.register_hook(hook)

    def call_hook(self, fn_name: str, **kwargs: Any) -> None:
        """Call hook point `fn_name` on every hook that acts on it, in priority order.

        Subclasses may override it; the loops then call the override.
        """
        self._hooks.call_hook(fn_name, **kwargs)

    def hook_caller(self) -> Callable[..., None]:
        """What the loops call at each hook point: `call_hook`, without its extra frame.

        That is the hook list's own dispatch unless a subclass overrides `call_hook`.
        """
        if type(self).call_hook is Runner.call_hook:
            return self._hooks.call_hook
        return self.call_hook

    def get_hooks_info(self) -> str:
        """Which hooks run at each point, and at which priority."""
        return self._hooks.get_hooks_info()

    # ------------------------------------------------------------ checkpoints
    def save_checkpoint(
        self,
        out_dir: str | os.PathLike[str],
        filename: str,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        meta: Mapping[str, Any] | None = None,
        by_epoch: bool = True,
    ) -> str:
        """Write a checkpoint atomically (rank 0) and point ``last_checkpoint`` at it.

        ``before_save_checkpoint`` runs on every rank first, so hooks may use
        collectives. Returns the checkpoint's path.
        """
        return _checkpointing.save(
            self, out_dir, filename, save_optimizer, save_param_scheduler, meta, by_epoch
        )

    def collect_checkpoint(
        self,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        meta: Mapping[str, Any] | None = None,
        by_epoch: bool = True,
    ) -> dict[str, Any]:
        """Return the dict `save_checkpoint` would write, without writing anything.

        ``before_save_checkpoint`` runs on every rank, as for a save. For hooks
        that write checkpoints their own way (in the background, say).
        """
        return _checkpointing.collect(self, save_optimizer, save_param_scheduler, meta, by_epoch)

    def load_checkpoint(
        self,
        filename: str,
        map_location: Any = "cpu",
        strict: bool = False,
        revise_keys: Sequence[tuple[str, str]] = ((r"^module\.", ""),),
        weights_only: bool = True,
    ) -> dict[str, Any]:
        """Load a checkpoint's weights into the model (after ``after_load_checkpoint``).

        The file is read with ``torch.load(weights_only=True)``, which cannot run
        code hidden in it; pass ``weights_only=False`` only for files you trust.
        """
        return _checkpointing.load(self, filename, map_location, strict, revise_keys, weights_only)

    def resume(
        self,
        filename: str,
        resume_optimizer: bool = True,
        resume_param_scheduler: bool = True,
        map_location: Any = "cpu",
    ) -> None:
        """Continue training from a checkpoint: weights, optimizer, schedulers, counters, RNG."""
        _checkpointing.resume(
            self, filename, resume_optimizer, resume_param_scheduler, map_location
        )

    def load_or_resume(self) -> None:
        """Resume or load weights as configured; runs once per runner."""
        start = self._start
        if start.used:
            return
        start.used = True
        if start.resume and self._train.configured:
            if start.resume_from is None:
                self.logger.info("No checkpoint found in %s to resume from.", self.work_dir)
                return
            self.resume(start.resume_from)
        elif start.load_from is not None:
            self.load_checkpoint(start.load_from)

    def _set_randomness(self) -> int:
        """Seed everything; a resumed run reuses its checkpoint's seed so data order matches."""
        seed = self._randomness.get("seed")
        resumed_seed = self._start.seed
        if resumed_seed is not None:
            if seed is not None and seed != resumed_seed:
                self.logger.warning(
                    "resuming with the checkpoint's seed %s instead of %s", resumed_seed, seed
                )
            seed = resumed_seed
        return set_random_seed(
            seed,
            deterministic=self._randomness.get("deterministic", False),
            diff_rank_seed=self._randomness.get("diff_rank_seed", False),
        )

    def __repr__(self) -> str:
        return f"Runner({self.experiment_name!r}, work_dir={self.work_dir!r})"


def _check_complete(stage: str, dataloader: Any, cfg: Any, third: Any, third_name: str) -> None:
    """A stage's dataloader, cfg and optimizer (or evaluator) come together or not at all."""
    given = {
        f"{stage}_dataloader": dataloader,
        f"{stage}_cfg": cfg,
        third_name: third,
    }
    present = [name for name, value in given.items() if value is not None]
    if present and len(present) < len(given):
        missing = [name for name in given if name not in present]
        raise ValueError(
            f"{', '.join(present)} given without {', '.join(missing)}: to {stage}, the runner "
            f"needs all of {', '.join(given)} (or none of them)"
        )


def _require_torch() -> None:
    """A runner trains torch models; without torch, say what to install instead of failing later."""
    try:
        import torch  # noqa: F401
    except ImportError as err:
        message = f"the Runner needs torch: {pip_install('hooks-core[torch]')}"
        raise ModuleNotFoundError(message, name="torch") from err


def _require_method(model: Any, name: str) -> None:
    target = unwrap_model(model)
    if not callable(getattr(target, name, None)):
        raise TypeError(
            f"{type(target).__name__} has no {name}(); subclass hooks_core.BaseModel or "
            f"define {name} on your model"
        )


def _from_mmcv_log_config(
    log_config: Mapping[str, Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """MMCV's ``log_config=dict(interval=N, hooks=[...])`` as the logger default hook + its hooks.

    The logger gets the interval; each listed hook (``TextLoggerHook``,
    ``TensorboardLoggerHook``...) joins the custom hooks with that interval
    unless it sets its own, at MMCV's VERY_LOW priority, and merges into the
    logger (hooks-logging), so a migrated config logs once, to every backend.
    """
    interval = log_config.get("interval", 10)
    unknown = set(log_config) - {"interval", "hooks"}
    if unknown:
        raise ValueError(
            f"log_config has keys {sorted(unknown)}, which MMCV's log_config does not have; "
            "it takes interval and hooks"
        )
    default_hooks = dict(kwargs.get("default_hooks") or {})
    default_hooks.setdefault("logger", {"type": "LoggerHook", "interval": interval})
    listed = [
        {"interval": interval, "priority": "VERY_LOW", **hook}
        for hook in log_config.get("hooks", ())
    ]
    return {
        "default_hooks": default_hooks,
        "custom_hooks": [*(kwargs.get("custom_hooks") or ()), *listed],
    }


# MMCV 1.x config keys that this runner does not read, and what replaces each.
_MMCV_KEYS = {
    "optimizer": "optim_wrapper=dict(type='OptimWrapper', optimizer=...)",
    "optimizer_config": "optim_wrapper options (clip_grad=..., accumulative_counts=...)",
    "lr_config": "param_scheduler=[...] (see docs/migration.md for each policy)",
    "momentum_config": "param_scheduler=[...] with momentum schedulers",
    "checkpoint_config": "default_hooks=dict(checkpoint=dict(type='CheckpointHook', ...))",
    "evaluation": "val_cfg, val_evaluator and train_cfg's val_interval",
    "workflow": "train_cfg=dict(by_epoch=True, max_epochs=..., val_interval=...)",
    "resume_from": "load_from=... with resume=True",
    "runner": "train_cfg=dict(by_epoch=..., max_epochs=... or max_iters=...)",
    "total_epochs": "train_cfg=dict(by_epoch=True, max_epochs=...)",
}


def _warn_untranslated_mmcv_keys(cfg: Mapping[str, Any]) -> None:
    """A config written for MMCV would otherwise train without these parts, silently."""
    import warnings

    for key, replacement in _MMCV_KEYS.items():
        if key in cfg:
            warnings.warn(
                f"config key {key!r} is MMCV 1.x's and is not read by this runner; "
                f"use {replacement}",
                UserWarning,
                stacklevel=3,
            )


def _new_log_dir_name(work_dir: str) -> str:
    """The time, ``YYYYmmdd_HHMMSS``, with ``_2``, ``_3``... if a run of this second has it already.

    The folder is created here, so two runners started in the same second
    (a run and its resumption in one notebook) never share a log.
    """
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime())
    name, number = stamp, 1
    while True:
        try:
            os.mkdir(osp.join(work_dir, name))
        except FileExistsError:
            number += 1
            name = f"{stamp}_{number}"
        else:
            return name


def _unique_name(name: str) -> str:
    """`name`, or `name_2`, `name_3`... if runners started within the same second took it."""
    candidate, number = name, 1
    while MessageHub.check_instance_created(candidate):
        number += 1
        candidate = f"{name}_{number}"
    return candidate


def _cfg_name(cfg: Mapping[str, Any] | None) -> str | None:
    filename = (cfg or {}).get("filename")
    return osp.splitext(osp.basename(filename))[0] if filename else None
