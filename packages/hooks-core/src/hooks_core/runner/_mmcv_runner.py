"""MMCV 1.x's runners, `EpochBasedRunner` and `IterBasedRunner`, on top of `Runner`.

Code written for MMCV's runner runs unchanged but for imports: the same
constructor, ``run(data_loaders, workflow)``, ``register_training_hooks`` and the
attributes MMCV hooks read (``outputs``, ``log_buffer``, ``inner_iter``...). The
hooks, the message hub, logging, checkpoint files and resuming are the
`Runner`'s, so MMEngine-style hooks (the logger, checkpoint and EMA hooks of the
satellite packages) run on these runners too; they also get the points MMCV
lacks (``before_train``, ``before_val``, the checkpoint points) where MMEngine
calls them. As in MMCV, the model's ``train_step(data_batch, optimizer)``
returns ``dict(loss, log_vars, num_samples)`` and an ``OptimizerHook`` steps.
"""

from __future__ import annotations

import os
import socket
import tempfile
import warnings

from ..checkpoint import check_local_path, point_latest
from ..model._wrapper import model_class_name, unwrap_model
from ..registry._roots import OPTIM_WRAPPER_CONSTRUCTORS, RUNNERS
from ._exceptions import exceptions_to_hooks
from ._log_buffer import LogBuffer
from ._mmcv import policy_hook_config
from ._optimizer_view import OptimizerView, momentum_of
from ._runner import Runner
from ._stage import Stage
from ._work_dir_lock import errors_to_log_file, hold_work_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any

    from ..engine._hook import Hook
    from ..engine._priority import Priority

__all__ = ["BaseRunner", "EpochBasedRunner", "IterBasedRunner", "IterLoader", "build_runner"]

# Above the LR hook (VERY_HIGH, 10), so it publishes the learning rate the
# iteration uses; below nothing MMCV registers by default.
_RUNTIME_INFO_PRIORITY = 20
_NO_DEFAULT_HOOKS = dict.fromkeys(
    ("runtime_info", "timer", "sampler_seed", "logger", "param_scheduler", "checkpoint")
)


class _TrainState:
    """The training counters and data MMEngine-style hooks read as ``runner.train_loop``."""

    def __init__(self, by_epoch: bool, max_epochs: int | None, max_iters: int | None) -> None:
        self.by_epoch = by_epoch
        self.max_epochs = max_epochs
        self.max_iters = max_iters
        self.epoch = 0
        self.iter = 0
        self.dataloader: Any = None
        self.stop_training = False
        self.val_interval = 1
        self.val_begin = 1

    def load_position(self, epoch: int, iteration: int) -> None:
        """Continue from a checkpoint's counters."""
        self.epoch = epoch
        self.iter = iteration


class BaseRunner(Runner):
    """What MMCV's two runners share: their constructor, hook registration and checkpoints.

    Args:
        model: The model, with ``train_step(data_batch, optimizer, **kwargs)``
            and ``val_step`` returning ``dict(loss, log_vars, num_samples)``.
        batch_processor: Deprecated in MMCV: ``batch_processor(model, data_batch,
            train_mode=..., **kwargs)`` instead of the model's step methods.
        optimizer: A ``torch.optim.Optimizer``, a dict of them by name, or a
            config (``dict(type='SGD', lr=0.01)``, built with hooks-optim).
        work_dir: Where logs and checkpoints go; a new temporary folder when
            None (MMCV wrote nothing then, which its checkpoint hook could not use).
        logger: A ``logging.Logger`` to log to; the runner's own when None.
        meta: A dict saved in every checkpoint (``meta['hook_msgs']`` is where
            MMCV hooks keep what must survive a resume).
        max_iters, max_epochs: Length of training; give at most one.
    """

    # Plain attributes here, as in MMCV (on `Runner` they are read from its parts).
    optimizer: Any = None
    data_loader: Any = None
    log_buffer: Any = None
    _by_epoch = True

    def __init__(
        self,
        model: Any,
        batch_processor: Any = None,
        optimizer: Any = None,
        work_dir: str | os.PathLike[str] | None = None,
        logger: logging.Logger | None = None,
        meta: dict[str, Any] | None = None,
        max_iters: int | None = None,
        max_epochs: int | None = None,
    ) -> None:
        if max_epochs is not None and max_iters is not None:
            raise ValueError("give max_epochs or max_iters, not both (MMCV's rule)")
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f"meta must be a dict or None, got {type(meta).__name__}")
        if batch_processor is not None:
            if not callable(batch_processor):
                raise TypeError(f"batch_processor must be callable, got {batch_processor!r}")
            warnings.warn(
                "batch_processor is deprecated (as in MMCV): give the model train_step and "
                "val_step methods",
                DeprecationWarning,
                stacklevel=2,
            )
        elif not callable(getattr(unwrap_model(model), "train_step", None)):
            raise TypeError(
                f"{model_class_name(model)} has no train_step(data_batch, optimizer); "
                "add one returning dict(loss=..., log_vars=..., num_samples=...), or give a "
                "batch_processor"
            )
        self._given_logger = logger
        if work_dir is None:
            work_dir = tempfile.mkdtemp(prefix="hooks-runner-")
        super().__init__(model=model, work_dir=work_dir, default_hooks=_NO_DEFAULT_HOOKS)
        self.batch_processor = batch_processor
        self.meta = meta
        self.optimizer = _build_optimizer(self.model, optimizer)
        self.optim_wrapper = None if self.optimizer is None else OptimizerView(self.optimizer)
        self._train = Stage("train", None, _TrainState(self._by_epoch, max_epochs, max_iters))
        self.mode: str | None = None
        self.data_loader = None
        self.data_batch: Any = None
        self.outputs: dict[str, Any] = {}
        self.log_buffer = LogBuffer()
        self._inner_iter = 0
        self._val_loader: Any = None
        self.register_hook({"type": "RuntimeInfoHook"}, priority=_RUNTIME_INFO_PRIORITY)

    def build_logger(
        self, log_level: int | str = "INFO", log_file: str | None = None, **kwargs: Any
    ) -> logging.Logger:
        """The logger given to the constructor, else the runner's own (`Runner.build_logger`)."""
        if self._given_logger is not None:
            return self._given_logger
        return super().build_logger(log_level, log_file, **kwargs)

    def wrap_model(self, model_wrapper_cfg: Mapping[str, Any] | None, model: Any) -> Any:
        """The model as given: MMCV's runners never wrap it (callers wrap it for DDP themselves)."""
        return model

    def _init_randomness(self) -> None:
        """MMCV's runners leave seeding to the caller; ``meta['seed']`` is the run's seed if set."""
        self.seed = None  # type: ignore[assignment]  # no seed was set
        self.deterministic = False

    # ------------------------------------------------------------ what MMCV hooks read
    @property
    def inner_iter(self) -> int:
        """The iteration's index in the current epoch (or workflow pass)."""
        return self._inner_iter

    @property
    def max_epochs(self) -> int:
        """Epochs of training (MMCV's ``_max_epochs``); 0 until known."""
        return int(self._train.loop.max_epochs or 0)

    @property
    def max_iters(self) -> int:
        """Iterations of training (MMCV's ``_max_iters``); 0 until known."""
        return int(self._train.loop.max_iters or 0)

    @property
    def _max_epochs(self) -> int:
        return self.max_epochs

    @property
    def _max_iters(self) -> int:
        return self.max_iters

    @property
    def _epoch(self) -> int:
        return self.epoch

    @property
    def _iter(self) -> int:
        return self.iter

    @property
    def _model(self) -> Any:
        return unwrap_model(self.model)

    def current_lr(self) -> list[float] | dict[str, list[float]]:
        """The learning rate of each parameter group (per optimizer for a dict of them)."""
        if self.optimizer is None:
            raise RuntimeError("lr is not applicable because optimizer does not exist.")
        if isinstance(self.optimizer, dict):
            return {k: [g["lr"] for g in o.param_groups] for k, o in self.optimizer.items()}
        return [group["lr"] for group in self.optimizer.param_groups]

    def current_momentum(self) -> list[float] | dict[str, list[float]]:
        """The momentum (or Adam's first beta) of each parameter group."""
        if self.optimizer is None:
            raise RuntimeError("momentum is not applicable because optimizer does not exist.")
        if isinstance(self.optimizer, dict):
            return {k: [momentum_of(g) for g in o.param_groups] for k, o in self.optimizer.items()}
        return [momentum_of(group) for group in self.optimizer.param_groups]

    # ------------------------------------------------------------ one step
    def run_iter(self, data_batch: Any, train_mode: bool, **kwargs: Any) -> None:
        """Run the model's step on a batch; its log variables go into `log_buffer`."""
        if self.batch_processor is not None:
            outputs = self.batch_processor(self.model, data_batch, train_mode=train_mode, **kwargs)
        elif train_mode:
            outputs = self.model.train_step(data_batch, self.optimizer, **kwargs)
        else:
            outputs = self.model.val_step(data_batch, self.optimizer, **kwargs)
        self._take_outputs(outputs, "train_step" if train_mode else "val_step")

    def _take_outputs(self, outputs: Any, step: str) -> None:
        if not isinstance(outputs, dict):
            raise TypeError(
                f"model.{step}() must return a dict (loss, log_vars, num_samples), "
                f"got {type(outputs).__name__}"
            )
        if "log_vars" in outputs:
            self.log_buffer.update(outputs["log_vars"], outputs["num_samples"])
        self.outputs = outputs

    def _start_message(self, workflow: Sequence[tuple[str, int]], length: str) -> None:
        self.logger.info(
            "Start running, host: %s@%s, work_dir: %s",
            os.environ.get("USER", "user"),
            socket.gethostname(),
            self.work_dir,
        )
        self.logger.info("Hooks will be executed in the following order:\n%s", self.get_hook_info())
        self.logger.info("workflow: %s, max: %s", workflow, length)

    @staticmethod
    def _check_workflow(data_loaders: Sequence[Any], workflow: Sequence[tuple[str, int]]) -> None:
        if not isinstance(data_loaders, list):
            raise TypeError(f"data_loaders must be a list, got {type(data_loaders).__name__}")
        if not all(isinstance(flow, tuple) and len(flow) == 2 for flow in workflow):
            raise TypeError(f"workflow must be a list of (mode, count) tuples, got {workflow!r}")
        if len(data_loaders) != len(workflow):
            raise ValueError(
                f"{len(data_loaders)} data loaders for {len(workflow)} workflow entries; "
                "give one data loader per entry"
            )
        for mode, _ in workflow:
            if mode not in ("train", "val"):
                raise ValueError(
                    f'runner has no method named "{mode}" to run a workflow; use train or val'
                )

    def _prepare_run(
        self,
        data_loaders: list[Any],
        workflow: list[tuple[str, int]],
        length: str,
        value: int | None,
    ) -> _TrainState:
        """Check the workflow and the training length (`max_epochs` or `max_iters`)."""
        self._check_workflow(data_loaders, workflow)
        state: _TrainState = self._train.loop
        if value is not None:
            warnings.warn(
                f"setting {length} in run is deprecated, please set {length} in the runner's "
                "constructor",
                DeprecationWarning,
                stacklevel=3,
            )
            setattr(state, length, value)
        if not getattr(state, length):
            raise ValueError(f"{length} must be given to {type(self).__name__}(...)")
        self._val_loader = self._workflow_loader(data_loaders, workflow, "val")
        return state

    def _trained_enough(self) -> bool:
        """Whether training is over (its length reached, or a hook stopped it)."""
        raise NotImplementedError

    def _run_workflow(
        self, loaders: list[Any], workflow: list[tuple[str, int]], **kwargs: Any
    ) -> None:
        """Repeat the workflow's entries in order until training is over."""
        while not self._trained_enough():
            for loader, (mode, count) in zip(loaders, workflow, strict=True):
                self._inner_iter = 0
                for _ in range(count):
                    if mode == "train" and self._trained_enough():
                        break
                    if mode == "train":
                        self.train(loader, **kwargs)
                    else:
                        self.val(loader, **kwargs)

    def _workflow_loader(
        self, data_loaders: Sequence[Any], workflow: Sequence[tuple[str, int]], mode: str
    ) -> Any:
        for loader, (flow_mode, _) in zip(data_loaders, workflow, strict=True):
            if flow_mode == mode:
                return loader
        return None

    # ------------------------------------------------------------ hooks
    def get_hook_info(self) -> str:
        """MMCV's name for `get_hooks_info`."""
        return self.get_hooks_info()

    def register_hook(
        self, hook: Hook | Mapping[str, Any], priority: int | str | Priority | None = "NORMAL"
    ) -> Hook:
        """Register a hook (or its config) at `priority` (MMCV's default: NORMAL)."""
        return self._hooks.register(hook, priority)

    def register_hook_from_cfg(self, hook_cfg: Mapping[str, Any]) -> Hook:
        """Build a hook from its config, at the config's ``priority`` (NORMAL if none)."""
        cfg = dict(hook_cfg)
        return self.register_hook(cfg, priority=cfg.pop("priority", "NORMAL"))

    def register_lr_hook(self, lr_config: Mapping[str, Any] | Hook | None) -> None:
        """``dict(policy='step', ...)`` becomes a ``StepLrUpdaterHook`` (hooks-optim), VERY_HIGH."""
        if lr_config is not None:
            self.register_hook(_policy_hook(lr_config, "LrUpdaterHook"), priority="VERY_HIGH")

    def register_momentum_hook(self, momentum_config: Mapping[str, Any] | Hook | None) -> None:
        """``dict(policy='cyclic', ...)`` becomes a ``CyclicMomentumUpdaterHook``, HIGH."""
        if momentum_config is not None:
            hook = _policy_hook(momentum_config, "MomentumUpdaterHook")
            self.register_hook(hook, priority="HIGH")

    def register_optimizer_hook(self, optimizer_config: Mapping[str, Any] | Hook | None) -> None:
        """An ``OptimizerHook`` (or the config's type) from hooks-optim, ABOVE_NORMAL."""
        if optimizer_config is not None:
            hook = _with_default_type(optimizer_config, "OptimizerHook")
            self.register_hook(hook, priority="ABOVE_NORMAL")

    def register_checkpoint_hook(self, checkpoint_config: Mapping[str, Any] | Hook | None) -> None:
        """A ``CheckpointHook`` (hooks-eval) from its options, NORMAL."""
        if checkpoint_config is not None:
            hook = _with_default_type(checkpoint_config, "CheckpointHook")
            self.register_hook(hook, priority="NORMAL")

    def register_logger_hooks(self, log_config: Mapping[str, Any] | None) -> None:
        """Register each hook of ``dict(interval=N, hooks=[...])`` at VERY_LOW, with that interval.

        A hook that sets its own interval keeps it; without ``interval`` the default is 10.
        """
        if log_config is None:
            return
        interval = log_config.get("interval", 10)
        for info in log_config["hooks"]:
            self.register_hook({"interval": interval, **info}, priority="VERY_LOW")

    def register_timer_hook(self, timer_config: Mapping[str, Any] | Hook | None) -> None:
        """The iteration timer, LOW."""
        if timer_config is not None:
            hook = dict(timer_config) if isinstance(timer_config, dict) else timer_config
            self.register_hook(hook, priority="LOW")

    def register_custom_hooks(self, custom_config: Any) -> None:
        """A hook, a config or a list of them; configs at their ``priority`` (NORMAL if none)."""
        if custom_config is None:
            return
        items = custom_config if isinstance(custom_config, list) else [custom_config]
        for item in items:
            if isinstance(item, dict):
                self.register_hook_from_cfg(item)
            else:
                self.register_hook(item, priority="NORMAL")

    def register_profiler_hook(self, profiler_config: Mapping[str, Any] | Hook | None) -> None:
        """A ``ProfilerHook`` from its options."""
        if profiler_config is not None:
            self.register_hook(_with_default_type(profiler_config, "ProfilerHook"))

    def register_training_hooks(
        self,
        lr_config: Mapping[str, Any] | Hook | None,
        optimizer_config: Mapping[str, Any] | Hook | None = None,
        checkpoint_config: Mapping[str, Any] | Hook | None = None,
        log_config: Mapping[str, Any] | None = None,
        momentum_config: Mapping[str, Any] | Hook | None = None,
        timer_config: Mapping[str, Any] | Hook | None = None,
        custom_hooks_config: Any = None,
    ) -> None:
        """Register MMCV's default training hooks from their configs, then the custom hooks.

        Priorities are MMCV's: lr VERY_HIGH, momentum HIGH, optimizer
        ABOVE_NORMAL, checkpoint NORMAL, timer LOW, loggers VERY_LOW. The
        callers' config dicts are not modified. `timer_config` defaults to
        ``dict(type='IterTimerHook')``.
        """
        self.register_lr_hook(lr_config)
        self.register_momentum_hook(momentum_config)
        self.register_optimizer_hook(optimizer_config)
        self.register_checkpoint_hook(checkpoint_config)
        timer = {"type": "IterTimerHook"} if timer_config is None else timer_config
        self.register_timer_hook(timer)
        self.register_logger_hooks(log_config)
        self.register_custom_hooks(custom_hooks_config)

    # ------------------------------------------------------------ checkpoints
    _filename_tmpl = "epoch_{}.pth"

    def _checkpoint_number(self) -> int:
        return self.epoch + 1

    def save_checkpoint(  # type: ignore[override]
        self,
        out_dir: str | os.PathLike[str],
        filename_tmpl: str | None = None,
        save_optimizer: bool = True,
        meta: Mapping[str, Any] | None = None,
        create_symlink: bool = True,
        *,
        file_client_args: Mapping[str, Any] | None = None,
        save_param_scheduler: bool = True,
        by_epoch: bool | None = None,
        backend_args: Mapping[str, Any] | None = None,
    ) -> str:
        """Save ``epoch_N.pth`` (``iter_N.pth``) in `out_dir`, and point ``latest.pth`` at it.

        `filename_tmpl` is formatted with the epoch (iteration) number; a name
        without ``{}`` is used as it is, so MMEngine's ``save_checkpoint(out_dir,
        filename, ...)`` works too. ``meta`` adds to the runner's `meta`.
        """
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f"meta should be a dict or None, but got {type(meta).__name__}")
        check_local_path(out_dir, file_client_args, backend_args, owner="save_checkpoint")
        template = self._filename_tmpl if filename_tmpl is None else filename_tmpl
        filename = template.format(self._checkpoint_number()) if "{}" in template else template
        path = super().save_checkpoint(
            out_dir,
            filename,
            save_optimizer=save_optimizer,
            save_param_scheduler=save_param_scheduler,
            meta=self._with_own_meta(meta),
            by_epoch=self._by_epoch if by_epoch is None else by_epoch,
        )
        if create_symlink and self.rank == 0:
            point_latest(path)
        return path

    def collect_checkpoint(
        self,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        meta: Mapping[str, Any] | None = None,
        by_epoch: bool = True,
        *,
        sharded: bool = False,
    ) -> dict[str, Any]:
        """As `Runner.collect_checkpoint`, with the runner's `meta` in the checkpoint's (MMCV's)."""
        if sharded:
            raise ValueError("MMCV's runners write .pth checkpoints only: use save_format='pth'")
        return super().collect_checkpoint(
            save_optimizer, save_param_scheduler, self._with_own_meta(meta), by_epoch
        )

    def _with_own_meta(self, meta: Mapping[str, Any] | None) -> dict[str, Any]:
        """`meta` over the runner's `meta`; the counters always come from the runner itself."""
        own = {k: v for k, v in (self.meta or {}).items() if k not in ("epoch", "iter")}
        return {**own, **(meta or {})}

    def resume(  # type: ignore[override]
        self,
        checkpoint: str,
        resume_optimizer: bool = True,
        map_location: Any = "default",
    ) -> None:
        """Continue from `checkpoint`: weights, counters, ``meta['hook_msgs']``, optimizer(s).

        The message hub is restored too when the checkpoint has one (this
        project's checkpoints do; MMCV's do not).
        """
        location = "cpu" if map_location == "default" else map_location
        self._start.resume = True  # hooks that read `runner._resume` (EMAHook) see a resume
        loaded = self.load_checkpoint(checkpoint, map_location=location)
        meta = dict(loaded.get("meta") or {})
        self._train.loop.load_position(int(meta.get("epoch", 0)), int(meta.get("iter", 0)))
        hook_msgs = {**((self.meta or {}).get("hook_msgs") or {}), **(meta.get("hook_msgs") or {})}
        self.meta = {**meta, "hook_msgs": hook_msgs}
        if resume_optimizer and "optimizer" in loaded and self.optim_wrapper is not None:
            self.optim_wrapper.load_state_dict(loaded["optimizer"])
        if "message_hub" in loaded:
            self.message_hub.load_state_dict(loaded["message_hub"])
        self._after_resume()
        self.logger.info("resumed epoch %d, iter %d", self.epoch, self.iter)

    def _after_resume(self) -> None:
        """Subclasses align their own counters with the resumed ones."""

    @property
    def val_dataloader(self) -> Any:
        """The loader of the workflow's ``('val', n)`` entry, once `run` started; else None."""
        return self._val_loader

    def train(self, data_loader: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise NotImplementedError

    def val(self, data_loader: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise NotImplementedError

    def run(self, data_loaders: list[Any], workflow: list[tuple[str, int]], **kwargs: Any) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(work_dir={self.work_dir!r})"


@RUNNERS.register_module()
class EpochBasedRunner(BaseRunner):
    """MMCV's epoch-based runner: ``run(data_loaders, workflow)`` trains for `max_epochs`.

    A workflow such as ``[('train', 2), ('val', 1)]`` trains two epochs, then
    runs the model's ``val_step`` over the second loader under ``no_grad``, and
    repeats until `max_epochs` training epochs are done. MMCV's pauses between
    epochs (``time.sleep``) are left out.

    Example:
        >>> runner = EpochBasedRunner(model, optimizer=optimizer, max_epochs=12)  # doctest: +SKIP
        >>> runner.register_training_hooks(lr_config, optimizer_config)  # doctest: +SKIP
        >>> runner.run([train_loader], [('train', 1)])  # doctest: +SKIP
    """

    _by_epoch = True
    _filename_tmpl = "epoch_{}.pth"

    def _checkpoint_number(self) -> int:
        return self.epoch + 1

    def _trained_enough(self) -> bool:
        state = self._train.loop
        return bool(state.epoch >= state.max_epochs or state.stop_training)

    def train(self, data_loader: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """One training epoch over `data_loader`."""
        state = self._train.loop
        self.model.train()
        self.mode = "train"
        self.data_loader = state.dataloader = data_loader
        state.max_iters = state.max_epochs * len(data_loader)
        call_hook = self.call_hook
        call_hook("before_train_epoch")
        for index, data_batch in enumerate(data_loader):
            self.data_batch = data_batch
            self._inner_iter = index
            call_hook("before_train_iter", batch_idx=index, data_batch=data_batch)
            self.run_iter(data_batch, train_mode=True, **kwargs)
            call_hook(
                "after_train_iter",
                batch_idx=index,
                data_batch=data_batch,
                outputs=self.outputs.get("log_vars"),
            )
            self.data_batch = None
            state.iter += 1
        call_hook("after_train_epoch")
        state.epoch += 1

    def val(self, data_loader: Any, **kwargs: Any) -> dict[str, float]:  # type: ignore[override]
        """One pass of ``val_step`` over `data_loader`; returns the averaged log variables."""
        import torch

        self.model.eval()
        self.mode = "val"
        self.data_loader = data_loader
        call_hook = self.call_hook
        call_hook("before_val")
        call_hook("before_val_epoch")
        totals: dict[str, float] = {}
        samples: dict[str, int] = {}
        for index, data_batch in enumerate(data_loader):
            self.data_batch = data_batch
            self._inner_iter = index
            call_hook("before_val_iter", batch_idx=index, data_batch=data_batch)
            with torch.no_grad():
                self.run_iter(data_batch, train_mode=False, **kwargs)
            log_vars = self.outputs.get("log_vars")
            _accumulate(totals, samples, log_vars, self.outputs.get("num_samples", 1))
            call_hook("after_val_iter", batch_idx=index, data_batch=data_batch, outputs=log_vars)
            self.data_batch = None
        metrics = {key: totals[key] / samples[key] for key in totals if samples[key]}
        call_hook("after_val_epoch", metrics=metrics)
        call_hook("after_val")
        return metrics

    def run(
        self,
        data_loaders: list[Any],
        workflow: list[tuple[str, int]],
        max_epochs: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Run the workflow until `max_epochs` training epochs are done.

        Args:
            data_loaders: One data loader per workflow entry.
            workflow: ``[('train', n), ('val', m), ...]``, repeated in order.
            max_epochs: Deprecated in MMCV: give it to the constructor.
            **kwargs: Passed on to ``train_step``/``val_step``.
        """
        with (
            exceptions_to_hooks(self),
            errors_to_log_file(self.logger, "Training"),
            hold_work_dir(self),
        ):
            state = self._prepare_run(data_loaders, workflow, "max_epochs", max_epochs)
            train_loader = self._workflow_loader(data_loaders, workflow, "train")
            if train_loader is not None:
                state.max_iters = self.max_epochs * len(train_loader)
                state.dataloader = train_loader
            self._start_message(workflow, f"{state.max_epochs} epochs")
            call_hook = self.call_hook
            call_hook("before_run")
            call_hook("before_train")
            self._run_workflow(data_loaders, workflow, **kwargs)
            call_hook("after_train")
            call_hook("after_run")


class IterLoader:
    """A data loader that starts over when exhausted, moving its sampler to the next epoch."""

    def __init__(self, dataloader: Any) -> None:
        self._dataloader = dataloader
        self.iter_loader: Iterator[Any] = iter(dataloader)
        self._epoch = 0

    @property
    def epoch(self) -> int:
        """How many times the loader was exhausted."""
        return self._epoch

    def __next__(self) -> Any:
        try:
            return next(self.iter_loader)
        except StopIteration:
            self._epoch += 1
            set_epoch = getattr(getattr(self._dataloader, "sampler", None), "set_epoch", None)
            if set_epoch is not None:
                set_epoch(self._epoch)
            self.iter_loader = iter(self._dataloader)
            return next(self.iter_loader)

    def __len__(self) -> int:
        return len(self._dataloader)


@RUNNERS.register_module()
class IterBasedRunner(BaseRunner):
    """MMCV's iteration-based runner: ``run(data_loaders, workflow)`` trains for `max_iters`.

    The loaders cycle (`IterLoader`). A workflow such as ``[('train', 100),
    ('val', 10)]`` alternates 100 training and 10 validation iterations. As in
    MMCV, the generic ``before_epoch``/``after_epoch`` points are called once,
    around the whole run, and the ``*_train_epoch`` points never; checkpoints are
    ``iter_N.pth``.
    """

    _by_epoch = False
    _filename_tmpl = "iter_{}.pth"

    def _checkpoint_number(self) -> int:
        return self.iter + 1

    def _trained_enough(self) -> bool:
        state = self._train.loop
        return bool(state.iter >= state.max_iters or state.stop_training)

    def _after_resume(self) -> None:
        self._inner_iter = self.iter

    def train(self, data_loader: IterLoader, **kwargs: Any) -> None:  # type: ignore[override]
        """One training iteration on the next batch of `data_loader`."""
        state = self._train.loop
        self.model.train()
        self.mode = "train"
        self.data_loader = data_loader
        state.epoch = data_loader.epoch
        data_batch = next(data_loader)
        self.data_batch = data_batch
        call_hook = self.call_hook
        call_hook("before_train_iter", batch_idx=state.iter, data_batch=data_batch)
        self.run_iter(data_batch, train_mode=True, **kwargs)
        call_hook(
            "after_train_iter",
            batch_idx=state.iter,
            data_batch=data_batch,
            outputs=self.outputs.get("log_vars"),
        )
        self.data_batch = None
        self._inner_iter += 1
        state.iter += 1

    def val(self, data_loader: IterLoader, **kwargs: Any) -> None:  # type: ignore[override]
        """One validation iteration (``val_step`` under no_grad) on the next batch."""
        import torch

        self.model.eval()
        self.mode = "val"
        self.data_loader = data_loader
        data_batch = next(data_loader)
        self.data_batch = data_batch
        self.call_hook("before_val_iter", batch_idx=self._inner_iter, data_batch=data_batch)
        with torch.no_grad():
            if self.batch_processor is not None:
                outputs = self.batch_processor(self.model, data_batch, train_mode=False, **kwargs)
            else:
                outputs = self.model.val_step(data_batch, **kwargs)
        self._take_outputs(outputs, "val_step")
        self.call_hook(
            "after_val_iter",
            batch_idx=self._inner_iter,
            data_batch=data_batch,
            outputs=self.outputs.get("log_vars"),
        )
        self.data_batch = None
        self._inner_iter += 1

    def run(
        self,
        data_loaders: list[Any],
        workflow: list[tuple[str, int]],
        max_iters: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Run the workflow until `max_iters` training iterations are done.

        Args:
            data_loaders: One data loader per workflow entry.
            workflow: ``[('train', n), ('val', m), ...]`` in iterations, repeated.
            max_iters: Deprecated in MMCV: give it to the constructor.
            **kwargs: Passed on to ``train_step``/``val_step``.
        """
        with (
            exceptions_to_hooks(self),
            errors_to_log_file(self.logger, "Training"),
            hold_work_dir(self),
        ):
            state = self._prepare_run(data_loaders, workflow, "max_iters", max_iters)
            state.max_epochs = 1
            self._start_message(workflow, f"{state.max_iters} iters")
            call_hook = self.call_hook
            call_hook("before_run")
            iter_loaders = [IterLoader(loader) for loader in data_loaders]
            train_loader = self._workflow_loader(iter_loaders, workflow, "train")
            state.dataloader = None if train_loader is None else train_loader._dataloader
            call_hook("before_train")
            call_hook("before_epoch")
            self._run_workflow(iter_loaders, workflow, **kwargs)
            call_hook("after_epoch")
            call_hook("after_train")
            call_hook("after_run")

    def register_training_hooks(
        self,
        lr_config: Mapping[str, Any] | Hook | None,
        optimizer_config: Mapping[str, Any] | Hook | None = None,
        checkpoint_config: Mapping[str, Any] | Hook | None = None,
        log_config: Mapping[str, Any] | None = None,
        momentum_config: Mapping[str, Any] | Hook | None = None,
        timer_config: Mapping[str, Any] | Hook | None = None,
        custom_hooks_config: Any = None,
    ) -> None:
        """As `BaseRunner.register_training_hooks`, counting in iterations (``by_epoch=False``)."""
        if isinstance(checkpoint_config, dict):
            checkpoint_config = {"by_epoch": False, **checkpoint_config}
        if isinstance(lr_config, dict):
            lr_config = {"by_epoch": False, **lr_config}
        if log_config is not None:
            log_config = {
                **log_config,
                "hooks": [{"by_epoch": False, **info} for info in log_config["hooks"]],
            }
        super().register_training_hooks(
            lr_config,
            optimizer_config,
            checkpoint_config,
            log_config,
            momentum_config,
            timer_config,
            custom_hooks_config,
        )


def build_runner(cfg: Mapping[str, Any], default_args: Mapping[str, Any] | None = None) -> Any:
    """Build a runner from ``dict(type='EpochBasedRunner', max_epochs=...)`` and `default_args`.

    `default_args` holds what the config does not (``model``, ``optimizer``,
    ``work_dir``, ``logger``, ``meta``), as MMCV's `build_runner` takes them.
    """
    runner_cfg = dict(cfg)
    constructor = runner_cfg.pop("constructor", "DefaultRunnerConstructor")
    if constructor != "DefaultRunnerConstructor":
        raise ValueError(
            f"runner constructor {constructor!r} is not available; only MMCV's default "
            "constructor is: subclass the runner and register it in RUNNERS instead"
        )
    return RUNNERS.build(runner_cfg, default_args=dict(default_args or {}))


def _policy_hook(config: Mapping[str, Any] | Hook, suffix: str) -> Any:
    return policy_hook_config(config, suffix) if isinstance(config, dict) else config


def _with_default_type(config: Mapping[str, Any] | Hook, hook_type: str) -> Any:
    return {"type": hook_type, **config} if isinstance(config, dict) else config


def _build_optimizer(model: Any, optimizer: Any) -> Any:
    """An optimizer, a dict of them by name, or one built from its config (MMCV's forms)."""
    if optimizer is None or hasattr(optimizer, "param_groups"):
        return optimizer
    if not isinstance(optimizer, dict):
        raise TypeError(
            f"optimizer must be a torch Optimizer, a dict of them or a config dict, "
            f"got {type(optimizer).__name__}"
        )
    if "type" not in optimizer:  # name -> optimizer or config, one per sub-model
        return {
            name: _build_optimizer(getattr(unwrap_model(model), name), value)
            for name, value in optimizer.items()
        }
    cfg = dict(optimizer)
    paramwise_cfg = cfg.pop("paramwise_cfg", None)
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        {
            "type": cfg.pop("constructor", "DefaultOptimWrapperConstructor"),
            "optim_wrapper_cfg": {"type": "OptimWrapper", "optimizer": cfg},
            "paramwise_cfg": paramwise_cfg,
        }
    )
    return constructor(unwrap_model(model)).optimizer


def _accumulate(
    totals: dict[str, float], samples: dict[str, int], log_vars: Any, count: int
) -> None:
    for key, value in (log_vars or {}).items():
        totals[key] = totals.get(key, 0.0) + float(value) * count
        samples[key] = samples.get(key, 0) + count
