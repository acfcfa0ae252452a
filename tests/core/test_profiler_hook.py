"""ProfilerHook: MMEngine's options and checks, its points called directly, and in a Runner."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import pytest
import torch
from stand_in import StandInRunner
from toy import runner_kwargs

from hooks_core import HOOKS, Hook, ProfilerHook, Runner

if TYPE_CHECKING:
    from pathlib import Path

ONE_EPOCH = dict(by_epoch=True, max_epochs=1)
TWO_EPOCHS = dict(by_epoch=True, max_epochs=2)  # 5 iterations each, validation after each


def read_trace(path: Path | str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as file:
        events: list[dict[str, Any]] = json.load(file)["traceEvents"]
    return events


def optimizer_steps(events: list[dict[str, Any]]) -> int:
    return sum(event.get("name") == "Optimizer.step#SGD.step" for event in events)


def log_text(runner: Runner) -> str:
    with open(os.path.join(runner.log_dir, f"{runner.timestamp}.log"), encoding="utf-8") as file:
        return file.read()


def some_work() -> None:
    torch.ones(4, 4) @ torch.ones(4, 4)


# ------------------------------------------------------------ construction
def test_the_registry_builds_it_at_very_low_priority() -> None:
    hook = HOOKS.build(dict(type="ProfilerHook", by_epoch=False, profile_times=3))
    assert isinstance(hook, ProfilerHook) and hook.priority == "VERY_LOW"
    assert hook.profiler is None  # until before_run
    assert hook.activities == [torch.profiler.ProfilerActivity.CPU]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (dict(profile_times=0), ValueError, "profile_times must be a positive int, got 0"),
        (dict(profile_times=1.5), TypeError, "positive int"),
        # MMEngine profiles at most one epoch.
        (dict(by_epoch=True, profile_times=2), ValueError,
         "profiles the first training epoch only, so profile_times must be 1, got 2"),
        (dict(by_epoch="yes"), TypeError, "by_epoch must be a bool"),
        (dict(activity_with_cuda=1), TypeError, "activity_with_cuda must be a bool"),
        # What torch.profiler.schedule raises for missing arguments, as in MMEngine.
        (dict(schedule=dict()), TypeError, "missing 3 required keyword-only arguments"),
        (dict(schedule=dict(wait=1)), TypeError, "missing 2 required keyword-only arguments"),
        (dict(schedule=[1, 1, 1]), TypeError, "schedule must be None, a dict"),
        (dict(schedule=dict(wait=1, warmup=0, active=0)), ValueError,
         "invalid ProfilerHook schedule .* active=0 \\(need > 0\\)"),
        (dict(on_trace_ready=0), ValueError, "on_trace_ready must be None, a callable or a dict"),
        (dict(on_trace_ready=dict(type="csv")), ValueError, "'log_trace' or 'tb_trace', got 'csv'"),
        (dict(on_trace_ready=dict(type="tb_trace"), json_trace_path="t.json"), ValueError,
         "drop json_trace_path, or pass worker_name"),
    ],
)  # fmt: skip
def test_bad_options_are_refused(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ProfilerHook(**options)


def test_good_options_are_accepted() -> None:
    ProfilerHook(by_epoch=False, profile_times=1)
    ProfilerHook(schedule=dict(wait=1, warmup=1, active=3, repeat=1))
    ProfilerHook(schedule=torch.profiler.schedule(wait=1, warmup=1, active=1))
    hook = ProfilerHook(activity_with_cpu=False, activity_with_cuda=False)  # allowed
    assert hook.activities == []


def test_the_trace_handler_from_each_form(tmp_path: Path) -> None:
    runner = StandInRunner(tmp_path)
    hook = ProfilerHook()
    assert hook._parse_trace_config(runner) is None

    def handler(profiler: Any) -> None:
        pass

    hook.on_trace_ready = handler
    assert hook._parse_trace_config(runner) is handler
    hook.on_trace_ready = dict(type="log_trace", sort_by="self_cpu_time_total", row_limit=10)
    assert callable(hook._parse_trace_config(runner))
    hook.on_trace_ready = dict(type="tb_trace", dir_name="tb")
    assert callable(hook._parse_trace_config(runner))  # torch-tb-profiler is not needed
    hook.on_trace_ready = dict(type="unknown")
    with pytest.raises(ValueError, match="got 'unknown'"):
        hook._parse_trace_config(runner)


# ------------------------------------------------------------ points called directly
def test_before_run_checks_the_length_and_starts_profiling(tmp_path: Path) -> None:
    runner = StandInRunner(tmp_path, max_epochs=1000, max_iters=10000)
    hook = ProfilerHook()
    hook.before_run(runner)
    assert isinstance(hook.profiler, torch.profiler.profile)
    hook.after_run(runner)  # stops it
    with pytest.raises(ValueError, match="cannot profile 10001 training iterations"):
        ProfilerHook(by_epoch=False, profile_times=10001).before_run(runner)
    with pytest.raises(ValueError, match=r"cannot profile 11 training iterations: .* only 10"):
        ProfilerHook(by_epoch=False, profile_times=11).before_run(StandInRunner(tmp_path))


def test_after_train_epoch_stops_and_exports(tmp_path: Path) -> None:
    runner = StandInRunner(tmp_path, max_epochs=1000)
    hook = ProfilerHook(json_trace_path=tmp_path / "demo.json")
    hook.before_run(runner)
    some_work()
    hook.after_train_iter(runner, 0)
    hook.after_train_epoch(runner)
    assert any(event.get("name") == "aten::mm" for event in read_trace(tmp_path / "demo.json"))
    hook.after_train_iter(runner, 1)  # closed: no more steps, no error
    hook.after_train_epoch(runner)
    hook.before_run(runner)  # one run only
    assert hook._closed


def test_after_train_iter_stops_at_iteration_profile_times(tmp_path: Path) -> None:
    runner = StandInRunner(tmp_path, max_iters=10000)
    runner.iter = 9  # the 10th iteration, so profiling ends with it
    hook = ProfilerHook(by_epoch=False, profile_times=10, json_trace_path=tmp_path / "t.json")
    hook.before_run(runner)
    some_work()
    hook.after_train_iter(runner, 1, 1, 1)
    assert any(event.get("name") == "aten::mm" for event in read_trace(tmp_path / "t.json"))
    runner.iter = 3
    hook = ProfilerHook(by_epoch=False, profile_times=10, json_trace_path=tmp_path / "u.json")
    hook.before_run(runner)
    hook.after_train_iter(runner, 1, 1, 1)
    assert not (tmp_path / "u.json").exists()  # still profiling
    hook.after_run(runner)
    assert (tmp_path / "u.json").exists()


def test_a_trace_from_rank_1_gets_its_own_name(tmp_path: Path) -> None:
    runner = StandInRunner(tmp_path, rank=1, world_size=2)
    hook = ProfilerHook(json_trace_path=tmp_path / "trace.json")
    hook.before_run(runner)
    some_work()
    hook.after_train_epoch(runner)
    assert (tmp_path / "trace_rank1.json").exists() and not (tmp_path / "trace.json").exists()


# ------------------------------------------------------------ in a Runner
@pytest.mark.parametrize(
    ("options", "train_cfg", "steps"),
    [
        (dict(), ONE_EPOCH, 5),
        (dict(), TWO_EPOCHS, 5),  # the first epoch
        (dict(by_epoch=False, profile_times=3), TWO_EPOCHS, 3),
        (dict(by_epoch=False, profile_times=8), TWO_EPOCHS, 5),  # still ends with the epoch
        (dict(activity_with_cpu=False, activity_with_cuda=False), ONE_EPOCH, 5),
    ],
)
def test_in_a_runner_it_writes_a_chrome_trace_of_what_it_profiled(
    tmp_path: Path, options: dict[str, Any], train_cfg: dict[str, Any], steps: int
) -> None:
    path = tmp_path / "traces" / "trace.json"
    hook = ProfilerHook(json_trace_path=path, **options)
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=train_cfg), custom_hooks=[hook])
    assert runner.hooks[-1] is hook
    runner.train()
    events = read_trace(path)
    assert any(event.get("name") == "aten::addmm" for event in events)
    assert optimizer_steps(events) == steps


def test_in_a_runner_schedule_and_callable_on_trace_ready(tmp_path: Path) -> None:
    ready: list[Any] = []
    hook = ProfilerHook(by_epoch=False, profile_times=5, on_trace_ready=ready.append,
                        schedule=dict(wait=1, warmup=1, active=2, repeat=1),
                        json_trace_path=tmp_path / "trace.json")  # fmt: skip
    Runner(**runner_kwargs(tmp_path, train_cfg=ONE_EPOCH), custom_hooks=[hook]).train()
    assert len(ready) == 1 and isinstance(ready[0], torch.profiler.profile)
    events = read_trace(tmp_path / "trace.json")
    steps = {event["name"] for event in events if event["name"].startswith("ProfilerStep#")}
    assert steps == {"ProfilerStep#2", "ProfilerStep#3"}
    assert optimizer_steps(events) == 2


def test_in_a_runner_log_trace_logs_the_table(tmp_path: Path) -> None:
    trace = dict(type="log_trace", sort_by="cpu_time_total", row_limit=5)
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=ONE_EPOCH, log_level="INFO"),
                    custom_hooks=[dict(type="ProfilerHook", on_trace_ready=trace)])  # fmt: skip
    runner.train()
    log = log_text(runner)
    assert "ProfilerHook started; it stops at the end of the first training epoch" in log
    table = log.split("Profiler summary:\n", 1)[1]
    assert "Self CPU %" in table and "aten::" in table
    assert trace == dict(type="log_trace", sort_by="cpu_time_total", row_limit=5)  # not modified


@pytest.mark.parametrize(("dir_name", "expected"), [(None, "tf_tracing_logs"), ("tb", "tb")])
def test_in_a_runner_tb_trace_writes_tensorboard_traces(
    tmp_path: Path, dir_name: str | None, expected: str
) -> None:
    trace = dict(type="tb_trace", worker_name="worker0") | (
        {} if dir_name is None else {"dir_name": dir_name}
    )
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=ONE_EPOCH),
                    custom_hooks=[ProfilerHook(on_trace_ready=trace)])  # fmt: skip
    runner.train()
    trace_dir = tmp_path / runner.timestamp / expected
    files = os.listdir(trace_dir)
    assert len(files) == 1 and files[0].startswith("worker0.")
    assert files[0].endswith(".pt.trace.json")
    assert optimizer_steps(read_trace(trace_dir / files[0])) == 5


def test_in_a_runner_it_stops_when_training_ends_early(tmp_path: Path) -> None:
    class StopAtThree(Hook):
        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            if runner.iter + 1 == 3:
                runner.train_loop.stop_training = True

    hook = ProfilerHook(by_epoch=False, profile_times=8, json_trace_path=tmp_path / "t.json")
    train_cfg = dict(by_epoch=False, max_iters=10, val_interval=10)
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=train_cfg),
                    custom_hooks=[hook, StopAtThree()])  # fmt: skip
    runner.train()
    assert runner.iter == 3
    assert optimizer_steps(read_trace(tmp_path / "t.json")) == 3
    # One run only: a later validation is not profiled over the first trace.
    (tmp_path / "t.json").unlink()
    runner.val()
    assert not (tmp_path / "t.json").exists()


def test_in_a_runner_without_training_the_whole_run_is_profiled(tmp_path: Path) -> None:
    kwargs = runner_kwargs(tmp_path)
    for key in ("train_dataloader", "train_cfg", "optim_wrapper"):
        del kwargs[key]
    hook = ProfilerHook(json_trace_path=tmp_path / "val.json")
    Runner(**kwargs, custom_hooks=[hook]).val()
    events = read_trace(tmp_path / "val.json")
    assert any(event.get("name") == "aten::addmm" for event in events)
    assert optimizer_steps(events) == 0


@pytest.mark.parametrize(
    ("options", "train_cfg", "message"),
    [
        (dict(by_epoch=False, profile_times=6), dict(by_epoch=False, max_iters=5),
         "cannot profile 6 training iterations: the run has only 5"),
    ],
)  # fmt: skip
def test_in_a_runner_more_times_than_the_run_has_is_refused(
    tmp_path: Path, options: dict[str, Any], train_cfg: dict[str, Any], message: str
) -> None:
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=train_cfg),
                    custom_hooks=[ProfilerHook(**options)])  # fmt: skip
    with pytest.raises(ValueError, match=message):
        runner.train()
