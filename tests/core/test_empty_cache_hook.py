"""EmptyCacheHook: empties the CUDA cache at the enabled points, called directly and in a Runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import torch
from stand_in import StandInRunner
from toy import runner_kwargs

from hooks_core import HOOKS, EmptyCacheHook, Runner
from hooks_core.engine import GENERIC_POINTS

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def empty_cache_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count ``torch.cuda.empty_cache`` calls (it does nothing on a machine without CUDA)."""
    calls: list[int] = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append(1))
    return calls


def test_the_registry_builds_it_with_mmengines_options() -> None:
    hook = HOOKS.build(dict(type="EmptyCacheHook", before_epoch=True, after_iter=True))
    assert isinstance(hook, EmptyCacheHook) and hook.priority == "NORMAL"
    assert (hook._do_before_epoch, hook._do_after_epoch, hook._do_after_iter) == (True, True, True)
    assert repr(hook) == "EmptyCacheHook(before_epoch=True, after_epoch=True, after_iter=True)"
    assert repr(EmptyCacheHook()) == (
        "EmptyCacheHook(before_epoch=False, after_epoch=True, after_iter=False)"
    )


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
def test_called_directly_only_enabled_points_empty_the_cache(
    tmp_path: Path, empty_cache_calls: list[int], options: dict[str, bool], expected: list[str]
) -> None:
    runner = StandInRunner(tmp_path)
    hook = EmptyCacheHook(**options)
    emptied = []
    for point in GENERIC_POINTS:
        before = len(empty_cache_calls)
        method = getattr(hook, point)
        method(runner) if point.endswith("epoch") else method(runner, batch_idx=0)
        if len(empty_cache_calls) > before:
            emptied.append(point)
    assert sorted(emptied) == sorted(expected)
    assert sorted(hook.get_triggered_stages()) == sorted(expected)


def test_the_generic_points_empty_the_cache_too(
    tmp_path: Path, empty_cache_calls: list[int]
) -> None:
    hook = EmptyCacheHook(before_epoch=True, after_iter=True)
    runner = StandInRunner(tmp_path)
    hook._before_epoch(runner, mode="val")
    hook._after_epoch(runner)
    hook._after_iter(runner, batch_idx=3, data_batch=None, outputs=None, mode="test")
    assert len(empty_cache_calls) == 3


def test_in_a_runner_only_enabled_points_are_dispatched(tmp_path: Path) -> None:
    hook = EmptyCacheHook(after_epoch=False, after_iter=True)
    runner = Runner(**runner_kwargs(tmp_path), custom_hooks=[hook])
    dispatched = [p for p in GENERIC_POINTS if hook in runner._hooks.hooks_at(p)]
    assert sorted(dispatched) == ["after_test_iter", "after_train_iter", "after_val_iter"]


def test_in_a_runner_it_empties_the_cache_at_its_points(
    tmp_path: Path, empty_cache_calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = Runner(
        **runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=2)),
        custom_hooks=[dict(type="EmptyCacheHook", before_epoch=True, after_iter=True)],
    )
    counters: list[Any] = []
    monkeypatched = torch.cuda.empty_cache

    def count() -> None:
        counters.append((runner.epoch, runner.iter))
        monkeypatched()

    monkeypatch.setattr(torch.cuda, "empty_cache", count)
    runner.train()
    # Per epoch: before + 5 train iterations + after, then before + 2 val iterations + after.
    assert len(empty_cache_calls) == 2 * (7 + 4)
    # The counter moves on after `after_train_iter`.
    assert counters[:7] == [(0, 0), (0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 5)]
    runner.val()
    assert len(empty_cache_calls) == 2 * (7 + 4) + 4


def test_it_runs_without_cuda(tmp_path: Path) -> None:
    hook = EmptyCacheHook(True, True, True)
    Runner(**runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1)),
           custom_hooks=[hook]).train()  # fmt: skip
