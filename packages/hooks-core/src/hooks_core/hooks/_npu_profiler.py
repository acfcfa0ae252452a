"""`NPUProfilerHook`: MMEngine's profiler for Huawei Ascend NPUs, through ``torch_npu``."""

from __future__ import annotations

import os
import sys

from ..dist import master_only
from ..engine._hook import Hook
from ..registry._roots import HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@HOOKS.register_module()
class NPUProfilerHook(Hook):
    """Profile training iterations ``[begin, end)`` on an Ascend NPU with ``torch_npu.npu.profile``.

    The CANN profiling data goes to `result_path`, for Ascend's ``msprof`` tool.
    Only rank 0 profiles. It needs ``torch_npu``, which exists only for NPU
    machines: elsewhere construction fails, naming what is missing (use
    `ProfilerHook` there).

    Args:
        begin: The first training iteration profiled.
        end: The iteration profiling stops before; at most the run's ``max_iters``.
        result_path: Where the profiling results go (created at construction).
        exit_after_profiling: End the process (``sys.exit()``) once profiled.
        use_e2e_profiler: Combine PyTorch-level and NPU-level data (end-to-end).
        ge_profiling_to_std_out: Also collect GE (host-side scheduling) data, by
            setting ``GE_PROFILING_TO_STD_OUT=1``.

    Raises:
        ValueError: `begin` is negative or not below `end`; in ``before_run``,
            `end` exceeds ``runner.max_iters``.
        TypeError: `begin` or `end` is not an int.
        ModuleNotFoundError: ``torch_npu`` is not installed.

    Example:
        >>> custom_hooks = [dict(type='NPUProfilerHook', begin=10, end=12)]
    """

    priority = "VERY_LOW"

    def __init__(
        self,
        *,
        begin: int = 0,
        end: int = 1,
        result_path: str = "cann_profiling",
        exit_after_profiling: bool = True,
        use_e2e_profiler: bool = False,
        ge_profiling_to_std_out: bool = False,
    ) -> None:
        for name, value in (("begin", begin), ("end", end)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"NPUProfilerHook {name} must be an int, got {value!r}")
        if not 0 <= begin < end:
            raise ValueError(
                f"NPUProfilerHook profiles iterations [begin, end): need 0 <= begin < end, "
                f"got begin={begin}, end={end}"
            )
        try:
            import torch_npu  # type: ignore[import-not-found]
        except ImportError as err:
            raise ModuleNotFoundError(
                "NPUProfilerHook profiles Huawei Ascend NPUs through torch_npu, which is not "
                "installed here: run it on an NPU machine with torch_npu (Ascend's PyTorch "
                "adapter) installed, or use ProfilerHook for CPU and CUDA",
                name="torch_npu",
            ) from err
        self.begin = begin
        self.end = end
        self.result_path = result_path
        self.exit_after_profiling = exit_after_profiling
        if ge_profiling_to_std_out:
            os.environ["GE_PROFILING_TO_STD_OUT"] = "1"
        os.makedirs(result_path, exist_ok=True)
        self.profiler = torch_npu.npu.profile(result_path, use_e2e_profiler=use_e2e_profiler)

    @master_only
    def before_run(self, runner: Any) -> None:
        if self.end > runner.max_iters:
            raise ValueError(
                f"NPUProfilerHook end={self.end} is past the run's last iteration "
                f"(max_iters={runner.max_iters}); lower end"
            )

    @master_only
    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        if runner.iter == self.begin:
            self.profiler.__enter__()
            runner.logger.info("NPUProfilerHook started profiling at iteration %d", self.begin)

    @master_only
    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if runner.iter == self.end - 1:
            runner.logger.info(
                "NPUProfilerHook stopped; saving the results to %s may take a few minutes",
                self.result_path,
            )
            self.profiler.__exit__(None, None, None)
            if self.exit_after_profiling:
                sys.exit()
