"""CheckpointHook faults: checkpoints left by SIGTERM, bad counts, a `save_best` no metric has.

The runner saves ``interrupted_iter_N.pth`` when SIGTERM stops training; the
hook of the resumed run removes it under its `max_keep_ckpts` policy once every
kept checkpoint is newer, and never before a newer one is written and pointed
at. In-process runs stop as the runner's SIGTERM handler makes them stop (the
handler's own call, ``train_loop.request_stop``); one test per mode sends a real
SIGTERM to a real process.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from eval_parts import ScriptedMetric, checkpoint_run, epochs, files, scripted_runner
from toy import StopAfter

from hooks_core import Hook, Runner, TrainingInterrupted
from hooks_core.checkpoint import load_checkpoint_file
from hooks_eval import CheckpointHook

WORKER = Path(__file__).with_name("sigterm_worker.py")


class Snapshots(Hook):
    """Record, before each iteration (after the checkpoint hook's writes), files and pointer."""

    priority = "LOWEST"

    def __init__(self) -> None:
        self.seen: list[tuple[int, list[str], str]] = []

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        pointer = Path(runner.work_dir, "last_checkpoint").read_text()
        self.seen.append((runner.iter, files(runner.work_dir), Path(pointer).name))


def train(work_dir: Path, checkpoint: dict[str, Any], train_cfg: dict[str, Any],
          hooks: list[Hook], resume: bool = False) -> Runner:  # fmt: skip
    """The per-sample toy with this CheckpointHook; returns the runner, stopped or finished."""
    runner = scripted_runner(
        work_dir, [ScriptedMetric(dict.fromkeys(range(100), 0.5), "acc")], hooks,
        checkpoint={"type": "CheckpointHook", **checkpoint}, train_cfg=train_cfg, resume=resume,
    )  # fmt: skip
    with contextlib.suppress(TrainingInterrupted):  # the stopped run saved and "exited"
        runner.train()
    return runner


ITERS = dict(by_epoch=False, max_iters=10, val_interval=3)
EVERY_2_KEEP_2 = dict(interval=2, by_epoch=False, max_keep_ckpts=2)


def test_an_interrupted_checkpoint_goes_once_every_kept_one_is_newer(tmp_path: Path) -> None:
    """Stopped after 5: kept 2, 4, interrupted_5. Resumed: 6 keeps 4 (older than 5), so
    interrupted_5 stays; 8 drops 4 and it, after pointing at iter_8."""
    train(tmp_path, EVERY_2_KEEP_2, ITERS, [StopAfter(5)])
    assert files(tmp_path) == ["interrupted_iter_5.pth", "iter_2.pth", "iter_4.pth"]
    listed = load_checkpoint_file(tmp_path / "interrupted_iter_5.pth")["message_hub"]
    assert listed["runtime_info"]["interrupted_ckpts"] == [
        {"path": str(tmp_path / "interrupted_iter_5.pth"), "epoch": 0, "iter": 5}
    ]  # the file lists itself, so the resumed run knows it

    snapshots = Snapshots()
    runner = train(tmp_path, EVERY_2_KEEP_2, ITERS, [snapshots], resume=True)
    assert snapshots.seen == [
        (5, ["interrupted_iter_5.pth", "iter_2.pth", "iter_4.pth"], "interrupted_iter_5.pth"),
        (6, ["interrupted_iter_5.pth", "iter_4.pth", "iter_6.pth"], "iter_6.pth"),
        (7, ["interrupted_iter_5.pth", "iter_4.pth", "iter_6.pth"], "iter_6.pth"),
        (8, ["iter_6.pth", "iter_8.pth"], "iter_8.pth"),
        (9, ["iter_6.pth", "iter_8.pth"], "iter_8.pth"),
    ]
    assert files(tmp_path) == ["iter_10.pth", "iter_8.pth"]
    assert runner.message_hub.get_info("interrupted_ckpts") == []
    hub = load_checkpoint_file(tmp_path / "iter_8.pth")["message_hub"]["runtime_info"]
    assert hub["interrupted_ckpts"] == []  # the checkpoint that replaced it no longer lists it


def test_a_checkpoint_written_before_the_removal_still_lists_the_file(tmp_path: Path) -> None:
    """iter_6 was written while interrupted_5 was kept: resuming from it, 8 still removes it."""
    train(tmp_path, EVERY_2_KEEP_2, ITERS, [StopAfter(5)])
    train(tmp_path, EVERY_2_KEEP_2, ITERS, [StopAfter(7)], resume=True)
    assert files(tmp_path) == [
        "interrupted_iter_5.pth", "interrupted_iter_7.pth", "iter_4.pth", "iter_6.pth"
    ]  # fmt: skip
    train(tmp_path, EVERY_2_KEEP_2, ITERS, [], resume=True)
    assert files(tmp_path) == ["iter_10.pth", "iter_8.pth"]  # both interrupted files went


def test_two_interruptions_each_go_in_turn(tmp_path: Path) -> None:
    """Stopped after 3, then after 5: interrupted_3 goes at 6 (4 and 6 kept), interrupted_5 at 8."""
    cfg = dict(by_epoch=False, max_iters=12, val_interval=3)
    train(tmp_path, EVERY_2_KEEP_2, cfg, [StopAfter(3)])
    train(tmp_path, EVERY_2_KEEP_2, cfg, [StopAfter(5)], resume=True)
    assert files(tmp_path) == [
        "interrupted_iter_3.pth", "interrupted_iter_5.pth", "iter_2.pth", "iter_4.pth"
    ]  # fmt: skip
    snapshots = Snapshots()
    train(tmp_path, EVERY_2_KEEP_2, cfg, [snapshots], resume=True)
    assert [names for it, names, _ in snapshots.seen if it in (7, 9)] == [
        ["interrupted_iter_5.pth", "iter_4.pth", "iter_6.pth"],
        ["iter_6.pth", "iter_8.pth"],
    ]
    assert files(tmp_path) == ["iter_10.pth", "iter_12.pth"]
    assert (tmp_path / "last_checkpoint").read_text() == str(tmp_path / "iter_12.pth")


def test_epoch_checkpoints_compare_in_epochs(tmp_path: Path) -> None:
    """Stopped in epoch 2 (after iteration 7, one epoch done): epoch_1 is older, epoch_2 newer.
    The file goes at epoch 3, when epoch_1 does."""
    every_epoch = dict(interval=1, max_keep_ckpts=2)
    train(tmp_path, every_epoch, epochs(4), [StopAfter(7)])
    assert files(tmp_path) == ["epoch_1.pth", "interrupted_iter_7.pth"]
    snapshots = Snapshots()
    train(tmp_path, every_epoch, epochs(4), [snapshots], resume=True)
    at = {it: names for it, names, _ in snapshots.seen}
    assert at[10] == ["epoch_1.pth", "epoch_2.pth", "interrupted_iter_7.pth"]
    assert at[15] == ["epoch_2.pth", "epoch_3.pth"]
    assert files(tmp_path) == ["epoch_3.pth", "epoch_4.pth"]


def test_keeping_all_keeps_the_interrupted_checkpoint(tmp_path: Path) -> None:
    keep_all = dict(interval=2, by_epoch=False)
    train(tmp_path, keep_all, ITERS, [StopAfter(5)])
    train(tmp_path, keep_all, ITERS, [], resume=True)
    assert files(tmp_path) == [
        "interrupted_iter_5.pth", *(f"iter_{n}.pth" for n in (10, 2, 4, 6, 8))
    ]  # fmt: skip


# ---------------------------------------------------------------- a real SIGTERM
@pytest.mark.parametrize(
    ("mode", "at", "newest"),
    [("iter", 7, ["iter_15.pth", "iter_20.pth"]), ("epoch", 13, ["epoch_3.pth", "epoch_4.pth"])],
)
def test_sigterm_then_resume_leaves_the_two_newest_checkpoints(
    tmp_path: Path, mode: str, at: int, newest: list[str]
) -> None:
    """A process sends itself SIGTERM after iteration `at` and is resumed; max_keep_ckpts=2.

    Iterations: saved at 5, interrupted at 7, then 10, 15, 20 (early stopping ends
    there). Epochs of 5 iterations: 1, 2, interrupted in epoch 3, then 3 and 4.
    """
    work_dir, out = tmp_path / "run", tmp_path / "final.pt"

    def run(*flags: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, str(WORKER), str(work_dir), mode, str(out), *flags],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    stopped = run("--term-at", str(at))
    assert f"stopped after iteration {at}" in stopped.stdout + stopped.stderr
    assert f"interrupted_iter_{at}.pth" in files(work_dir)
    run("--resume")
    assert out.exists()
    assert files(work_dir) == newest
    assert not [p.name for p in work_dir.iterdir() if p.name.endswith(".tmp")]
    assert (work_dir / "last_checkpoint").read_text() == str(work_dir / newest[-1])


# ---------------------------------------------------------------- bad counts
@pytest.mark.parametrize("options", [dict(interval=-1), dict(interval=0, max_keep_ckpts=0),
                                     dict(interval=3, max_keep_ckpts=-1)])  # fmt: skip
def test_mmengine_s_never_and_keep_all_values_are_accepted(options: dict[str, int]) -> None:
    CheckpointHook(**options)


def test_a_bad_interval_in_a_config_fails_when_the_runner_is_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"CheckpointHook interval=-5 is not valid.* or -1"):
        checkpoint_run(tmp_path, dict(interval=-5))


# ---------------------------------------------------------------- save_best without its metric
def test_a_save_best_key_no_metric_has_fails_at_the_first_validation(tmp_path: Path) -> None:
    """'mse' says nothing about its rule, but the first problem is that no metric is called so."""
    runner = scripted_runner(tmp_path, [ScriptedMetric({1: 0.5, 2: 0.6}, "acc")],
                             checkpoint=dict(type="CheckpointHook", save_best="mse"),
                             train_cfg=epochs(2))  # fmt: skip
    match = (
        r"CheckpointHook: save_best key 'mse' is not among the metrics this validation "
        r"produced, \['acc'\]: set save_best to one of them, or to 'auto' for the first"
    )
    with pytest.raises(KeyError, match=match):
        runner.train()
    assert runner.epoch == 1  # the first validation
    assert not [name for name in files(tmp_path) if name.startswith("best_")]


def test_several_missing_keys_are_all_named(tmp_path: Path) -> None:
    best = dict(type="CheckpointHook", save_best=["f1", "acc", "iou"])
    runner = scripted_runner(tmp_path, [ScriptedMetric({1: 0.5, 2: 0.6}, "acc")],
                             train_cfg=epochs(2), checkpoint=best)  # fmt: skip
    with pytest.raises(KeyError, match=r"save_best keys 'f1', 'iou' are not among .*\['acc'\]"):
        runner.train()


def test_a_metric_whose_name_says_nothing_still_needs_a_rule(tmp_path: Path) -> None:
    scores = {1: 0.5, 2: 0.6}
    runner = scripted_runner(tmp_path, [ScriptedMetric(scores, "mse")], train_cfg=epochs(2),
                             checkpoint=dict(type="CheckpointHook", save_best="mse"))  # fmt: skip
    with pytest.raises(ValueError, match="cannot infer whether 'mse' is better greater or less"):
        runner.train()
    best = dict(type="CheckpointHook", save_best="mse", rule="less")
    ruled = scripted_runner(tmp_path / "ruled", [ScriptedMetric(scores, "mse")],
                            train_cfg=epochs(2), checkpoint=best)  # fmt: skip
    ruled.train()
    assert "best_mse_epoch_1.pth" in files(tmp_path / "ruled")
