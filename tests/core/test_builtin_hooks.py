"""EmptyCacheHook, SyncBuffersHook, ProfilerHook and FunctionHook, run by a real Runner."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import pytest
import torch
from torch import nn
from toy import ToyModel, runner_kwargs

import hooks_core.dist
from hooks_core import HOOKS, Hook, HookList, Runner
from hooks_core.engine import GENERIC_POINTS
from hooks_core.hooks import EmptyCacheHook, FunctionHook, ProfilerHook, SyncBuffersHook

if TYPE_CHECKING:
    from pathlib import Path

ONE_EPOCH = dict(by_epoch=True, max_epochs=1)
TWO_EPOCHS = dict(by_epoch=True, max_epochs=2)  # 5 iterations each, validation after each


def points_with(hook: Hook, runner: Runner, points: Any = None) -> list[str]:
    """The points of `points` (default: all mode-specific generic ones) that dispatch to `hook`."""
    return [p for p in points or GENERIC_POINTS if hook in runner._hooks.hooks_at(p)]


def log_text(runner: Runner) -> str:
    with open(os.path.join(runner.log_dir, f"{runner.timestamp}.log"), encoding="utf-8") as file:
        return file.read()


# ------------------------------------------------------------ EmptyCacheHook
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, ["after_train_epoch", "after_val_epoch", "after_test_epoch"]),
        (dict(before_epoch=True, after_epoch=False),
         ["before_train_epoch", "before_val_epoch", "before_test_epoch"]),
        (dict(after_epoch=False, after_iter=True),
         ["after_train_iter", "after_val_iter", "after_test_iter"]),
        (dict(after_epoch=False), []),
    ],
)  # fmt: skip
def test_empty_cache_hook_is_dispatched_only_where_enabled(
    tmp_path: Path, options: dict[str, bool], expected: list[str]
) -> None:
    hook = EmptyCacheHook(**options)
    runner = Runner(**runner_kwargs(tmp_path), custom_hooks=[hook])
    assert sorted(points_with(hook, runner)) == sorted(expected)
    assert sorted(hook.get_triggered_stages()) == sorted(expected)
    assert points_with(hook, runner, ["before_run", "after_run", "before_train"]) == []


def test_empty_cache_hook_empties_the_cache_at_its_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int]] = []
    runner = Runner(
        **runner_kwargs(tmp_path, train_cfg=TWO_EPOCHS),
        custom_hooks=[dict(type="EmptyCacheHook", before_epoch=True, after_iter=True)],
    )
    counters = lambda: calls.append((runner.epoch, runner.iter))  # noqa: E731
    monkeypatch.setattr(torch.cuda, "empty_cache", counters)
    runner.train()
    # Per epoch: before + 5 train iterations + after, then before + 2 val iterations + after.
    assert len(calls) == 2 * (7 + 4)
    # The counter moves on after `after_train_iter`.
    assert calls[:7] == [(0, 0), (0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 5)]


def test_empty_cache_hook_runs_without_cuda(tmp_path: Path) -> None:
    hook = EmptyCacheHook(True, True, True)
    Runner(**runner_kwargs(tmp_path, train_cfg=ONE_EPOCH), custom_hooks=[hook]).train()
    assert repr(hook) == ("EmptyCacheHook(before_epoch=True, after_epoch=True, after_iter=True)")


# ------------------------------------------------------------ SyncBuffersHook
def bn_model() -> ToyModel:
    torch.manual_seed(0)
    model = ToyModel()
    model.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    return model


def test_sync_buffers_hook_leaves_a_single_process_run_unchanged(tmp_path: Path) -> None:
    states = []
    for hooks in ([], [SyncBuffersHook()]):
        runner = Runner(**runner_kwargs(tmp_path, model=bn_model(), train_cfg=TWO_EPOCHS),
                        custom_hooks=hooks)  # fmt: skip
        runner.train()
        states.append(runner.model.state_dict())
    assert states[1]["net.1.running_mean"].abs().sum() > 0  # the buffers did change in training
    assert states[0].keys() == states[1].keys()
    for key, value in states[0].items():
        assert torch.equal(states[1][key], value), key


@pytest.mark.parametrize(
    ("train_cfg", "expected", "then_val"),
    [
        # Epoch-based: after each training epoch; the validation right after needs no sync,
        # but a later validation on its own syncs (buffers may have been changed since).
        (TWO_EPOCHS, [("after_train_epoch", 5), ("after_train_epoch", 10)],
         [("before_val_epoch", 10)]),
        # Iteration-based: validation runs mid-epoch, so before each one (the last one too:
        # it comes before the end of the single training epoch). Training then ends with
        # a sync, so a validation on its own needs none.
        (dict(by_epoch=False, max_iters=7, val_interval=3),
         [("before_val_epoch", 3), ("before_val_epoch", 6), ("before_val_epoch", 7),
          ("after_train_epoch", 7)],
         ["before_val_epoch"]),
    ],
)  # fmt: skip
def test_sync_buffers_hook_averages_buffers_when_distributed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    train_cfg: dict[str, Any],
    expected: list[tuple[str, int]],
    then_val: list[Any],
) -> None:
    model = bn_model()
    synced: list[Any] = []  # the points reached, each replaced by (point, iter) if it synced
    stage = FunctionHook(
        {"before_val_epoch": lambda runner: synced.append("before_val_epoch"),
         "after_train_epoch": lambda runner: synced.append("after_train_epoch")},
        priority="HIGHEST",
    )  # fmt: skip
    runner = Runner(**runner_kwargs(tmp_path, model=model, train_cfg=train_cfg),
                    custom_hooks=[stage, SyncBuffersHook()])  # fmt: skip
    runner.distributed = True  # the spy stands in for the collective

    def spy(tensors: Any) -> None:
        tensors = list(tensors)
        assert [id(t) for t in tensors] == [id(b) for b in model.buffers()]
        synced[-1] = (synced[-1], runner.iter)

    monkeypatch.setattr(hooks_core.dist, "all_reduce_mean", spy)
    runner.train()
    assert [entry for entry in synced if isinstance(entry, tuple)] == expected
    synced.clear()
    runner.val()
    assert synced == then_val


# ------------------------------------------------------------ ProfilerHook
def read_trace(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as file:
        events: list[dict[str, Any]] = json.load(file)["traceEvents"]
    return events


def optimizer_steps(events: list[dict[str, Any]]) -> int:
    return sum(event.get("name") == "Optimizer.step#SGD.step" for event in events)


@pytest.mark.parametrize(
    ("options", "train_cfg", "steps"),
    [
        (dict(), ONE_EPOCH, 5),
        (dict(), TWO_EPOCHS, 5),  # stopped after the first epoch
        (dict(profile_times=2), TWO_EPOCHS, 10),
        (dict(by_epoch=False, profile_times=3), TWO_EPOCHS, 3),
    ],
)
def test_profiler_hook_writes_a_chrome_trace_of_what_it_profiled(
    tmp_path: Path, options: dict[str, Any], train_cfg: dict[str, Any], steps: int
) -> None:
    path = tmp_path / "traces" / "trace.json"
    hook = ProfilerHook(json_trace_path=path, **options)
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=train_cfg), custom_hooks=[hook])
    assert runner.hooks[-1] is hook and hook.priority == "VERY_LOW"
    runner.train()
    events = read_trace(path)
    assert any(event.get("name") == "aten::addmm" for event in events)
    assert optimizer_steps(events) == steps


def test_profiler_hook_schedule_and_callable_on_trace_ready(tmp_path: Path) -> None:
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


def test_profiler_hook_log_trace_logs_the_table(tmp_path: Path) -> None:
    trace = dict(type="log_trace", sort_by="cpu_time_total", row_limit=5)
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=ONE_EPOCH, log_level="INFO"),
                    custom_hooks=[dict(type="ProfilerHook", on_trace_ready=trace)])  # fmt: skip
    runner.train()
    log = log_text(runner)
    assert "ProfilerHook started; it stops after 1 training epoch or at the end" in log
    table = log.split("Profiler summary:\n", 1)[1]
    assert "Self CPU %" in table and "aten::" in table
    assert trace == dict(type="log_trace", sort_by="cpu_time_total", row_limit=5)  # not modified


@pytest.mark.parametrize(("dir_name", "expected"), [(None, "tf_tracing_logs"), ("tb", "tb")])
def test_profiler_hook_tb_trace_writes_tensorboard_traces(
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


def test_profiler_hook_stops_when_training_ends_early(tmp_path: Path) -> None:
    class StopAtThree(Hook):
        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            if runner.iter + 1 == 3:
                runner.train_loop.stop_training = True

    hook = ProfilerHook(by_epoch=False, profile_times=8, json_trace_path=tmp_path / "t.json")
    train_cfg = dict(by_epoch=False, max_iters=10, val_interval=100)
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=train_cfg),
                    custom_hooks=[hook, StopAtThree()])  # fmt: skip
    runner.train()
    assert runner.iter == 3
    assert optimizer_steps(read_trace(tmp_path / "t.json")) == 3
    # One run only: a later validation is not profiled over the first trace.
    (tmp_path / "t.json").unlink()
    runner.val()
    assert not (tmp_path / "t.json").exists()


def test_profiler_hook_profiles_a_run_without_training(tmp_path: Path) -> None:
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
        (dict(by_epoch=False, profile_times=6), ONE_EPOCH,
         "cannot profile 6 training iterations: the run has only 5"),
        (dict(profile_times=3), TWO_EPOCHS, "cannot profile 3 training epochs: the run has only 2"),
    ],
)  # fmt: skip
def test_profiler_hook_rejects_more_times_than_the_run_has(
    tmp_path: Path, options: dict[str, Any], train_cfg: dict[str, Any], message: str
) -> None:
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=train_cfg),
                    custom_hooks=[ProfilerHook(**options)])  # fmt: skip
    with pytest.raises(ValueError, match=message):
        runner.train()


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (dict(profile_times=0), ValueError, "profile_times must be a positive int, got 0"),
        (dict(profile_times=1.5), TypeError, "positive int"),
        (dict(activity_with_cpu=False), ValueError, "nothing to profile"),
        (dict(on_trace_ready=dict(type="csv")), ValueError, "'log_trace' or 'tb_trace', got 'csv'"),
        (dict(on_trace_ready="log"), TypeError, "on_trace_ready must be None, a callable"),
        (dict(on_trace_ready=dict(type="tb_trace"), json_trace_path="t.json"), ValueError,
         "drop json_trace_path, or pass worker_name"),
        (dict(schedule=[1, 1, 1]), TypeError, "schedule must be None, a dict"),
        (dict(schedule=dict(wait=1, warmup=0, active=0)), ValueError,
         "invalid ProfilerHook schedule .* active=0 \\(need > 0\\)"),
        (dict(schedule=dict(wait=1)), ValueError, "missing 2 required keyword-only arguments"),
    ],
)  # fmt: skip
def test_profiler_hook_rejects_bad_options(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ProfilerHook(**options)


# ------------------------------------------------------------ FunctionHook
def test_function_hook_calls_functions_at_their_points_with_their_arguments(
    tmp_path: Path,
) -> None:
    calls: list[tuple[Any, ...]] = []

    def after_iter(runner: Any, batch_idx: int, data_batch: Any = None,
                   outputs: Any = None) -> None:  # fmt: skip
        calls.append(("after_train_iter", runner.iter, batch_idx, sorted(data_batch),
                      sorted(outputs)))  # fmt: skip

    hook = FunctionHook(
        {
            "before_run": lambda runner: calls.append(("before_run", type(runner).__name__)),
            "after_train_iter": after_iter,
            "after_val_epoch": lambda runner, metrics: calls.append(("val", sorted(metrics))),
            "_before_epoch": lambda runner, mode: calls.append(("_before_epoch", mode)),
        }
    )
    assert sorted(hook.get_triggered_stages()) == sorted(
        ["before_run", "after_train_iter", "after_val_epoch", "before_train_epoch",
         "before_val_epoch", "before_test_epoch"]
    )  # fmt: skip
    train_cfg = dict(by_epoch=True, max_epochs=1)
    kwargs = runner_kwargs(tmp_path, train_cfg=train_cfg)
    kwargs["train_dataloader"]["dataset"] = kwargs["train_dataloader"]["dataset"].__class__(16)
    Runner(**kwargs, custom_hooks=[hook]).train()
    assert calls == [
        ("before_run", "Runner"),
        ("_before_epoch", "train"),
        ("after_train_iter", 0, 0, ["inputs", "targets"], ["loss"]),
        ("after_train_iter", 1, 1, ["inputs", "targets"], ["loss"]),
        ("_before_epoch", "val"),
        ("val", ["mse"]),
    ]


def test_function_hooks_run_in_priority_order(tmp_path: Path) -> None:
    order: list[str] = []

    def record(name: str) -> Any:
        return lambda runner: order.append(name)

    runner = Runner(
        **runner_kwargs(tmp_path, train_cfg=ONE_EPOCH),
        custom_hooks=[
            FunctionHook("after_train", record("low"), priority="LOW"),
            FunctionHook({"after_train": record("normal")}),
            dict(type="ClosureHook", fn_name="after_train", fn=record("highest"),
                 priority="HIGHEST"),
            dict(type="FunctionHook", fn_name={"after_train": record("high")}, priority="HIGH"),
        ],
    )  # fmt: skip
    functions = [h for h in runner._hooks.hooks_at("after_train") if isinstance(h, FunctionHook)]
    assert [h.priority for h in functions] == ["HIGHEST", "HIGH", "NORMAL", "LOW"]
    runner.train()
    assert order == ["highest", "high", "normal", "low"]
    assert HOOKS.get("ClosureHook") is FunctionHook


def test_function_hook_custom_points(tmp_path: Path) -> None:
    seen: list[Any] = []
    hook = FunctionHook("after_train_step", lambda runner, **kwargs: seen.append(kwargs))
    runner = Runner(**runner_kwargs(tmp_path), custom_hooks=[hook])
    runner.call_hook("after_train_step", step=3)
    assert seen == [{"step": 3}]
    assert hook.get_triggered_stages() == []  # only built-in points are stages


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("after_trian_iter", "after_train_iter"),
        ("before_train_epoc", "before_train_epoch"),
        ("befor_run", "before_run"),
        ("After_Run", "after_run"),
        ("after_epoch", "_after_epoch"),  # MMCV 1.x's generic name
    ],
)
def test_function_hook_rejects_a_misspelt_point(name: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match=f"{name!r} is not a hook point; did you mean "
                                         f"{suggestion!r}"):  # fmt: skip
        FunctionHook(name, lambda runner: None)
    with pytest.raises(ValueError, match=f"did you mean {suggestion!r}"):
        FunctionHook({"before_run": lambda runner: None, name: lambda runner: None})


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("priority", print), ValueError, "'priority' is an attribute of FunctionHook"),
        (("every_n_epochs", print), ValueError, "not a hook point"),
        (("before_run",), TypeError, r"FunctionHook\('before_run'\) needs the function"),
        (({"before_run": print}, print), TypeError, "not both"),
        (({},), ValueError, "at least one function"),
        ((["before_run"], print), TypeError, "fn_name must be a hook point name or a dict"),
        (("before_run", "print"), TypeError, "the function for 'before_run' must be callable"),
        (({1: print},), TypeError, "hook point names must be str"),
    ],
)
def test_function_hook_rejects_bad_arguments(
    args: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        FunctionHook(*args)


def test_function_hook_rejects_an_unknown_priority() -> None:
    with pytest.raises(ValueError, match="unknown priority 'SOON'"):
        FunctionHook("before_run", print, priority="SOON")


def test_function_hook_signatures_are_checked_at_registration() -> None:
    hooks = HookList(owner=None)
    with pytest.raises(TypeError, match=r"FunctionHook.after_train_iter\(runner\) cannot be "
                                        r"called at hook point 'after_train_iter'"):  # fmt: skip
        hooks.register(FunctionHook("after_train_iter", lambda runner: None))
    with pytest.raises(TypeError, match=r"_after_epoch\(runner, phase\) cannot be called"):
        hooks.register(FunctionHook("_after_epoch", lambda runner, phase: None))
    assert len(hooks) == 0
    hooks.register(FunctionHook("after_train_iter", lambda runner, **kwargs: None))
    assert len(hooks) == 1
