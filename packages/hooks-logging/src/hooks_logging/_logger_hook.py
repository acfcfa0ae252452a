"""`LoggerHook`: logs training, validation and test progress to the text log and every backend.

On a logging iteration the log processor reads the message hub, moves the
record's values to the host in one transfer and formats the line; the hook
then only enqueues: writer threads (see `_delivery`) hand the record to the
backends. The iterations between two that may log are marked quiet once, so
they cost two comparisons. The JSON log (MMEngine's
``<log_dir>/vis_data/scalars.json`` and ``vis_data/<timestamp>.json``) is
always on and never drops a record, whatever happens to the other backends;
test metrics are also dumped to ``<log_dir>/<timestamp>.json``, as MMEngine does.

The hook reads what it needs from the runner when called, so its methods
also work when called directly on a runner stand-in (as MMEngine's tests do),
without `before_run`: the first call sets the logging up.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import os.path as osp
import sys
import time

from hooks_core import HOOKS, LOG_BACKENDS, Hook
from hooks_core.checkpoint import check_storage_args, is_url, write_atomically
from hooks_core.model import unwrap_model
from hooks_core.runtime import StopRequested
from hooks_core.utils import check_positive_int

from ._backend import LoggerBackend, exit_status
from ._delivery import CTRL_C, BackendWorker, Call, Delivery, backend_names, numbered_name
from ._json_backend import JsonBackend
from ._mmcv_log_buffer import LogBufferReader
from ._progress import ProgressBar, progress_wanted
from ._secrets import mask_secrets
from ._text_backend import TextBackend
from ._visualizer import VisualizerLink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
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
            ``out_dir/<work_dir name>/`` at the end of the run: a local or
            mounted path, or an fsspec URL (``s3://bucket/logs``, with
            ``hooks-core[s3]``), where each file is uploaded under a
            temporary key first.
        out_suffix: Suffixes of the files to copy: a str or a sequence of str.
        keep_local: Keep the local copies after copying them to `out_dir`.
        file_client_args: MMEngine's deprecated name of `backend_args` (a
            DeprecationWarning); needs `out_dir`.
        log_metric_by_epoch: In epoch-based runs, record validation metrics at
            the epoch (True) or at the iteration (False). Iteration-based runs
            always use the iteration, so steps never go backwards.
        backend_args: MMEngine's storage options for `out_dir`: for a URL,
            fsspec's (``dict(backend='s3', endpoint_url=..., key=...)``; see
            ``hooks_core.checkpoint.check_storage_args``); for a path, only the
            local disk (``dict(backend='local')`` or ``'disk'``).
        backends: Backends besides the always-on text and JSON logs: names
            (``'tensorboard'``), configs (``dict(type='tensorboard')``) or
            backend objects. Configs without ``save_dir`` get
            ``<log_dir>/vis_data``.
        progress_bar: Draw a progress bar (tqdm) for train, val and test epochs.
            None draws it when stdout is a terminal and tqdm is installed.
        queue_size: Records a backend may have waiting before it is skipped.
        close_timeout: Seconds the end of the run waits, at most, for all the
            backends together to deliver what they hold and close (see "The
            end of a run" below). Records still undelivered then are reported
            as lost for that backend, with their count and steps; the JSON log
            has them. The default, 60 s, lets a healthy tracker catch up with a
            backlog and finish (W&B's upload, MLflow's buffered metrics and log
            artifacts), while a dead server holds a finished job up for a
            minute at most.
        retry_delay, max_retry_delay: Back-off of a failing backend: the first
            wait in seconds, doubled after each failure up to the maximum.

    The end of a run: the JSON logs are closed first (they are local files,
    complete on disk before anything else is waited for; the text log is
    written as each line comes), then the hook waits for the other backends,
    which all deliver and close at the same time, within one `close_timeout`.
    When everything was delivered already, this is instant and silent. When
    records are still left after half a second, an INFO line says so, and
    then one every 5 s: which backends, how many records each has left, how
    long the wait may still last (a wait for the backends' own closing, with
    every record delivered, gets its first line at 5 s). Ctrl-C ends the wait at once: one warning
    says what each backend did not get, those still busy stop at their next
    call and close on their own threads (not waited for), the text log is
    closed and the logs copied to `out_dir`; then the KeyboardInterrupt goes
    on, so ``train()`` does not return as if the run had ended normally and
    the script stops, as Ctrl-C in Hugging Face's Trainer or Lightning's
    (which shuts down and exits with status 1) does. The ``after_run`` of
    hooks called after this one is then skipped.

    Several logger hooks in one runner (say the default `LoggerHook` and an
    MMCV-style ``TensorboardLoggerHook``) merge into the first one in call
    order: one line per record, sent to every backend of all of them. The
    options of that one log (`interval`, `ignore_last`, `interval_exp_name`,
    `log_metric_by_epoch`, `progress_bar` and the delivery options) are those
    any of the hooks sets to other than its default; two hooks setting one of
    them to different values is an error when the run starts. Each hook with
    an `out_dir` copies the logs there itself, with its own `out_suffix` and
    `keep_local`.

    On MMCV's runners (`EpochBasedRunner`, `IterBasedRunner`) the hook also
    reads ``runner.log_buffer``, as MMCV's logger hooks do: values other hooks
    put there with ``update`` (``grad_norm``...) join the training record as
    ``train/<key>`` scalars when a record is due; evaluation results an
    ``EvalHook`` leaves in its ``output`` (``ready`` set) are logged as a
    validation record at the next end of a training iteration or epoch, then
    the output is cleared; the buffer is cleared before each epoch.
    Validation records reach the backends other than the JSON logs as
    ``val/<key>``, MMCV's names.

    Attributes:
        json_log_path: ``<timestamp>.json``, the name of the JSON logs MMEngine
            also writes; set when the run starts.

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
        self.out_dir = _checked_out_dir(out_dir, file_client_args, backend_args)
        self._out_root = self.out_dir  # out_dir before the run adds the work_dir's name
        self.out_suffix = _checked_suffixes(out_suffix)
        if not keep_local and out_dir is None:
            import warnings

            warnings.warn(
                "LoggerHook keep_local=False does nothing without an out_dir to copy the logs "
                "to; the local logs are kept",
                UserWarning,
                stacklevel=2,
            )
        self.interval = interval
        self.ignore_last = ignore_last
        self.interval_exp_name = interval_exp_name
        self.keep_local = keep_local
        self.file_client_args = file_client_args
        self.backend_args = backend_args
        self.log_metric_by_epoch = log_metric_by_epoch
        self.json_log_path: str | None = None
        self.backends = list(backends or ())
        self.progress_bar = progress_bar
        self.queue_size = queue_size
        self.close_timeout = close_timeout
        self.retry_delay, self.max_retry_delay = retry_delay, max_retry_delay
        # This hook's own values of the options the merged log takes from all logger hooks.
        self._own_options = {name: getattr(self, name) for name in _SHARED_OPTIONS}
        self._logs: bool | None = None  # None: not started; False: another hook or rank logs
        self._text: TextBackend | None = None  # written on the training thread, in event order
        self._sinks: Delivery | None = None  # backends other than JSON logs
        self._json: Delivery | None = None  # MMEngine's scalars.json and other JSON logs
        self._deliveries: tuple[Delivery, ...] = ()  # both of them, once they exist
        self._bar: ProgressBar | None = None
        self._visualizer_link: VisualizerLink | None = None  # to the runner's visualizer
        self._axes_declared: dict[str, set[str]] = {"json": set(), "other": set()}
        self._by_epoch = True
        self._end_status = "finished"  # "failed" or "killed" once `on_exception` is called
        self._model_workers: list[BackendWorker] = []  # of the backends with `log_model`
        self._offered: dict[str, list[str]] = {}  # checkpoint path -> aliases offered
        self._log_buffer: LogBufferReader | None = None  # the first logger's, on MMCV's runners
        # Training batches in [_quiet_from, _next_event) can neither log nor print the name.
        self._quiet_from = self._next_event = 0

    # ------------------------------------------------------------ run
    def before_run(self, runner: Any) -> None:
        self._start(runner)

    def after_run(self, runner: Any) -> None:
        """Close the logs (see `close_timeout`), then copy them to `out_dir`.

        A Ctrl-C that stops the wait for the backends is raised again from
        here, once the logs are closed and copied.
        """
        if self._logs is None:  # called directly, nothing logged: only copy the logs
            self._prepare(runner)
        self._end_run(runner)

    def _offer_checkpoints(self, runner: Any) -> None:
        """Offer the backends with `log_model` each checkpoint saved, or newly the best, since.

        The runner's checkpoint hooks name them in the message hub: ``last_ckpt``
        (alias ``latest``) and ``best_ckpt`` (``best``; ``best_ckpt_<key>`` is
        ``best_<key>``; MMCV's ``EvalHook`` writes ``eval_best_ckpt``). Checked
        when an epoch starts, at each record and when the run ends.
        """
        if not self._model_workers:
            return
        aliases: dict[str, list[str]] = {}
        for key, value in runner.message_hub.runtime_info.items():
            alias = _checkpoint_alias(key)
            if alias is not None and isinstance(value, str) and osp.exists(value):
                aliases.setdefault(value, []).append(alias)
        for path, names in aliases.items():
            offered = self._offered.setdefault(path, [])
            if not set(names) - set(offered):  # no new checkpoint, nor newly the best
                continue
            offered += [name for name in names if name not in offered]
            call = Call("log_checkpoint", (path, tuple(names)), None)
            for worker in self._model_workers:
                worker.submit(call)

    def before_save_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        """Keep each tracker's run (its id) in the checkpoint, so a resumed run continues it.

        Stored as ``checkpoint['meta']['tracker_runs']``, by backend name; see
        `LoggerBackend.run_state`.
        """
        if not self._logs or not self._closes_backends():
            return
        assert self._json is not None and self._sinks is not None
        runs = run_states(self._sinks.workers)
        if runs:
            checkpoint.setdefault("meta", {})[TRACKER_RUNS] = runs

    def on_exception(self, runner: Any, exception: BaseException) -> None:
        """Mark the backends' runs failed (killed on Ctrl-C or SIGTERM), close and copy the logs.

        On SIGTERM the runner saves a checkpoint and calls `after_run`, which
        then closes the logs with the ``killed`` status recorded here. A Ctrl-C
        while the backends are closed only ends the wait: `exception` goes on.
        """
        self._end_status = exit_status(exception)
        if self._logs is not None and not isinstance(exception, StopRequested):
            with contextlib.suppress(KeyboardInterrupt):
                self._end_run(runner)

    def _end_run(self, runner: Any) -> None:
        """Close the logs with the run's end status, then copy them to `out_dir`."""
        status, self._end_status = self._end_status, "finished"  # the next run starts afresh
        try:
            if self._logs and self._closes_backends():
                self._offer_checkpoints(runner)
                atexit.unregister(self._close_at_exit)
                self._close(status)
        finally:
            if self.out_dir is not None and getattr(runner, "rank", 0) == 0:
                self._copy_logs(runner)  # after the first logger hook closed the logs
            self._logs = None  # the next run (or call) starts again

    def _prepare(self, runner: Any) -> None:
        """Name the run's files and decide whether this hook logs (the first one, on rank 0)."""
        self.json_log_path = f"{runner.timestamp}.json"
        if self._out_root is not None:
            work_dir = os.fspath(runner.work_dir).rstrip(os.sep)
            self.out_dir = osp.join(self._out_root, osp.basename(work_dir))
        loggers = _logger_hooks(runner)
        first = self not in loggers or loggers[0] is self
        self._logs = getattr(runner, "rank", 0) == 0 and first
        buffer = getattr(runner, "log_buffer", None) if first else None  # every rank clears it
        self._log_buffer = None if buffer is None else LogBufferReader(buffer)

    def _start(self, runner: Any) -> None:
        """Open the text log, the JSON logs and every backend of this run."""
        if self._closes_backends():  # a run that never reached after_run
            self._close()
            atexit.unregister(self._close_at_exit)
        self._prepare(runner)
        if self.out_dir is not None and getattr(runner, "rank", 0) == 0:
            runner.logger.info("The logs will be copied to %s at the end of the run", self.out_dir)
        loggers = _logger_hooks(runner)
        hooks = loggers if self in loggers else [self]
        if hooks[0] is self:  # on every rank, so that all of them stop on a conflict
            self._merge_options(hooks)
        if not self._logs:
            return
        configs = [config for hook in hooks for config in hook._backend_configs(runner)]
        report = runner.logger.warning
        resume_meta = getattr(runner, "resume_meta", None) or {}
        backends = _build_backends(
            configs,
            osp.join(runner.log_dir, "vis_data"),
            json_copy=self.json_log_path,
            tracker_runs=resume_meta.get(TRACKER_RUNS),
        )
        self._visualizer_link = VisualizerLink(runner, backends)  # it writes through them too
        backends += self._visualizer_link.extra_backends
        _watch_model(backends, getattr(runner, "model", None))
        workers = [
            BackendWorker(
                backend,
                name,
                report,
                essential=_is_json(backend),
                inline=_is_json(backend),
                queue_size=self.queue_size,
                first_delay=self.retry_delay,
                max_delay=self.max_retry_delay,
            )
            for backend, name in zip(backends, backend_names(backends), strict=True)
        ]
        self._model_workers = [w for w in workers if getattr(w.backend, "log_model", False)]
        self._offered = {}
        self._text = TextBackend(logger=runner.logger)
        progress = runner.logger.info  # what the end of the run waits for
        essential = [w for w in workers if w.essential]
        self._json = Delivery(essential, report, self.close_timeout, progress)
        others = [w for w in workers if not w.essential]
        self._sinks = Delivery(others, report, self.close_timeout, progress)
        self._deliveries = (self._json, self._sinks)
        self._visualizer_link.start(self._deliveries, workers)
        cfg = getattr(runner, "cfg", None)
        if cfg:
            for delivery in self._deliveries:
                delivery.call("log_config", mask_secrets(cfg))
        if progress_wanted(self.progress_bar):
            self._bar = ProgressBar(runner.logger)
        self._by_epoch = runner.log_processor.resolve_by_epoch(runner)
        self._quiet_from = self._next_event = 0
        atexit.register(self._close_at_exit)

    def _merge_options(self, hooks: Sequence[LoggerHook]) -> None:
        """Set the options of the one log from `hooks`: the values they set, which must agree.

        An option no hook sets to other than its default keeps this hook's own value.
        """
        chosen: dict[str, tuple[Any, LoggerHook]] = {}
        for hook in hooks:
            for name, value in _set_options(hook).items():
                if name in chosen and chosen[name][0] != value:
                    other = type(chosen[name][1]).__name__
                    raise ValueError(
                        f"{other} sets {name}={chosen[name][0]!r} and {type(hook).__name__} sets "
                        f"{name}={value!r}, but a runner's logger hooks write one log: give "
                        f"{name} once (for log_config, its interval) or the same value in each"
                    )
                chosen.setdefault(name, (value, hook))
        for name, value in self._own_options.items():
            setattr(self, name, chosen[name][0] if name in chosen else value)

    def _logging(self, runner: Any) -> bool:
        """Whether this hook logs, starting the logging on the first call made without a run."""
        if self._logs is None:
            self._start(runner)
        return bool(self._logs)

    # ------------------------------------------------------------ train
    def before_train(self, runner: Any) -> None:
        if self._logging(runner):
            self._by_epoch = runner.log_processor.resolve_by_epoch(runner)

    def before_train_epoch(self, runner: Any) -> None:
        logs = self._logging(runner)
        if self._log_buffer is not None:
            self._log_buffer.clear()
        if not logs:
            return
        self._offer_checkpoints(runner)
        self._quiet_from = self._next_event = 0  # the epoch's first batch plans the next ones
        if self._bar is not None:
            length = len(runner.train_dataloader)
            if self._by_epoch:
                done_in_epoch = runner.iter - runner.epoch * length
                title = f"Epoch {runner.epoch + 1}/{runner.max_epochs}"
                self._bar.start(length, title, done_in_epoch)
            else:
                self._bar.start(runner.max_iters, "Iterations", runner.iter)

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if self._bar is not None:
            self._bar.update()
        if self._quiet_from <= batch_idx < self._next_event:  # most iterations end here
            self._quiet_from = batch_idx + 1
        else:
            self._train_events(runner, batch_idx)
        if self._log_buffer is not None and self._log_buffer.buffer.ready:
            self._log_results(runner)

    def _train_events(self, runner: Any, batch_idx: int) -> None:
        """Print the experiment name and log a record, each when due; then plan the quiet ones."""
        if not self._logging(runner):
            self._quiet_from, self._next_event = batch_idx + 1, sys.maxsize
            return
        assert self._text is not None
        end_of_epoch = self._by_epoch and self.end_of_epoch(runner.train_dataloader, batch_idx)
        if self.every_n_train_iters(runner, self.interval_exp_name) or end_of_epoch:
            self._text.log_text("exp_name", f"Exp name: {runner.experiment_name}")
        if self._train_record_due(runner, batch_idx, end_of_epoch):
            if self._log_buffer is not None:
                self._log_buffer.publish_new_values(runner.message_hub)
            tag, line = runner.log_processor.get_log_after_iter(runner, batch_idx, "train")
            step = runner.iter + 1
            self._text.log_text("train", line, step)
            self._send_scalars(tag, step, "iter")
            self._offer_checkpoints(runner)
            if self._bar is not None:
                self._bar.show({key: value for key, value in tag.items() if "loss" in key})
        self._plan_quiet(runner, batch_idx + 1, runner.iter + 1)

    def _train_record_due(self, runner: Any, batch_idx: int, end_of_epoch: bool) -> bool:
        """MMEngine's rule; in iteration-based runs the run's last iteration ends the "epoch"."""
        if self.every_n_inner_iters(batch_idx, self.interval):
            return True
        if self._by_epoch:
            return end_of_epoch and (
                not self.ignore_last or len(runner.train_dataloader) <= self.interval
            )
        return not self.ignore_last and self.is_last_train_iter(runner)

    def _plan_quiet(self, runner: Any, next_batch: int, iters_done: int) -> None:
        """Mark the batches from `next_batch` to the next one that may log or print the name.

        `iters_done` iterations of the run are complete when batch `next_batch`
        starts; the events themselves are checked in `_train_events`.
        """
        candidates = [
            next_batch + -(next_batch + 1) % self.interval,
            next_batch + -(iters_done + 1) % self.interval_exp_name,
        ]
        if self._by_epoch:
            candidates.append(len(runner.train_dataloader) - 1)
        else:
            candidates.append(next_batch + runner.max_iters - 1 - iters_done)
        self._quiet_from = next_batch
        self._next_event = min(batch for batch in candidates if batch >= next_batch)

    def after_train_epoch(self, runner: Any) -> None:
        buffer = self._log_buffer
        if buffer is not None and self._logs:  # the values since the last record, before a clear
            buffer.publish_new_values(runner.message_hub)
        if buffer is not None and buffer.buffer.ready:
            self._log_results(runner)
        if self._logs:
            self._flush_unless_ending(runner)

    def _log_results(self, runner: Any) -> None:
        """Log the evaluation results an MMCV ``EvalHook`` left in the log buffer; clear them."""
        assert self._log_buffer is not None
        results = self._log_buffer.take_results()
        if results is None or not self._logs:
            return
        assert self._text is not None
        tag, line = runner.log_processor.get_log_of_metrics(runner, *results)
        step, axis = self._metric_step(runner, current=1)  # this epoch or iteration is done
        self._text.log_text("val", line, step)
        self._send_scalars({k: v for k, v in tag.items() if _is_number(v)}, step, axis, "val")

    # ------------------------------------------------------------ val and test
    def before_val_epoch(self, runner: Any) -> None:
        if self._log_buffer is not None:
            self._log_buffer.clear()
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
        if not self._logging(runner):
            return
        assert self._text is not None
        self._end_eval_bar()
        length = len(runner.val_dataloader)
        tag, line = runner.log_processor.get_log_after_epoch(runner, length, "val")
        self._text.log_text("val", line, runner.epoch)
        step, axis = self._metric_step(runner)
        self._send_scalars(tag, step, axis, "val")
        self._flush_unless_ending(runner)

    def after_test_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        if not self._logging(runner):
            return
        assert self._text is not None
        self._end_eval_bar()
        length = len(runner.test_dataloader)
        tag, line = runner.log_processor.get_log_after_epoch(runner, length, "test", True)
        self._text.log_text("test", line, 0)
        assert self.json_log_path is not None
        _dump_json(tag, osp.join(runner.log_dir, self.json_log_path))
        step, axis = self._metric_step(runner)
        numbers = {key: value for key, value in tag.items() if _is_number(value)}
        self._send_scalars(numbers, step, axis, "test")

    def _metric_step(self, runner: Any, current: int = 0) -> tuple[int, str]:
        """The step of evaluation records: the epoch (MMEngine's default) or the iteration.

        `current` is 1 when the runner has not counted the epoch or iteration
        that just ended yet (during its ``after_train_*`` points).
        """
        if self._by_epoch and self.log_metric_by_epoch:
            return runner.epoch + current, "epoch"
        return runner.iter + current, "iter"

    def _eval_iter(self, runner: Any, batch_idx: int, mode: str) -> None:
        if self._bar is not None:
            self._bar.update()
        if self.every_n_inner_iters(batch_idx, self.interval) and self._logging(runner):
            assert self._text is not None
            _, line = runner.log_processor.get_log_after_iter(runner, batch_idx, mode)
            self._text.log_text(mode, line, batch_idx + 1)

    def _start_eval_bar(self, runner: Any, mode: str) -> None:
        if self._bar is not None and self._logs:
            self._bar.start(len(getattr(runner, f"{mode}_dataloader")), mode.capitalize())

    def _end_eval_bar(self) -> None:
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
            renamed = _not_an_axis if self._log_buffer is not None else _EVAL_TIMINGS.__contains__
            record = _prefixed(record, mode, renamed)
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
        loop = getattr(runner, "built_train_loop", None)
        if loop is None or runner.iter < runner.max_iters:
            for delivery in self._deliveries:
                delivery.call("flush")

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until each worker has reached every record queued so far (for tests and tools)."""
        return all([delivery.drain(timeout) for delivery in self._deliveries])

    def _closes_backends(self) -> bool:
        return self._text is not None and not self._text.closed

    def _close(self, status: str = "finished") -> None:
        """Close every backend within one `close_timeout`, the JSON logs first; then the text log.

        `status` is how the run ended (see `LoggerBackend.close`).

        All backends finish at once; the JSON logs (local files) are waited
        for first, so they are complete on disk while the wait for the others
        goes on.

        Raises:
            KeyboardInterrupt: Ctrl-C stopped the wait (what was not delivered
                has been reported, and the text log closed).
        """
        if self._bar is not None:
            self._bar.close()
        assert self._text is not None
        if self._visualizer_link is not None:  # the visualizer must not write to closed backends
            self._visualizer_link.stop()
            self._visualizer_link = None
        assert self._json is not None and self._sinks is not None
        deadline = time.monotonic() + self.close_timeout
        for delivery in self._deliveries:
            delivery.begin_close(status)
        paths = [worker.backend.path for worker in self._json.workers]
        note = f"the JSON log has every record: {paths[0]}" if paths else ""
        try:
            if self._json.close(deadline):  # then it does not have every record
                note = ""
            self._sinks.close(deadline, note)
        except KeyboardInterrupt:
            self._sinks.abandon(CTRL_C)  # if the Ctrl-C came while the JSON log closed
            raise
        finally:
            self._text.close()

    def _close_at_exit(self) -> None:
        """Deliver what is queued when the process exits without reaching `after_run`.

        A Ctrl-C then only ends the wait (the process is ending anyway).
        """
        if self._closes_backends():
            with contextlib.suppress(KeyboardInterrupt):
                self._close()

    def _backend_configs(self, runner: Any) -> list[Any]:
        """The backends this hook asks for (MMCV-style subclasses add theirs)."""
        return list(self.backends)

    def _logs_root(self, runner: Any) -> str:
        """The folder whose log files `out_dir` gets: the run's log folder (MMEngine's)."""
        return str(runner.log_dir)

    def _copy_logs(self, runner: Any) -> None:
        """Copy the `out_suffix` files to `out_dir` (a folder or a URL), keeping the layout;
        remove them unless kept."""
        assert self.out_dir is not None
        root = self._logs_root(runner)
        out_dir = self.out_dir if is_url(self.out_dir) else osp.abspath(self.out_dir)
        copied = []
        for folder, folders, files in os.walk(root):
            folders[:] = [f for f in folders if osp.abspath(osp.join(folder, f)) != out_dir]
            for name in sorted(files):
                if not name.endswith(self.out_suffix):
                    continue
                source = osp.join(folder, name)
                target = f"{self.out_dir.rstrip('/')}/{osp.relpath(source, root)}"
                options = self.file_client_args if self.backend_args is None else self.backend_args
                _copy_file(source, target, options)
                copied.append(source)
                runner.logger.info("Copied %s to %s", source, target)
        if self.keep_local or not copied:
            return
        runner.logger.info(
            "Removed the local copies of the logs (keep_local=False); they are in %s", self.out_dir
        )
        _detach_file_handlers(runner.logger)  # or the next line would bring the file back
        for source in copied:
            os.remove(source)


def _checkpoint_alias(key: str) -> str | None:
    """The alias of the checkpoint named by runtime info `key`, or None for other keys."""
    if key == "last_ckpt":
        return "latest"
    if key in ("best_ckpt", "eval_best_ckpt"):
        return "best"
    if key.startswith("best_ckpt_"):
        return "best_" + key[len("best_ckpt_") :]
    return None


# The key of a checkpoint's meta that holds each tracker's run, for a resumed run to continue.
TRACKER_RUNS = "tracker_runs"
_AXES = frozenset({"iter", "epoch"})
_EVAL_TIMINGS = frozenset({"time", "data_time"})  # names validation shares with training
# Options of the one log that several logger hooks write, merged by `_merge_options`.
_SHARED_OPTIONS = (
    "interval", "ignore_last", "interval_exp_name", "log_metric_by_epoch", "progress_bar",
    "queue_size", "close_timeout", "retry_delay", "max_retry_delay",
)  # fmt: skip


def _not_an_axis(key: str) -> bool:
    return key not in _AXES


# ---------------------------------------------------------------- options
def _checked_out_dir(
    out_dir: Any, file_client_args: Mapping[str, Any] | None, backend_args: Mapping[str, Any] | None
) -> str | None:
    """`out_dir` as a str, after MMEngine's checks of it and of the storage options."""
    if out_dir is not None and not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(
            f"LoggerHook out_dir must be a str or Path object, got {type(out_dir).__name__} "
            f"{out_dir!r}"
        )
    if out_dir is None and file_client_args is not None:
        raise ValueError(
            "LoggerHook file_client_args sets how logs are copied to out_dir, but out_dir is "
            "not given; give out_dir or drop file_client_args"
        )
    check_storage_args(out_dir, file_client_args, backend_args, owner="LoggerHook")
    if out_dir is None:
        return None
    return os.fspath(out_dir)


def _copy_file(source: str, target: str, backend_args: Mapping[str, Any] | None) -> None:
    """Copy the local file `source` to `target`: a path (with its times) or a URL's object."""
    import shutil

    if not is_url(target):
        os.makedirs(osp.dirname(target), exist_ok=True)
        shutil.copy2(source, target)
        return

    def upload(file: Any) -> None:
        with open(source, "rb") as log:
            shutil.copyfileobj(log, file)

    write_atomically(target, upload, backend_args)


def _checked_suffixes(out_suffix: Any) -> tuple[str, ...]:
    if isinstance(out_suffix, str):
        return (out_suffix,)
    if isinstance(out_suffix, (list, tuple)) and all(isinstance(s, str) for s in out_suffix):
        return tuple(out_suffix)
    raise TypeError(f"LoggerHook out_suffix must be a str or a sequence of str, got {out_suffix!r}")


def _set_options(hook: LoggerHook) -> dict[str, Any]:
    """The shared options `hook` was given other than its class's defaults.

    Only the arguments of the hook's own class count: an option a subclass
    fixes (``TensorboardLoggerHook``'s ``log_metric_by_epoch``) is not set by the user.
    """
    import inspect

    parameters = inspect.signature(type(hook)).parameters
    return {
        name: value
        for name, value in hook._own_options.items()
        if name in parameters and value != parameters[name].default
    }


# ---------------------------------------------------------------- the runner
def _logger_hooks(runner: Any) -> list[LoggerHook]:
    """The runner's logger hooks in call order (none for a stand-in without ``hooks``)."""
    return [hook for hook in getattr(runner, "hooks", ()) if isinstance(hook, LoggerHook)]


def _watch_model(backends: Sequence[Any], model: Any) -> None:
    """Let backends that watch the model (W&B) add their hooks, before training, on this thread."""
    watchers = [watch for b in backends if callable(watch := getattr(b, "watch", None))]
    if watchers and model is not None:
        unwrapped = unwrap_model(model)
        for watch in watchers:
            watch(unwrapped)


def _detach_file_handlers(logger: Any) -> None:
    import logging

    for handler in list(getattr(logger, "handlers", ())):
        if isinstance(handler, logging.FileHandler):
            logger.removeHandler(handler)
            handler.close()


# ---------------------------------------------------------------- records
def _prefixed(record: dict[str, Any], mode: str, rename: Callable[[str], bool]) -> dict[str, Any]:
    """`record` with ``mode/`` before the names `rename` picks (unless they have it already)."""
    return {
        f"{mode}/{key}" if rename(key) and not key.startswith(f"{mode}/") else key: value
        for key, value in record.items()
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float))


def _json_value(value: Any) -> Any:
    """`value` in JSON types as MMEngine dumps test results: arrays as lists, others as None."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {
            key if isinstance(key, (str, int, float, bool)) else str(key): _json_value(item)
            for key, item in value.items()
        }
    tolist = getattr(value, "tolist", None)  # tensors, numpy arrays and scalars
    return _json_value(tolist()) if callable(tolist) else None


def _dump_json(tag: Mapping[str, Any], path: str) -> None:
    """Write `tag` as one JSON object to `path`, replacing the file (MMEngine's test dump)."""
    import json

    with open(path, "w", encoding="utf-8") as file:
        file.write(json.dumps(_json_value(dict(tag))) + "\n")


# ---------------------------------------------------------------- backends
def run_states(workers: Sequence[Any]) -> dict[str, Any]:
    """Each worker's backend run to continue (`LoggerBackend.run_state`), by backend name.

    What a checkpoint keeps as ``tracker_runs`` and `_build_backends` continues.
    """
    runs = {}
    for worker in workers:
        state = getattr(worker.backend, "run_state", None)
        if callable(state) and (found := state()) is not None:
            runs[worker.name] = found
    return runs


def _build_backends(
    configs: Sequence[Any],
    vis_dir: str,
    with_json: bool = True,
    json_copy: str | None = None,
    tracker_runs: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Build every backend config once, with a JSON log first unless one is given or not asked.

    Configs (names or dicts) whose class takes ``save_dir`` get `vis_dir` unless
    they give one; JSON logs in `vis_dir` also write the records to `json_copy`
    (MMEngine's ``<timestamp>.json``). A config whose backend name (as
    `backend_names` gives it) has a run in `tracker_runs`, a resumed
    checkpoint's, continues that run (`LoggerBackend.resume_config`). Backend
    objects are checked and used as they are.
    """
    import inspect

    built: list[Any] = []
    seen_configs: set[str] = set()
    counts: dict[str, int] = {}  # backends of each class so far: their names' numbers
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
                if "save_dir" not in cfg and json_copy and issubclass(cls, JsonBackend):
                    cfg.setdefault("copy_filename", json_copy)
                cfg.setdefault("save_dir", vis_dir)
            if cls is not None:
                state = (tracker_runs or {}).get(numbered_name(cls.__name__, counts))
                if state is not None and issubclass(cls, LoggerBackend):
                    cfg = cls.resume_config(cfg, state)
            built.append(LOG_BACKENDS.build(cfg))
        else:
            _check_backend(config)
            numbered_name(type(config).__name__, counts)
            built.append(config)
    if with_json and not any(_is_json(backend) for backend in built):
        built.insert(0, JsonBackend(vis_dir, copy_filename=json_copy))
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
