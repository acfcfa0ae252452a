"""`LoggerHook`: logs training, validation and test progress to the text log and every backend.

On a logging iteration the log processor reads the message hub, moves the
record's values to the host in one transfer and formats the line; the hook
then only enqueues: writer threads (see `_delivery`) hand the line to the
text log and the record to the backends. Other iterations only count down to
the next one that may log: a decrement and a comparison. The JSON log
(``<log_dir>/vis_data/scalars.json``) is always on and never drops a record,
whatever happens to the other backends.
"""

from __future__ import annotations

import atexit
import os
import os.path as osp

from hooks_core import HOOKS, LOG_BACKENDS, Hook
from hooks_core.model import unwrap_model
from hooks_core.utils import check_positive_int

from ._delivery import BackendWorker, Delivery
from ._json_backend import JsonBackend
from ._progress import ProgressBar, progress_wanted
from ._secrets import mask_secrets
from ._text_backend import TextBackend

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

__all__ = ["LoggerHook"]


@HOOKS.register_module()
class LoggerHook(Hook):
    """Log scalars and MMEngine-format lines every `interval` iterations, and evaluation metrics.

    Args:
        interval: Log every this many iterations of an epoch (of the run, for
            iteration-based training).
        ignore_last: Skip the last iterations of an epoch when they do not
            fill an interval.
        interval_exp_name: Print ``Exp name: ...`` every this many iterations.
        out_dir: Copy the log files (matching `out_suffix`) to
            ``out_dir/<work_dir name>/`` at the end of the run; a local or
            mounted path.
        out_suffix: Suffixes of the files to copy.
        keep_local: Keep the local copies after copying them to `out_dir`.
        file_client_args, backend_args: MMEngine's remote-storage options; not
            supported (give a mounted `out_dir` instead): a value raises.
        log_metric_by_epoch: In epoch-based runs, record validation metrics at
            the epoch (True) or at the iteration (False). Iteration-based runs
            always use the iteration, so steps never go backwards.
        backends: Backends besides the always-on text and JSON logs: names
            (``'tensorboard'``), configs (``dict(type='tensorboard')``) or
            backend objects. Configs without ``save_dir`` get
            ``<log_dir>/vis_data``.
        progress_bar: Draw a progress bar (tqdm) for train, val and test epochs.
            None draws it when stdout is a terminal and tqdm is installed.
        queue_size: Records a backend may have waiting before it is skipped.
        close_timeout: Seconds the end of the run waits for each backend.
        retry_delay, max_retry_delay: Back-off of a failing backend: the first
            wait in seconds, doubled after each failure up to the maximum.

    Several logger hooks in one runner (say the default `LoggerHook` and an
    MMCV-style ``TensorboardLoggerHook``) merge into the first one in call
    order: one line per record, sent to every backend of all of them.

    Raises:
        TypeError, ValueError: for options of the wrong type or value; the
            message names the option.
    """

    priority = "BELOW_NORMAL"

    def __init__(
        self,
        interval: int = 10,
        ignore_last: bool = True,
        interval_exp_name: int = 1000,
        out_dir: str | os.PathLike[str] | None = None,
        out_suffix: str | Sequence[str] = (".json", ".log", ".py", "yaml"),
        keep_local: bool = True,
        file_client_args: dict[str, Any] | None = None,
        log_metric_by_epoch: bool = True,
        backend_args: dict[str, Any] | None = None,
        backends: Sequence[Any] | None = None,
        progress_bar: bool | None = None,
        queue_size: int = 10_000,
        close_timeout: float = 60.0,
        retry_delay: float = 0.5,
        max_retry_delay: float = 30.0,
    ) -> None:
        for option, count in (("interval", interval), ("interval_exp_name", interval_exp_name),
                              ("queue_size", queue_size)):  # fmt: skip
            check_positive_int(count, f"LoggerHook {option}")
        for name, flag in (
            ("ignore_last", ignore_last),
            ("keep_local", keep_local),
            ("log_metric_by_epoch", log_metric_by_epoch),
        ):
            if not isinstance(flag, bool):
                raise TypeError(f"LoggerHook {name} must be a bool, got {flag!r}")
        for name, value in (("file_client_args", file_client_args), ("backend_args", backend_args)):
            if value is not None:
                raise ValueError(
                    f"LoggerHook {name} is MMEngine's remote-storage option, which is not "
                    "supported; give out_dir a local or mounted path instead"
                )
        if not isinstance(out_suffix, (str, tuple, list)):
            raise TypeError(
                f"LoggerHook out_suffix must be a str or a sequence, got {out_suffix!r}"
            )
        if not keep_local and out_dir is None:
            raise ValueError("LoggerHook keep_local=False needs an out_dir to copy the logs to")
        self.interval = interval
        self.ignore_last = ignore_last
        self.interval_exp_name = interval_exp_name
        self.out_dir = None if out_dir is None else os.fspath(out_dir)
        self.out_suffix = (out_suffix,) if isinstance(out_suffix, str) else tuple(out_suffix)
        self.keep_local = keep_local
        self.log_metric_by_epoch = log_metric_by_epoch
        self.backends = list(backends or ())
        self.progress_bar = progress_bar
        self.queue_size = queue_size
        self.close_timeout = close_timeout
        self.retry_delay, self.max_retry_delay = retry_delay, max_retry_delay
        self._text: TextBackend | None = None  # written on the training thread, in event order
        self._sinks: Delivery | None = None  # backends other than JSON logs
        self._json: Delivery | None = None  # MMEngine's scalars.json and other JSON logs
        self._deliveries: tuple[Delivery, ...] = ()  # both of them, once they exist
        self._bar: ProgressBar | None = None
        self._axes_declared: dict[str, set[str]] = {"json": set(), "other": set()}
        self._by_epoch = True
        self._countdown = 1  # iterations until the next one that may log

    # ------------------------------------------------------------ run
    def before_run(self, runner: Any) -> None:
        loggers = [hook for hook in runner.hooks if isinstance(hook, LoggerHook)]
        if loggers[0] is not self or runner.rank != 0:
            return  # the first logger hook logs for all of them, on rank 0 only
        if self.out_dir is not None:
            self.out_dir = osp.join(self.out_dir, osp.basename(runner.work_dir))
        configs = [config for hook in loggers for config in hook._backend_configs(runner)]
        vis_dir = osp.join(runner.log_dir, "vis_data")
        report = runner.logger.warning
        backends = _build_backends(configs, vis_dir)
        model = unwrap_model(runner.model)
        for backend in backends:  # before training, on this thread: W&B's `watch` adds hooks
            watch = getattr(backend, "watch", None)
            if callable(watch):
                watch(model)
        workers = [
            BackendWorker(
                backend,
                type(backend).__name__,
                report,
                essential=_is_json(backend),
                queue_size=self.queue_size,
                first_delay=self.retry_delay,
                max_delay=self.max_retry_delay,
            )
            for backend in backends
        ]
        self._text = TextBackend(logger=runner.logger)
        self._json = Delivery([w for w in workers if w.essential], report, self.close_timeout)
        self._sinks = Delivery([w for w in workers if not w.essential], report, self.close_timeout)
        self._deliveries = (self._json, self._sinks)
        if runner.cfg:
            for delivery in self._deliveries:
                delivery.call("log_config", mask_secrets(runner.cfg))
        if progress_wanted(self.progress_bar):
            self._bar = ProgressBar(runner.logger)
        atexit.register(self._close_at_exit)

    def after_run(self, runner: Any) -> None:
        if not self._closes_backends():
            return
        self._close()
        atexit.unregister(self._close_at_exit)
        if self.out_dir is not None:
            self._copy_logs(runner)

    # ------------------------------------------------------------ train
    def before_train(self, runner: Any) -> None:
        if self._text is not None:
            self._by_epoch = runner.log_processor.resolve_by_epoch(runner)

    def before_train_epoch(self, runner: Any) -> None:
        if self._text is None:
            return
        length = len(runner.train_dataloader)
        done_in_epoch = runner.iter - runner.epoch * length if self._by_epoch else runner.iter
        self._countdown = self._iterations_to_next_event(runner.iter, done_in_epoch, length, runner)
        if self._bar is not None:
            if self._by_epoch:
                title = f"Epoch {runner.epoch + 1}/{runner.max_epochs}"
                self._bar.start(length, title, done_in_epoch)
            else:
                self._bar.start(runner.max_iters, "Iterations", runner.iter)

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if self._text is None:  # not the primary logger, or not rank 0
            return
        if self._bar is not None:
            self._bar.update()
        self._countdown -= 1
        if self._countdown > 0:  # most iterations end here
            return
        self._train_events(runner, batch_idx)

    def _train_events(self, runner: Any, batch_idx: int) -> None:
        """Print the experiment name and log a record, each when due; then count to the next."""
        assert self._text is not None
        length = len(runner.train_dataloader)
        end_of_epoch = self._by_epoch and self.end_of_epoch(runner.train_dataloader, batch_idx)
        if self.every_n_train_iters(runner, self.interval_exp_name) or end_of_epoch:
            self._text.log_text("exp_name", f"Exp name: {runner.experiment_name}")
        if self._train_record_due(runner, batch_idx):
            tag, line = runner.log_processor.get_log_after_iter(runner, batch_idx, "train")
            step = runner.iter + 1
            self._text.log_text("train", line, step)
            self._send_scalars(tag, step, "iter")
            if self._bar is not None:
                self._bar.show({key: value for key, value in tag.items() if "loss" in key})
        done_in_epoch = batch_idx + 1 if self._by_epoch else runner.iter + 1
        self._countdown = self._iterations_to_next_event(
            runner.iter + 1, done_in_epoch, length, runner
        )

    def _iterations_to_next_event(
        self, done: int, done_in_epoch: int, length: int, runner: Any
    ) -> int:
        """How many iterations from now until one that may log or print the experiment name.

        `done` iterations are complete, `done_in_epoch` of them in this epoch
        (of the run, when counting iterations). The events themselves are
        checked in `_train_events` when the count runs out; this only spares
        the other iterations any work.
        """
        candidates = [_to_next_multiple(done, self.interval_exp_name)]
        if self._by_epoch:
            candidates += [_to_next_multiple(done_in_epoch, self.interval), length - done_in_epoch]
        else:
            candidates += [_to_next_multiple(done, self.interval), runner.max_iters - done]
        return max(1, min(c for c in candidates if c > 0) if any(c > 0 for c in candidates) else 1)

    def after_train_epoch(self, runner: Any) -> None:
        self._flush_unless_ending(runner)

    def _train_record_due(self, runner: Any, batch_idx: int) -> bool:
        if not self._by_epoch:
            return self.every_n_train_iters(runner, self.interval) or (
                not self.ignore_last and self.is_last_train_iter(runner)
            )
        if self.every_n_inner_iters(batch_idx, self.interval):
            return True
        length = len(runner.train_dataloader)
        return self.end_of_epoch(runner.train_dataloader, batch_idx) and (
            not self.ignore_last or length <= self.interval
        )

    # ------------------------------------------------------------ val and test
    def before_val_epoch(self, runner: Any) -> None:
        self._start_eval_bar(runner, "val")

    def before_test_epoch(self, runner: Any) -> None:
        self._start_eval_bar(runner, "test")

    def after_val_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        self._eval_iter(runner, batch_idx, "val")

    def after_test_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        self._eval_iter(runner, batch_idx, "test")

    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        if self._text is None:
            return
        self._end_eval_bar(runner)
        last = len(runner.val_dataloader) - 1
        tag, line = runner.log_processor.get_log_after_epoch(runner, last, "val")
        by_epoch = self._by_epoch and self.log_metric_by_epoch
        step = runner.epoch if by_epoch else runner.iter
        self._text.log_text("val", line, step)
        self._send_scalars(tag, step, "epoch" if by_epoch else "iter", "val")
        self._flush_unless_ending(runner)

    def after_test_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        if self._text is None:
            return
        self._end_eval_bar(runner)
        last = len(runner.test_dataloader) - 1
        tag, line = runner.log_processor.get_log_after_epoch(runner, last, "test", True)
        self._text.log_text("test", line, 0)
        by_epoch = self._by_epoch and self.log_metric_by_epoch
        step = runner.epoch if by_epoch else runner.iter
        self._send_scalars(tag, step, "epoch" if by_epoch else "iter", "test")

    def _eval_iter(self, runner: Any, batch_idx: int, mode: str) -> None:
        if self._text is None:
            return
        if self._bar is not None:
            self._bar.update()
        if self.every_n_inner_iters(batch_idx, self.interval):
            _, line = runner.log_processor.get_log_after_iter(runner, batch_idx, mode)
            self._text.log_text(mode, line, batch_idx + 1)

    def _start_eval_bar(self, runner: Any, mode: str) -> None:
        if self._bar is not None and self._text is not None:
            self._bar.start(len(getattr(runner, f"{mode}_dataloader")), mode.capitalize())

    def _end_eval_bar(self, runner: Any) -> None:
        if self._bar is not None:
            self._bar.close()

    # ------------------------------------------------------------ delivery
    def _send_scalars(self, tag: dict[str, Any], step: int, axis: str, mode: str = "train") -> None:
        """Queue `tag` with its axis value for every backend, named so no name mixes modes.

        JSON logs get MMEngine's names (validation's ``time`` beside training's);
        other backends, where one name is one curve, get validation's timings as
        ``val/time``... Test records are ``test/...`` everywhere: MMEngine's
        scalars.json has none to stay compatible with.
        """
        assert self._sinks is not None and self._json is not None
        record = {**tag, axis: tag.get(axis, step)}
        if mode == "test":
            record = _prefixed(record, mode, lambda key: key not in _AXES)
        self._deliver(self._json, "json", record, step, axis)
        if mode == "val":
            record = _prefixed(record, mode, lambda key: key in _EVAL_TIMINGS)
        self._deliver(self._sinks, "other", record, step, axis)

    def _deliver(
        self, delivery: Delivery, group: str, record: dict[str, Any], step: int, axis: str
    ) -> None:
        """Queue `record`, first declaring the axis of the names the backends have not seen."""
        declared = self._axes_declared[group]
        new = [key for key in record if key not in declared and key not in _AXES]
        if new:
            declared.update(new)
            delivery.call("define_step_axes", dict.fromkeys(new, axis))
        delivery.call("log_scalars", record, step, step=step)

    def _flush_unless_ending(self, runner: Any) -> None:
        """Show what was logged so far in dashboards; at the end of training, closing will."""
        loop = runner.built_train_loop
        if loop is None or runner.iter < runner.max_iters:
            for delivery in self._deliveries:
                delivery.call("flush")

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until each worker has reached every record queued so far (for tests and tools)."""
        return all([delivery.drain(timeout) for delivery in self._deliveries])

    def _closes_backends(self) -> bool:
        return self._text is not None and not self._text.closed

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        assert self._text is not None
        for delivery in self._deliveries:  # the JSON log first, as before any other backend
            delivery.close()
        self._text.close()

    def _close_at_exit(self) -> None:
        """Deliver what is queued when the process exits without reaching `after_run`."""
        if self._closes_backends():
            self._close()

    def _backend_configs(self, runner: Any) -> list[Any]:
        """The backends this hook asks for (MMCV-style subclasses add theirs)."""
        return list(self.backends)

    def _copy_logs(self, runner: Any) -> None:
        import shutil

        assert self.out_dir is not None
        for folder, _, files in os.walk(runner.log_dir):
            for name in files:
                if not name.endswith(self.out_suffix):
                    continue
                source = osp.join(folder, name)
                target = osp.join(self.out_dir, osp.relpath(source, runner.log_dir))
                os.makedirs(osp.dirname(target), exist_ok=True)
                shutil.copy2(source, target)
                if not self.keep_local:
                    os.remove(source)
        runner.logger.info("The logs are copied to %s", self.out_dir)


_AXES = frozenset({"iter", "epoch"})
_EVAL_TIMINGS = frozenset({"time", "data_time"})  # names validation shares with training


def _prefixed(record: dict[str, Any], mode: str, rename: Callable[[str], bool]) -> dict[str, Any]:
    """`record` with ``mode/`` before the names `rename` picks (unless they have it already)."""
    return {
        f"{mode}/{key}" if rename(key) and not key.startswith(f"{mode}/") else key: value
        for key, value in record.items()
    }


def _to_next_multiple(done: int, n: int) -> int:
    """Iterations from `done` to the next multiple of `n` (n when `done` is one)."""
    return n - done % n


def _build_backends(configs: Sequence[Any], vis_dir: str, with_json: bool = True) -> list[Any]:
    """Build every backend config once, with a JSON log first unless one is given or not asked.

    Configs (names or dicts) whose class takes ``save_dir`` get `vis_dir` unless
    they give one; backend objects are checked and used as they are.
    """
    import inspect

    built: list[Any] = []
    seen_configs: set[str] = set()
    for config in configs:
        if isinstance(config, str):
            config = {"type": config}
        if isinstance(config, dict):
            cfg = dict(config)
            cls = LOG_BACKENDS.get(cfg["type"]) if isinstance(cfg.get("type"), str) else None
            key = repr(sorted(cfg.items(), key=lambda item: item[0]))
            if key in seen_configs:
                continue
            seen_configs.add(key)
            if cls is not None and "save_dir" in inspect.signature(cls).parameters:
                cfg.setdefault("save_dir", vis_dir)
            built.append(LOG_BACKENDS.build(cfg))
        else:
            _check_backend(config)
            built.append(config)
    if with_json and not any(_is_json(backend) for backend in built):
        built.insert(0, JsonBackend(vis_dir))
    return built


def _check_backend(backend: Any) -> None:
    missing = [name for name in _BACKEND_METHODS if not callable(getattr(backend, name, None))]
    if missing:
        raise TypeError(
            f"LoggerHook backends: {backend!r} lacks {', '.join(missing)}; give a backend "
            "name, a config dict, or a hooks_logging.LoggerBackend subclass instance"
        )


_BACKEND_METHODS = (
    "log_scalars", "log_config", "log_image", "log_text", "define_step_axes", "flush", "close",
)  # fmt: skip


def _is_json(backend: Any) -> bool:
    return isinstance(backend, JsonBackend)
