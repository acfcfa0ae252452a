"""`ProfilerHook`: profile the first training epoch or iterations with `torch.profiler`."""

from __future__ import annotations

import os
import os.path as osp
from collections.abc import Mapping

from ..engine._hook import Hook
from ..registry._roots import HOOKS
from ..utils import check_positive_int

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from torch.profiler import profile

    TraceHandler = Callable[[profile], Any]

_TRACE_TYPES = ("log_trace", "tb_trace")


@HOOKS.register_module()
class ProfilerHook(Hook):
    """Profile the start of training with `torch.profiler` and report or save the result.

    As in MMEngine, profiling starts in ``before_run`` and the profiler steps
    after every training iteration. It stops at the end of the first training
    epoch, or, with ``by_epoch=False``, after training iteration `profile_times`
    if that comes first; then the result goes to `on_trace_ready` and to
    `json_trace_path`. A run without training (``runner.val()``), or one that
    ends early, is profiled until it ends. A hook profiles one run only.

    Args:
        by_epoch: Profile the first training epoch (then `profile_times` must
            be 1), else the first `profile_times` training iterations.
        profile_times: How many iterations to profile with ``by_epoch=False``;
            at most the training length.
        activity_with_cpu: Profile CPU activity.
        activity_with_cuda: Profile CUDA activity. With neither, torch profiles
            the activities it supports (MMEngine lets both be off too).
        schedule: Keyword arguments of ``torch.profiler.schedule`` (``wait``,
            ``warmup``, ``active``, ``repeat``, ``skip_first``), or a schedule.
            None records every step.
        on_trace_ready: What to do with the profile: a callable taking the
            profiler; ``dict(type='log_trace', **table_kwargs)`` to log
            ``key_averages().table(**table_kwargs)`` (e.g. ``sort_by``,
            ``row_limit``); or ``dict(type='tb_trace', dir_name=None, ...)`` to
            write TensorBoard traces with ``torch.profiler.tensorboard_trace_handler``
            into `dir_name`, by default ``<log_dir>/tf_tracing_logs`` (relative
            names are under the log dir). Viewing them needs ``torch-tb-profiler``.
        record_shapes: Record the input shapes of operators.
        profile_memory: Track tensor memory allocation.
        with_stack: Record source locations of operators.
        with_flops: Estimate FLOPs of matrix multiplications and convolutions.
        json_trace_path: Write a Chrome trace (``chrome://tracing``, Perfetto)
            there. In a distributed run, rank ``r > 0`` writes ``<stem>_rank<r><ext>``.

    Raises:
        ValueError: `profile_times` is below 1, or above 1 with `by_epoch`;
            `on_trace_ready` is neither None, a callable nor a dict, or has an
            unknown ``type``; ``tb_trace`` is combined with `json_trace_path`
            (the TensorBoard handler already saves the Chrome trace, which torch
            saves only once); `schedule` has values ``torch.profiler.schedule``
            rejects. In ``before_run``: `profile_times` exceeds the run's training
            epochs or iterations.
        TypeError: a flag is not a bool, `profile_times` not an int, `schedule`
            neither a dict nor a callable, or missing required arguments.

    Example:
        >>> custom_hooks = [dict(type='ProfilerHook', by_epoch=False, profile_times=20,
        ...                      on_trace_ready=dict(type='log_trace', sort_by='cpu_time_total',
        ...                                          row_limit=10))]
    """

    priority = "VERY_LOW"

    def __init__(
        self,
        *,
        by_epoch: bool = True,
        profile_times: int = 1,
        activity_with_cpu: bool = True,
        activity_with_cuda: bool = False,
        schedule: Mapping[str, Any] | Callable[[int], Any] | None = None,
        on_trace_ready: Callable[..., Any] | Mapping[str, Any] | None = None,
        record_shapes: bool = False,
        profile_memory: bool = False,
        with_stack: bool = False,
        with_flops: bool = False,
        json_trace_path: str | os.PathLike[str] | None = None,
    ) -> None:
        flags = {"by_epoch": by_epoch, "activity_with_cpu": activity_with_cpu,
                 "activity_with_cuda": activity_with_cuda}  # fmt: skip
        for name, value in flags.items():
            if not isinstance(value, bool):
                raise TypeError(f"ProfilerHook {name} must be a bool, got {value!r}")
        check_positive_int(profile_times, "profile_times")
        if by_epoch and profile_times > 1:
            raise ValueError(
                f"ProfilerHook(by_epoch=True) profiles the first training epoch only, so "
                f"profile_times must be 1, got {profile_times}: profiling slows training, so "
                "profile one epoch, or set by_epoch=False to profile that many iterations"
            )
        _check_trace_config(on_trace_ready, json_trace_path)
        from torch.profiler import ProfilerActivity

        self.by_epoch = by_epoch
        self.profile_times = profile_times
        self.activities = [
            activity
            for activity, wanted in (
                (ProfilerActivity.CPU, activity_with_cpu),
                (ProfilerActivity.CUDA, activity_with_cuda),
            )
            if wanted
        ]
        self.schedule = _build_schedule(schedule)
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.json_trace_path = None if json_trace_path is None else os.fspath(json_trace_path)
        self.profiler: profile | None = None  # the running profiler, from before_run on
        self._closed = False

    def before_run(self, runner: Any) -> None:
        if self._closed or self.profiler is not None:
            return
        self._check_length(runner)
        from torch.profiler import profile

        profiler = profile(
            activities=self.activities or None,  # None: the activities torch supports
            schedule=self.schedule,
            on_trace_ready=self._parse_trace_config(runner),
            record_shapes=self.record_shapes,
            profile_memory=self.profile_memory,
            with_stack=self.with_stack,
            with_flops=self.with_flops,
        )
        profiler.__enter__()  # type: ignore[no-untyped-call]
        self.profiler = profiler
        if self.by_epoch:
            runner.logger.info(
                "ProfilerHook started; it stops at the end of the first training epoch or of "
                "the run"
            )
        else:
            runner.logger.info(
                "ProfilerHook started; it stops after training iteration %d, at the end of "
                "the first training epoch or of the run",
                self.profile_times,
            )

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if self.profiler is None or self._closed:
            return
        self.profiler.step()
        # MMEngine's rule on the global iteration; a run resumed past it profiles one step.
        if not self.by_epoch and runner.iter + 1 >= self.profile_times:
            self._export_chrome_trace(runner)

    def after_train_epoch(self, runner: Any) -> None:
        """The end of the first epoch ends profiling (iteration-based loops have one epoch)."""
        if self.profiler is not None and not self._closed:
            self._export_chrome_trace(runner)

    def after_run(self, runner: Any) -> None:
        """Stop a profiler still running: training ended early, or the run did not train."""
        if self.profiler is not None and not self._closed:
            self._export_chrome_trace(runner)

    # ------------------------------------------------------------ internals
    def _check_length(self, runner: Any) -> None:
        try:
            length = runner.max_epochs if self.by_epoch else runner.max_iters
        except RuntimeError:  # a runner made only to validate or test
            return
        if length and self.profile_times > length:  # 0: the run does not train
            unit = "epochs" if self.by_epoch else "iterations"
            raise ValueError(
                f"ProfilerHook cannot profile {self.profile_times} training {unit}: the run "
                f"has only {length}; lower profile_times to at most {length}"
            )

    def _parse_trace_config(self, runner: Any) -> TraceHandler | None:
        """The ``on_trace_ready`` handler for torch, from the option's form."""
        spec = self.on_trace_ready
        _check_trace_config(spec, self.json_trace_path)
        if spec is None or callable(spec):
            return spec
        cfg = dict(spec)
        kind = cfg.pop("type")
        if kind == "log_trace":
            logger = runner.logger

            def log_trace(profiler: profile) -> None:
                logger.info("Profiler summary:\n%s", profiler.key_averages().table(**cfg))

            return log_trace
        from torch.profiler import tensorboard_trace_handler

        dir_name = os.fspath(cfg.pop("dir_name", None) or "tf_tracing_logs")
        dir_name = osp.join(runner.log_dir, dir_name)  # unless dir_name is absolute
        runner.logger.info("ProfilerHook writes TensorBoard traces to %s", dir_name)
        handler: TraceHandler = tensorboard_trace_handler(dir_name, **cfg)
        return handler

    def _export_chrome_trace(self, runner: Any) -> None:
        """Stop profiling, which hands the result to on_trace_ready, and write json_trace_path."""
        self._closed = True
        profiler = self.profiler
        assert profiler is not None
        runner.logger.info("ProfilerHook stopped; the results may take a while to process")
        profiler.__exit__(None, None, None)  # type: ignore[no-untyped-call]
        if self.json_trace_path is not None:
            self._export(runner, profiler, self.json_trace_path)

    def _export(self, runner: Any, profiler: profile, path: str) -> None:
        if runner.rank > 0:
            stem, ext = osp.splitext(path)
            path = f"{stem}_rank{runner.rank}{ext}"
        if profiler.profiler is None:
            runner.logger.warning(
                "ProfilerHook recorded no step (see its schedule), so %s was not written", path
            )
            return
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        try:
            profiler.export_chrome_trace(path)
        except RuntimeError as err:
            if "already saved" not in str(err):
                raise
            raise RuntimeError(
                f"ProfilerHook could not write json_trace_path {path!r}: on_trace_ready already "
                "saved this trace, and torch saves a trace only once; drop json_trace_path or "
                "export from on_trace_ready"
            ) from err
        runner.logger.info("ProfilerHook wrote a Chrome trace to %s", path)


def _check_trace_config(
    on_trace_ready: Any, json_trace_path: str | os.PathLike[str] | None
) -> None:
    if on_trace_ready is None or callable(on_trace_ready):
        return
    if not isinstance(on_trace_ready, Mapping):  # MMEngine's ValueError, kept
        raise ValueError(
            f"on_trace_ready must be None, a callable or a dict with type 'log_trace' or "
            f"'tb_trace', got {type(on_trace_ready).__name__} {on_trace_ready!r}"
        )
    kind = on_trace_ready.get("type")
    if kind not in _TRACE_TYPES:
        raise ValueError(f"on_trace_ready type must be 'log_trace' or 'tb_trace', got {kind!r}")
    if kind == "tb_trace" and json_trace_path is not None:
        raise ValueError(
            "tb_trace already writes each Chrome trace (as <dir_name>/<worker_name>.*.pt.trace"
            ".json) and torch saves a trace only once: drop json_trace_path, or pass "
            "worker_name in the tb_trace dict to choose the file name"
        )


def _build_schedule(schedule: Mapping[str, Any] | Callable[[int], Any] | None) -> Any:
    if schedule is None or callable(schedule):
        return schedule
    if not isinstance(schedule, Mapping):
        raise TypeError(
            "schedule must be None, a dict of torch.profiler.schedule arguments or a "
            f"schedule, got {type(schedule).__name__}"
        )
    from torch.profiler import schedule as make_schedule

    try:  # a missing argument stays torch's TypeError, as in MMEngine
        return make_schedule(**schedule)
    except AssertionError as err:  # torch asserts on bad values
        raise ValueError(f"invalid ProfilerHook schedule {dict(schedule)!r}: {err}") from err
