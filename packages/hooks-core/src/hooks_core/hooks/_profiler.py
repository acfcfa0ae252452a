"""`ProfilerHook`: profile the first training epochs or iterations with `torch.profiler`."""

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

    Profiling starts in ``before_run``; the profiler steps after every training
    iteration and stops once `profile_times` epochs (or iterations) were
    profiled, or when the run ends, whichever comes first. It then hands the
    result to `on_trace_ready` and writes `json_trace_path`. A run without
    training (``runner.val()``) is profiled whole. A hook profiles one run only.

    Args:
        by_epoch: Count `profile_times` in training epochs, else in iterations.
        profile_times: How many epochs or iterations to profile; at most the
            training length.
        activity_with_cpu: Profile CPU activity.
        activity_with_cuda: Profile CUDA activity.
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
        ValueError: `profile_times` is not a positive int; no activity is
            selected; `on_trace_ready` has an unknown ``type``; ``tb_trace`` is
            combined with `json_trace_path` (the TensorBoard handler already
            saves the Chrome trace, which torch saves only once). In ``before_run``:
            `profile_times` exceeds the run's training epochs or iterations.
            Also for `schedule` arguments ``torch.profiler.schedule`` rejects.
        TypeError: `schedule` or `on_trace_ready` is of the wrong type.

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
        check_positive_int(profile_times, "profile_times")
        if not (activity_with_cpu or activity_with_cuda):
            raise ValueError(
                "ProfilerHook has nothing to profile: set activity_with_cpu and/or "
                "activity_with_cuda"
            )
        _check_trace_config(on_trace_ready, json_trace_path)
        self.by_epoch = by_epoch
        self.profile_times = profile_times
        self.activity_with_cpu = activity_with_cpu
        self.activity_with_cuda = activity_with_cuda
        self.schedule = _build_schedule(schedule)
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.json_trace_path = None if json_trace_path is None else os.fspath(json_trace_path)
        self._profiler: profile | None = None
        self._profiled = 0  # epochs or iterations done while profiling
        self._finished = False

    def before_run(self, runner: Any) -> None:
        if self._finished or self._profiler is not None:
            return
        self._check_length(runner)
        from torch.profiler import ProfilerActivity, profile

        activities = [
            activity
            for activity, wanted in (
                (ProfilerActivity.CPU, self.activity_with_cpu),
                (ProfilerActivity.CUDA, self.activity_with_cuda),
            )
            if wanted
        ]
        profiler = profile(
            activities=activities,
            schedule=self.schedule,
            on_trace_ready=self._trace_handler(runner),
            record_shapes=self.record_shapes,
            profile_memory=self.profile_memory,
            with_stack=self.with_stack,
            with_flops=self.with_flops,
        )
        profiler.start()
        self._profiler = profiler
        self._profiled = 0
        unit = "epoch" if self.by_epoch else "iteration"
        plural = "" if self.profile_times == 1 else "s"
        runner.logger.info(
            "ProfilerHook started; it stops after %d training %s%s or at the end of the run",
            self.profile_times,
            unit,
            plural,
        )

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        profiler = self._profiler
        if profiler is None:
            return
        profiler.step()
        if not self.by_epoch:
            self._count(runner)

    def after_train_epoch(self, runner: Any) -> None:
        if self._profiler is not None and self.by_epoch:
            self._count(runner)

    def after_run(self, runner: Any) -> None:
        """Stop a profiler still running: training ended early, or the run did not train."""
        self._stop(runner)

    # ------------------------------------------------------------ internals
    def _count(self, runner: Any) -> None:
        self._profiled += 1
        if self._profiled >= self.profile_times:
            self._stop(runner)

    def _check_length(self, runner: Any) -> None:
        try:
            loop = runner.train_loop
        except RuntimeError:  # a runner made only to validate or test
            return
        length = loop.max_epochs if self.by_epoch else loop.max_iters
        if self.profile_times > length:
            unit = "epochs" if self.by_epoch else "iterations"
            raise ValueError(
                f"ProfilerHook cannot profile {self.profile_times} training {unit}: the run "
                f"has only {length}; lower profile_times to at most {length}"
            )

    def _trace_handler(self, runner: Any) -> TraceHandler | None:
        spec = self.on_trace_ready
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

    def _stop(self, runner: Any) -> None:
        profiler, self._profiler = self._profiler, None
        if profiler is None:
            return
        self._finished = True
        profiler.stop()  # calls on_trace_ready with what was recorded
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
    if not isinstance(on_trace_ready, Mapping):
        raise TypeError(
            f"on_trace_ready must be None, a callable or a dict with type 'log_trace' or "
            f"'tb_trace', got {type(on_trace_ready).__name__}"
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

    try:
        return make_schedule(**schedule)
    except (TypeError, AssertionError) as err:  # torch asserts on bad values
        raise ValueError(f"invalid ProfilerHook schedule {dict(schedule)!r}: {err}") from None
