"""IterTimerHook: MMEngine's data_time, time and eta, with a clock that ticks once per reading."""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Any

import pytest
from stand_in import StandInRunner
from toy import runner_kwargs

from hooks_core import HOOKS, IterTimerHook, Runner

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each reading of the clock is one second after the previous one.

    So an iteration costs 2 s: the timer reads the clock before it (data time
    1 s since the previous reading) and after it (2 s since the same point).
    """
    ticks = itertools.count()
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(ticks)))


def history(runner: Any, key: str) -> list[Any]:
    return list(runner.message_hub.get_scalar(key).data[0])


def test_the_registry_builds_it() -> None:
    hook = HOOKS.build(dict(type="IterTimerHook"))
    assert isinstance(hook, IterTimerHook) and hook.priority == "NORMAL"
    assert (hook.start_iter, hook.time_sec_tot, hook.time_sec_test_val) == (0, 0, 0)


@pytest.mark.parametrize("mode", ["train", "val", "test"])
def test_data_time_runs_from_the_epoch_start(
    tmp_path: Path, ticking_clock: None, mode: str
) -> None:
    runner = StandInRunner(tmp_path)
    hook = IterTimerHook()
    hook._before_epoch(runner)
    hook._before_iter(runner, batch_idx=1, mode=mode)
    assert history(runner, f"{mode}/data_time") == [1]


def test_any_point_may_come_first(tmp_path: Path, ticking_clock: None) -> None:
    runner = StandInRunner(tmp_path, max_iters=5)
    hook = IterTimerHook()  # the clock is read at construction
    hook.before_train_iter(runner, batch_idx=0)
    hook.after_train_iter(runner, batch_idx=0)
    assert history(runner, "train/data_time") == [1]
    assert history(runner, "train/time") == [2]
    assert runner.message_hub.get_info("eta") == 2 * 4


def test_eta_in_training_validation_and_testing(tmp_path: Path, ticking_clock: None) -> None:
    # The sequence of MMEngine's own test, with its numbers.
    runner = StandInRunner(tmp_path, max_iters=100, val_dataloader=[0] * 4,
                           test_dataloader=[0] * 4)  # fmt: skip
    hook = IterTimerHook()
    hook.before_run(runner)
    hook._before_epoch(runner)
    for _ in range(10):
        hook.before_train_iter(runner, 1)
        hook.after_train_iter(runner, 1)
        runner.iter += 1
    assert history(runner, "train/time") == [2] * 10
    assert runner.message_hub.get_info("eta") == 90 * 2  # 90 iterations left, 2 s each
    hook.after_train_epoch(runner)
    for mode in ("val", "test"):
        for batch_idx in range(2):
            getattr(hook, f"before_{mode}_iter")(runner, 1)
            getattr(hook, f"after_{mode}_iter")(runner, batch_idx=batch_idx)
        assert runner.message_hub.get_info("eta") == 4  # 2 batches left
        for batch_idx in range(2, 4):
            getattr(hook, f"before_{mode}_iter")(runner, 1)
            getattr(hook, f"after_{mode}_iter")(runner, batch_idx=batch_idx)
        getattr(hook, f"after_{mode}_epoch")(runner)
        assert runner.message_hub.get_info("eta") == 0
        assert hook.time_sec_test_val == 0  # reset for the next evaluation
        assert history(runner, f"{mode}/time") == [2] * 4


def test_eta_counts_from_where_training_resumed(tmp_path: Path, ticking_clock: None) -> None:
    runner = StandInRunner(tmp_path, max_iters=100)
    runner.iter = 50
    hook = IterTimerHook()
    hook.before_train(runner)
    hook._before_epoch(runner)
    for _ in range(5):
        hook.before_train_iter(runner, 0)
        hook.after_train_iter(runner, 0)
        runner.iter += 1
    assert hook.start_iter == 50 and hook.time_sec_tot == 10
    assert runner.message_hub.get_info("eta") == 2 * 45


def test_in_a_runner(tmp_path: Path, ticking_clock: None) -> None:
    train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=train_cfg))
    runner.train()
    # 5 iterations an epoch, then 2 validation batches: each iteration costs 2 s, the
    # first one of an epoch too (measured from the epoch's start).
    assert history(runner, "train/time") == [2] * 10
    assert history(runner, "train/data_time") == [1] * 10
    assert history(runner, "val/time") == [2] * 4
    assert history(runner, "val/data_time") == [1] * 4
    assert runner.message_hub.get_info("eta") == 0
