"""`Runner`: builds a training run from its parts and drives the loops and hooks.

The runner itself is thin. Each of train, val and test is a `Stage` that builds
its loop on first use; building objects from configs lives in `_builders` (the
``build_*`` methods call it, so subclasses override the methods), checkpoint
contents and the starting point of a run in `_checkpointing`, file mechanics in
`hooks_core.checkpoint`, distributed set-up in `hooks_core.dist`, runtime values
in the `MessageHub`, and the order of hook points in the loops.
"""

from __future__ import annotations

import atexit
import os
import os.path as osp
import time

from .. import hooks
from ..checkpoint import check_storage_args, optimizer_wrappers
from ..checkpoint._storage import resolve_work_dir
from ..config import as_config
from ..dist import broadcast_object, destroy_dist, get_dist_info, init_dist
from ..engine._hook_list import HookList
from ..model._wrapper import model_class_name, unwrap_model
from ..registry._default_scope import DefaultScope
from ..registry._first_party import pip_install
from ..registry._roots import LOG_PROCESSORS, MODELS, VISUALIZERS
from ..runtime._logging import FILE_ONLY, get_runner_logger
from ..runtime._message_hub import MessageHub
from ..runtime._signals import StopRequested, TrainingInterrupted, stop_requests_on_sigterm
from . import _builders, _checkpointing
from ._compile import compile_options, compiled_step
from ._default_hooks import merge_default_hooks
from ._elastic import log_restart
from ._environment import apply_env_cfg
from ._exceptions import exceptions_to_hooks, notify_exception
from ._input_checks import check_dataloader
from ._loops import _TrainLoop
from ._mmcv import MMCV_KEYS, from_mmcv_config, from_mmcv_log_config
from ._randomness import set_random_seed
from ._stage import Stage
from ._work_dir_lock import errors_to_log_file, hold_work_dir
from .strategy import build_strategy

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
    "val_cfg", "test_cfg", "auto_scale_lr", "optim_wrapper", "param_scheduler", "val_evaluator",
    "test_evaluator", "default_hooks", "custom_hooks", "data_preprocessor", "load_from", "resume",
    "launcher", "env_cfg", "log_processor", "log_level", "visualizer", "default_scope",
    "randomness", "experiment_name", "strategy", "compile",
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

    The arguments, their order and their meaning are MMEngine's. Parts given as
    config dicts are built through the registries when first needed, by the
    ``build_*`` methods (override them in a subclass to build differently), so a
    runner made only for testing never builds an optimizer.

    Args:
        model: The model (an ``nn.Module`` with ``train_step``/``val_step``/
            ``test_step``, e.g. a `BaseModel`) or its config.
        work_dir: Where logs and checkpoints go. A URL (``s3://bucket/run``,
            ``memory://run``) takes the checkpoints and ``last_checkpoint``
            (`checkpoint_dir`); the logs, the config and the lock then go to a
            local mirror, ``work_dirs/<protocol>/<path>`` (`work_dir`).
        train_dataloader, val_dataloader, test_dataloader: Dataloaders or configs
            (``dict(dataset=..., batch_size=..., sampler=dict(type='DefaultSampler'))``);
            a config's batches are collated by ``pseudo_collate`` (lists, not
            stacked tensors) unless it sets ``collate_fn=dict(type='default_collate')``.
        train_cfg: ``dict(by_epoch=True, max_epochs=N, val_interval=1)``,
            ``dict(by_epoch=False, max_iters=N, val_interval=M)`` or ``dict(type=...)``.
        val_cfg, test_cfg: ``dict()`` for the default loops, or ``dict(type=...)``.
        auto_scale_lr: ``dict(base_batch_size=N, enable=True)`` scales every
            learning rate by (batch size x world size) / N before training.
        optim_wrapper: An optimizer wrapper or its config (needs hooks-optim).
        param_scheduler: Scheduler configs or objects (needs hooks-optim).
        val_evaluator, test_evaluator: Evaluators or metric configs (needs hooks-eval).
        default_hooks: Overrides of the default hooks by key; None removes one.
        custom_hooks: More hooks (objects or configs), NORMAL priority unless set.
        data_preprocessor: Set as the ``data_preprocessor`` of a model built
            from a config that has none.
        load_from: A checkpoint whose weights to load (or to resume from).
        resume: Resume training; with no `load_from`, from the latest checkpoint
            in `work_dir`.
        launcher: ``'none'`` or ``'pytorch'`` (started by ``torchrun``).
        env_cfg: ``dict(dist_cfg=dict(backend=...), cudnn_benchmark=False,
            mp_cfg=dict(mp_start_method=...), resource_limit=4096)``; the
            backend defaults to nccl with CUDA and gloo without.
        log_processor: The log processor or its config (needs hooks-logging),
            e.g. ``dict(window_size=20)``; built when the logger first asks.
        log_level: Level of the runner's logger.
        visualizer: A visualizer or its config (needs hooks-logging); built on
            first use of `visualizer`.
        default_scope: The registry scope configs build in (a `DefaultScope`
            named after the experiment), e.g. a downstream library's; None sets none.
        randomness: ``dict(seed=None, deterministic=False, diff_rank_seed=False)``.
        experiment_name: Name of the run; a timestamp is appended.
        cfg: The whole config, kept in checkpoints and the message hub.
        strategy: How the model is wrapped and checkpointed: a config such as
            ``dict(type='FSDPStrategy', ...)`` (``STRATEGIES``) or a strategy
            object (see `hooks_core.runner.strategy`). None: DDP in a distributed run
            (from the config's ``model_wrapper_cfg``, ``find_unused_parameters``
            and ``sync_bn``), else a single device.
        compile: True, or a dict of `torch.compile` keywords, compiles
            ``model.train_step`` while `train` runs (MMEngine's config key
            ``compile``, read from `cfg` when this is None; FlexibleRunner's
            keyword); the dict's ``target='forward'`` compiles the model's
            forward instead.
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
        auto_scale_lr: Mapping[str, Any] | None = None,
        optim_wrapper: Any = None,
        param_scheduler: Any = None,
        val_evaluator: Any = None,
        test_evaluator: Any = None,
        default_hooks: Mapping[str, Any] | None = None,
        custom_hooks: Sequence[Any] | None = None,
        data_preprocessor: Any = None,
        load_from: str | None = None,
        resume: bool = False,
        launcher: str = "none",
        env_cfg: Mapping[str, Any] | None = None,
        log_processor: Any = None,
        log_level: str | int = "INFO",
        visualizer: Any = None,
        default_scope: str | None = "hooks_core",
        randomness: Mapping[str, Any] | None = None,
        experiment_name: str | None = None,
        cfg: Mapping[str, Any] | None = None,
        strategy: Any = None,
        compile: bool | Mapping[str, Any] | None = None,
    ) -> None:
        _require_torch()
        _check_complete("train", train_dataloader, train_cfg, optim_wrapper, "optim_wrapper")
        _check_complete("val", val_dataloader, val_cfg, val_evaluator, "val_evaluator")
        _check_complete("test", test_dataloader, test_cfg, test_evaluator, "test_evaluator")
        for stage, dataloader in (("train", train_dataloader), ("val", val_dataloader),
                                  ("test", test_dataloader)):  # fmt: skip
            check_dataloader(dataloader, f"{stage}_dataloader")
        if param_scheduler is not None and optim_wrapper is None:
            raise ValueError("param_scheduler needs an optim_wrapper to schedule")
        _check_scheduler_cfg(param_scheduler)
        self.cfg = as_config(cfg)  # a `Config`, as MMEngine's runner keeps it
        _refuse_unsupported_options(self.cfg)
        self._compile_options = compile_options(
            self.cfg.get("compile") if compile is None else compile
        )
        #: The local folder of logs, the config and the lock; `checkpoint_dir` holds the
        #: checkpoints and ``last_checkpoint``: the same folder, or the URL work_dir was.
        self.work_dir, self.checkpoint_dir = resolve_work_dir(work_dir)
        os.makedirs(self.work_dir, exist_ok=True)
        self.launcher = launcher
        self.setup_env(dict(env_cfg or {}))
        self.experiment_name = _experiment_name(experiment_name, self.cfg, self.timestamp)
        self.log_dir = osp.join(self.work_dir, self.timestamp)
        self.logger: logging.Logger = self.build_logger(log_level=log_level)
        self.message_hub = self.build_message_hub()
        self.default_scope = (
            None
            if default_scope is None
            else DefaultScope.get_instance(self.experiment_name, scope_name=default_scope)
        )
        self._log_processor_cfg = log_processor
        self._log_processor: Any = None
        self._visualizer_cfg = visualizer
        self._visualizer: Any = None
        self._dataset_meta: Any = None

        self._start = _checkpointing.StartingPoint(
            self.checkpoint_dir, load_from, resume, self.logger
        )
        self._randomness_cfg = dict(randomness or {"seed": None})
        self._init_randomness()

        self.strategy = build_strategy(strategy, self.cfg, self.distributed)
        if isinstance(model, dict) and data_preprocessor is not None:
            model = {**model}
            model.setdefault("data_preprocessor", data_preprocessor)
        self.model = self.wrap_model(self.cfg.get("model_wrapper_cfg"), self.build_model(model))
        self.auto_scale_lr = auto_scale_lr
        self.optim_wrapper = optim_wrapper
        self.param_schedulers: Any = None
        self._param_scheduler_cfg = param_scheduler
        self.outputs: Any = None  # the last training step's, for hooks written for MMCV
        self._train = Stage("train", train_dataloader, train_cfg)
        self._val = Stage("val", val_dataloader, val_cfg, val_evaluator)
        self._test = Stage("test", test_dataloader, test_cfg, test_evaluator)

        self._hooks = HookList(self)
        self.register_hooks(default_hooks, custom_hooks)
        self.logger.info(
            "Hooks will be executed in the following order:\n%s",
            self.get_hooks_info(),
            extra=FILE_ONLY,
        )
        self.logger.info(
            "%d hooks registered; the order they run in at each point is in %s",
            len(self._hooks),
            osp.join(self.log_dir, f"{self.timestamp}.log"),
        )
        if self.cfg.filename:  # a config file: keep what was run beside its results
            self.dump_config()

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any]) -> Runner:
        """Build a runner from a whole config, reading the keys `Runner` takes.

        An MMCV 1.x config's own keys (``runner``, ``workflow``, ``data``,
        ``optimizer_config``, ``lr_config``, ``checkpoint_config``,
        ``evaluation``, ``log_config``, ``resume_from``...) are translated into
        them; see `from_mmcv_config`.
        """
        kwargs = {key: cfg[key] for key in _ARGUMENTS if key in cfg}
        if any(key in cfg for key in MMCV_KEYS):
            kwargs = from_mmcv_config(cfg, kwargs)
        if cfg.get("log_config"):
            kwargs.update(from_mmcv_log_config(cfg["log_config"], kwargs))
        missing = [key for key in ("model", "work_dir") if key not in kwargs]
        if missing:
            raise KeyError(f"the config has no {' or '.join(missing)}; both are required")
        return cls(**kwargs, cfg=cfg)

    # ------------------------------------------------------------ environment
    def setup_env(self, env_cfg: Mapping[str, Any]) -> None:
        """Set up the process: cuDNN, multiprocessing, open files, the process group, the time.

        With a launcher other than ``'none'``, the process group is created from
        ``env_cfg['dist_cfg']`` unless one exists; ``rank``, ``world_size`` and
        ``distributed`` are read from it, and ``timestamp`` is rank 0's.
        """
        apply_env_cfg(env_cfg)
        if self.launcher != "none":
            dist_cfg = dict(env_cfg.get("dist_cfg") or {})
            if init_dist(self.launcher, **dist_cfg):  # the group it created ends with the process
                atexit.register(destroy_dist)
        self.rank, self.world_size = get_dist_info()
        self.distributed = self.world_size > 1
        self.timestamp: str = broadcast_object(
            _new_log_dir_name(self.work_dir) if self.rank == 0 else None
        )

    def set_randomness(
        self, seed: int | None, diff_rank_seed: bool = False, deterministic: bool = False
    ) -> None:
        """Seed python, numpy and torch; None draws a seed on rank 0 and shares it.

        ``seed`` keeps the shared seed (MMEngine's adds the rank with
        `diff_rank_seed`), since checkpoints record it to replay the data order.
        """
        self.deterministic = deterministic
        self.seed = set_random_seed(
            seed, deterministic=deterministic, diff_rank_seed=diff_rank_seed
        )

    def _init_randomness(self) -> None:
        """Seed as `randomness` says; a resumed run reuses its checkpoint's seed and data order."""
        options = dict(self._randomness_cfg)
        seed = options.pop("seed", None)
        resumed_seed = self._start.seed
        if resumed_seed is not None:
            if seed is not None and seed != resumed_seed:
                self.logger.warning(
                    "resuming with the checkpoint's seed %s instead of %s", resumed_seed, seed
                )
            seed = resumed_seed
        self.set_randomness(seed, **options)

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
        """Epochs of training (0 for a runner that does not train)."""
        loop = self._train.loop
        if loop is None:  # not built yet: build it (its reads during training skip this)
            loop = self.train_loop
        return 0 if loop is None else int(loop.max_epochs)

    @property
    def max_iters(self) -> int:
        """Iterations of training (0 for a runner that does not train); read every iteration."""
        loop = self._train.loop
        if loop is None:
            loop = self.train_loop
        return 0 if loop is None else int(loop.max_iters)

    @property
    def val_interval(self) -> int:
        """How often training validates (in epochs or iterations)."""
        return int(self.train_loop.val_interval)

    @property
    def val_begin(self) -> int:
        """The epoch or iteration from which training validates."""
        return int(self.train_loop.val_begin)

    # MMCV 1.x's names, which hooks written for MMCV read.
    @property
    def optimizer(self) -> Any:
        """The optimizer inside `optim_wrapper` (a dict by name for an `OptimWrapperDict`)."""
        wrapper = self.optim_wrapper
        if wrapper is None or isinstance(wrapper, dict):
            return None
        items = getattr(wrapper, "items", None)
        if items is not None:
            return {name: inner.optimizer for name, inner in items()}
        return getattr(wrapper, "optimizer", None)

    @property
    def data_loader(self) -> Any:
        """The training dataloader (MMCV's name for the loader being iterated)."""
        return self.train_dataloader

    @property
    def inner_iter(self) -> int:
        """The current training iteration's index in its epoch (the iteration, by iterations)."""
        loop = self._train.loop
        if loop is None:
            return 0
        return int(loop.iter - loop.epoch * len(loop.dataloader) if loop.by_epoch else loop.iter)

    @property
    def log_buffer(self) -> Any:
        """MMCV's log buffer, which this runner does not have: values go to `message_hub`."""
        raise AttributeError(
            "runner.log_buffer is MMCV 1.x's; this runner keeps logged values in "
            "runner.message_hub (update_scalar('train/<name>', value)); EpochBasedRunner and "
            "IterBasedRunner have a log_buffer"
        )

    @property
    def model_name(self) -> str:
        """The class name of the model (inside its wrapper)."""
        return model_class_name(self.model)

    @property
    def hooks(self) -> list[Hook]:
        """The registered hooks, in call order."""
        return list(self._hooks)

    @property
    def train_loop(self) -> Any:
        """The training loop, built on first use; None for a runner that does not train."""
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
    def resume_meta(self) -> dict[str, Any] | None:
        """The ``meta`` of the checkpoint `train()` will resume, or None when it resumes none.

        The checkpoint is read when the runner is made, so hooks can see it in
        `before_run`, before it is loaded (a logger continuing a tracker's run).
        """
        return self._start.resume_meta if self._train.configured else None

    @property
    def _load_from(self) -> str | None:
        """The checkpoint given as `load_from`: MMEngine's attribute, which hooks read."""
        return self._start.load_from

    @property
    def log_processor(self) -> Any:
        """The log processor, built by `build_log_processor` on first use."""
        if self._log_processor is None:
            self._log_processor = self.build_log_processor(self._log_processor_cfg)
        return self._log_processor

    @log_processor.setter
    def log_processor(self, value: Any) -> None:
        self._log_processor = value

    @property
    def visualizer(self) -> Any:
        """The visualizer, built by `build_visualizer` on first use (needs hooks-logging).

        Once built it is given the config (``add_config``), as in MMEngine.
        """
        if self._visualizer is None:
            visualizer = self.build_visualizer(self._visualizer_cfg)
            add_config = getattr(visualizer, "add_config", None)
            if self.cfg and add_config is not None:
                add_config(self.cfg)
            if self._dataset_meta is not None:
                visualizer.dataset_meta = self._dataset_meta
            self._visualizer = visualizer
        return self._visualizer

    @visualizer.setter
    def visualizer(self, value: Any) -> None:
        self._visualizer = value

    def share_dataset_meta(self, dataset_meta: Any) -> None:
        """Give the visualizer a dataset's ``metainfo`` (class names...); the loops call it.

        MMEngine's loops set ``runner.visualizer.dataset_meta`` directly; here
        the visualizer is built on first use, so it gets the latest one then.
        """
        self._dataset_meta = dataset_meta
        if self._visualizer is not None:
            self._visualizer.dataset_meta = dataset_meta

    # Read from the stage's loop, building it: what MMEngine's runner exposes.
    train_dataloader = _FromLoop("train_loop", "dataloader")
    val_dataloader = _FromLoop("val_loop", "dataloader")
    test_dataloader = _FromLoop("test_loop", "dataloader")
    val_evaluator = _FromLoop("val_loop", "evaluator")
    test_evaluator = _FromLoop("test_loop", "evaluator")

    # ------------------------------------------------------------ building
    def build_logger(
        self, log_level: int | str = "INFO", log_file: str | None = None, **kwargs: Any
    ) -> logging.Logger:
        """The runner's logger: the console on rank 0 and `log_file` (``log_dir/<timestamp>.log``).

        Args:
            log_level: Its level.
            log_file: The file it writes; defaults to ``<log_dir>/<timestamp>.log``.
            **kwargs: ``name``, the logger's name (the experiment's by default).
        """
        if log_file is None:
            log_file = osp.join(self.log_dir, f"{self.timestamp}.log")
        name = kwargs.pop("name", self.experiment_name)
        if kwargs:
            raise TypeError(
                f"build_logger got {', '.join(sorted(kwargs))}; it takes log_level, log_file "
                "and name"
            )
        return get_runner_logger(name, log_file, log_level)

    def build_message_hub(self, message_hub: Mapping[str, Any] | None = None) -> MessageHub:
        """The run's `MessageHub`, named after the experiment unless `message_hub` names it."""
        if message_hub is None:
            args: dict[str, Any] = {"name": self.experiment_name}
        elif isinstance(message_hub, dict):
            args = {"name": self.experiment_name, **message_hub}
        else:
            raise TypeError(f"message_hub must be a dict or None, got {type(message_hub).__name__}")
        return MessageHub.get_instance(**args)

    def build_visualizer(self, visualizer: Any = None) -> Any:
        """Build the visualizer: by default ``Visualizer.get_instance(name=experiment_name,
        save_dir=log_dir)`` from the ``VISUALIZERS`` registry (hooks-logging provides it).

        A config dict gets the same ``name`` and ``save_dir`` unless it sets them
        (and type ``Visualizer`` unless it names one); anything else is returned
        as it is.
        """
        defaults = {"name": self.experiment_name, "save_dir": self.log_dir}
        if visualizer is None:
            return _builders.registered(VISUALIZERS, "Visualizer").get_instance(**defaults)
        if isinstance(visualizer, dict):
            return VISUALIZERS.build({"type": "Visualizer", **defaults, **visualizer})
        return visualizer

    def build_model(self, model: Any) -> Any:
        """Build the model from its config through ``MODELS``; a built one is returned as it is."""
        return MODELS.build(model) if isinstance(model, dict) else model

    def wrap_model(self, model_wrapper_cfg: Mapping[str, Any] | None, model: Any) -> Any:
        """Put the model on its device and in its wrapper: `strategy`'s ``wrap_model``.

        By default, in a distributed run and without `model_wrapper_cfg`, the
        wrapper is DDP (`DistributedModel`) that does not broadcast buffers at
        each forward, with the config's ``find_unused_parameters``, as in
        MMEngine; a ``model_wrapper_cfg`` gives the wrapper's options and, with
        ``type``, any wrapper in ``MODEL_WRAPPERS``. A model that is already
        wrapped is returned as it is.
        """
        return self.strategy.wrap_model(model, model_wrapper_cfg)

    def build_optim_wrapper(self, optim_wrapper: Any) -> Any:
        """Build the optimizer wrapper of the wrapped `self.model` (or take a ready one).

        `strategy` then checks it: with FSDP, that it holds the model's shards.
        """
        wrapper = _builders.build_optim_wrapper(optim_wrapper, self.model)
        return self.strategy.prepare_optim_wrapper(wrapper, self.model)

    def scale_lr(self, optim_wrapper: Any, auto_scale_lr: Mapping[str, Any] | None = None) -> None:
        """Scale every learning rate linearly with the batch size, as `auto_scale_lr` says.

        With ``dict(base_batch_size=N, enable=True)`` the learning rate of every
        parameter group becomes lr x (train batch size x world size) / N. Call it
        after building the optimizer wrapper and before the schedulers, which
        record the initial learning rates.
        """
        if auto_scale_lr is None or not auto_scale_lr.get("enable", False):
            return
        base, real, ratio = _builders.lr_scale_ratio(
            auto_scale_lr, self._train.dataloader, self.world_size
        )
        if _builders.has_built_scheduler(self.param_schedulers) or _builders.has_built_scheduler(
            self._param_scheduler_cfg
        ):
            raise RuntimeError(
                "scale_lr must run before the parameter schedulers are built: they record the "
                "initial learning rate of the optimizer"
            )
        if isinstance(optim_wrapper, dict):
            raise TypeError("scale_lr needs the built optimizer wrapper; call build_optim_wrapper")
        for wrapper in optimizer_wrappers(optim_wrapper).values():
            for group in wrapper.optimizer.param_groups:
                group["lr"] = group["lr"] * ratio
        self.logger.info(
            "auto_scale_lr: the learning rate was set for a batch size of %s and the batch size "
            "is %s, so every learning rate is scaled by %s",
            base,
            real,
            ratio,
        )

    def build_param_scheduler(self, scheduler: Any) -> Any:
        """Build the parameter schedulers of the built `optim_wrapper`: a list, or a dict of
        lists (one per wrapper of an ``OptimWrapperDict``)."""
        return _builders.build_param_schedulers(scheduler, self.optim_wrapper, self.train_loop)

    def build_evaluator(self, evaluator: Any) -> Any:
        """Build an evaluator from its config or metric configs (or return a ready one)."""
        return _builders.build_evaluator(evaluator)

    @staticmethod
    def build_dataloader(
        dataloader: Any, seed: int | None = None, diff_rank_seed: bool = False
    ) -> Any:
        """Build a dataloader from its config (or return a ready one); see `_builders`.

        A static method, as in MMEngine: ``Runner.build_dataloader(cfg)`` needs no
        runner. The loops pass the run's seed, which fixes the data order.
        """
        return _builders.build_dataloader(dataloader, seed, diff_rank_seed)

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
        """Train (validating on schedule) and return the model.

        Rank 0 holds the work_dir's lock while training (``<work_dir>/.hooks.lock``),
        so a second run training into the same work_dir fails at once; an error
        that stops training is written, with its traceback, to the text log.
        """
        with (
            exceptions_to_hooks(self),
            errors_to_log_file(self.logger, "Training"),
            hold_work_dir(self),
        ):
            return self._train_in_work_dir()

    def _train_in_work_dir(self) -> Any:
        """Everything `train` does while it holds the work_dir."""
        loop = self.train_loop
        if loop is None:
            raise RuntimeError(
                "this runner cannot train: give train_dataloader, train_cfg and optim_wrapper"
            )
        self.optim_wrapper = self.build_optim_wrapper(self.optim_wrapper)
        self.scale_lr(self.optim_wrapper, self.auto_scale_lr)
        if self.param_schedulers is None and self._param_scheduler_cfg is not None:
            self.param_schedulers = self.build_param_scheduler(self._param_scheduler_cfg)
        if self.val_loop is not None:
            _require_method(self.model, "val_step")
        _require_method(self.model, "train_step")
        if isinstance(loop, _TrainLoop):  # the schedule is checked only where the user set one
            cfg = self._train.cfg
            scheduled = isinstance(cfg, dict) and not {"val_interval", "val_begin"}.isdisjoint(cfg)
            loop.check_before_training(scheduled and self.val_loop is not None)
        self.call_hook("before_run")
        self._init_model_weights()
        self.load_or_resume()
        initialize = getattr(self.optim_wrapper, "initialize_count_status", None)
        if initialize is not None:  # gradient accumulation needs to know where training is
            initialize(self.model, loop.iter, loop.max_iters)
        with stop_requests_on_sigterm(loop.request_stop):
            try:
                with compiled_step(self.model, self._compile_options, self.logger):
                    model = loop.run()
            except StopRequested as stop:
                self._stop_after_signal(stop)
        self.call_hook("after_run")
        return model

    def _init_model_weights(self) -> None:
        """Call the model's ``init_weights()`` if it has one, then give every rank rank 0's."""
        model = unwrap_model(self.model)
        init_weights = getattr(model, "init_weights", None)
        if not callable(init_weights):
            return
        init_weights()
        self.strategy.sync_weights(self.model)

    def _stop_after_signal(self, stop: StopRequested) -> None:
        """Save where training stopped, finish the run's hooks, and exit cleanly."""
        hub, name = self.message_hub, f"interrupted_iter_{self.iter}.pth"
        # Listed before the save, so the file lists itself: the CheckpointHook of a resumed run
        # removes it once newer checkpoints replace it (max_keep_ckpts).
        target = osp.join(self.checkpoint_dir, name)
        entry = {"path": target, "epoch": self.epoch, "iter": self.iter}
        hub.update_info("interrupted_ckpts", [*hub.get_info("interrupted_ckpts", []), entry])
        path = self.save_checkpoint(
            self.checkpoint_dir,
            name,
            meta={"epoch": self.epoch, "iter": self.iter},
        )
        self.logger.warning(
            "%s: stopped after iteration %d and saved %s; run again with resume=True to continue",
            stop,
            self.iter,
            path,
        )
        notify_exception(self, stop)
        self.call_hook("after_run")
        raise TrainingInterrupted(path) from None

    def val(self) -> dict[str, Any]:
        """Validate once and return the metrics."""
        return self._evaluate("val")

    def test(self) -> dict[str, Any]:
        """Test once and return the metrics."""
        return self._evaluate("test")

    def _evaluate(self, mode: str) -> dict[str, Any]:
        """Run the val or test loop once (an error goes to the text log too); no work_dir lock."""
        what = "Validation" if mode == "val" else "Testing"
        with exceptions_to_hooks(self), errors_to_log_file(self.logger, what):
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

    def register_hooks(
        self,
        default_hooks: Mapping[str, Any] | None = None,
        custom_hooks: Sequence[Any] | None = None,
    ) -> None:
        """Register the default hooks (with `default_hooks` applied), then `custom_hooks`."""
        self.register_default_hooks(default_hooks)
        if custom_hooks is not None:
            self.register_custom_hooks(custom_hooks)

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
        file_client_args: Mapping[str, Any] | None = None,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        meta: Mapping[str, Any] | None = None,
        by_epoch: bool = True,
        backend_args: Mapping[str, Any] | None = None,
        *,
        save_format: str | None = None,
    ) -> str:
        """Write a checkpoint atomically (rank 0) and point ``last_checkpoint`` at it.

        ``before_save_checkpoint`` runs on every rank first, so hooks may use
        collectives. `out_dir` may be a URL; `file_client_args` and `backend_args`
        are MMEngine's storage options, for a URL fsspec's (see
        `check_storage_args`). `save_format` ``'dcp'`` writes a sharded folder
        (``<name>.dcp``, every rank its shards), ``'pth'`` one file; None: the
        strategy's default. Returns the checkpoint's path.
        """
        options = check_storage_args(out_dir, file_client_args, backend_args, "save_checkpoint")
        return _checkpointing.save(
            self, out_dir, filename, save_optimizer, save_param_scheduler, meta, by_epoch, options,
            save_format,
        )  # fmt: skip

    def collect_checkpoint(
        self,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        meta: Mapping[str, Any] | None = None,
        by_epoch: bool = True,
        *,
        sharded: bool = False,
    ) -> dict[str, Any]:
        """Return the dict `save_checkpoint` would write, without writing anything.

        ``before_save_checkpoint`` runs on every rank, as for a save. For hooks
        that write checkpoints their own way (in the background, say).
        `sharded`: the model and optimizer hold this rank's shards, as a sharded
        checkpoint (``save_format='dcp'``) saves them.
        """
        return _checkpointing.collect(
            self, save_optimizer, save_param_scheduler, meta, by_epoch, sharded
        )

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
        map_location: Any = "default",
    ) -> None:
        """Continue training from a checkpoint: weights, optimizer, schedulers, counters, RNG.

        ``map_location='default'`` (MMEngine's) reads the tensors to the CPU;
        loading them into the model and optimizer puts them on their devices.
        """
        location = "cpu" if map_location == "default" else map_location
        _checkpointing.resume(self, filename, resume_optimizer, resume_param_scheduler, location)

    def load_or_resume(self) -> None:
        """Resume or load weights as configured; runs once per runner."""
        start = self._start
        if start.used:
            return
        start.used = True
        if self._train.configured:
            log_restart(self.logger, start.resume, start.resume_from, start.load_from)
        if start.resume and self._train.configured:
            if start.resume_from is None:
                self.logger.info("No checkpoint found in %s to resume from.", self.work_dir)
                return
            self.resume(start.resume_from)
        elif start.load_from is not None:
            self.load_checkpoint(start.load_from)

    def dump_config(self) -> None:
        """Write the config into `work_dir` (rank 0) under its file's name, else ``<timestamp>.py``.

        The config file itself is never overwritten.
        """
        if self.rank != 0:
            return
        source = self.cfg.filename
        path = osp.join(self.work_dir, osp.basename(source) if source else f"{self.timestamp}.py")
        if source is None or osp.abspath(source) != path:
            self.cfg.dump(path)

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


def _check_scheduler_cfg(param_scheduler: Any) -> None:
    """Scheduler configs must name their type; MMEngine checks this when the runner is made."""
    items = param_scheduler if isinstance(param_scheduler, (list, tuple)) else [param_scheduler]
    if isinstance(param_scheduler, dict) and "type" not in param_scheduler:
        items = [item for value in param_scheduler.values()
                 for item in (value if isinstance(value, (list, tuple)) else [value])]  # fmt: skip
    for item in items:
        if isinstance(item, dict) and "type" not in item:
            raise ValueError(
                f"each param_scheduler config needs a 'type' (e.g. 'MultiStepLR'), got {item!r}"
            )


# Config keys MMEngine's runner reads that this one does not apply yet, and what they do there.
_UNSUPPORTED_OPTIONS = {
    "activation_checkpointing": "recompute the activations of these modules",
    "efficient_conv_bn_eval": "fuse conv and frozen batch norm of these modules",
}


def _refuse_unsupported_options(cfg: Mapping[str, Any]) -> None:
    """Fail at once on options that would otherwise be ignored silently."""
    for key, meaning in _UNSUPPORTED_OPTIONS.items():
        if cfg.get(key):
            raise ValueError(
                f"the config sets {key}={cfg[key]!r} ({meaning}), which this runner does not "
                f"support yet; remove it (or set it to None)"
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


def _experiment_name(name: str | None, cfg: Any, timestamp: str) -> str:
    """MMEngine's: ``<name>_<timestamp>``, ``<config file name>_<timestamp>`` or the timestamp.

    Made unique among the runners of this process (see `_unique_name`).
    """
    if name is None and cfg.filename:
        name = osp.splitext(osp.basename(cfg.filename))[0]
    return _unique_name(timestamp if name is None else f"{name}_{timestamp}")
