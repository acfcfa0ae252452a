"""CheckpointHook in real runs: interval, last, keep-N, save_begin, contents, and bad input."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import torch
from eval_parts import PerSampleRegressor, checkpoint_run, epochs, eval_runner_kwargs, files

from hooks_core import HOOKS, Runner
from hooks_core.checkpoint import load_checkpoint_file
from hooks_eval import CheckpointHook
from hooks_optim import OptimWrapper

if TYPE_CHECKING:
    from pathlib import Path


def test_mmengine_seed_interval_5_keep_2_of_20_epochs(tmp_path: Path) -> None:
    """The seed document: saved at 5, 10, 15, 20; 5 goes at 15 and 10 at 20."""
    runner = checkpoint_run(tmp_path, dict(interval=5, max_keep_ckpts=2), train_cfg=epochs(20))
    assert files(tmp_path) == ["epoch_15.pth", "epoch_20.pth"]
    assert runner.message_hub.get_info("keep_ckpt_ids") == [15, 20]
    assert (tmp_path / "last_checkpoint").read_text() == str(tmp_path / "epoch_20.pth")


def test_seed_save_begin_5_saves_epochs_5_to_10(tmp_path: Path) -> None:
    checkpoint_run(tmp_path, dict(interval=1, save_begin=5), train_cfg=epochs(10))
    assert files(tmp_path) == [f"epoch_{n}.pth" for n in (10, 5, 6, 7, 8, 9)]


def test_seed_interval_2_save_begin_5_saves_5_7_9_and_the_last(tmp_path: Path) -> None:
    """``dict(type='CheckpointHook', interval=2, save_begin=5)`` over 10 epochs.

    The interval gives epochs 5, 7 and 9, as the seed document says; epoch 10 is
    saved too because `save_last` is on by default (as in MMEngine's code).
    """
    checkpoint_run(tmp_path / "a", dict(interval=2, save_begin=5), train_cfg=epochs(10))
    assert files(tmp_path / "a") == ["epoch_10.pth", "epoch_5.pth", "epoch_7.pth", "epoch_9.pth"]
    checkpoint_run(
        tmp_path / "b", dict(interval=2, save_begin=5, save_last=False), train_cfg=epochs(10)
    )
    assert files(tmp_path / "b") == ["epoch_5.pth", "epoch_7.pth", "epoch_9.pth"]


def test_by_iteration_with_the_last_and_a_custom_template(tmp_path: Path) -> None:
    train_cfg = dict(by_epoch=False, max_iters=10, val_interval=5)
    checkpoint_run(tmp_path / "a", dict(interval=4, by_epoch=False), train_cfg=train_cfg)
    assert files(tmp_path / "a") == ["iter_10.pth", "iter_4.pth", "iter_8.pth"]
    meta = load_checkpoint_file(tmp_path / "a" / "iter_8.pth")["meta"]
    assert (meta["epoch"], meta["iter"]) == (0, 8)
    tmpl = dict(interval=4, by_epoch=False, filename_tmpl="step{:03d}.pth", save_last=False)
    checkpoint_run(tmp_path / "b", tmpl, train_cfg=train_cfg)
    assert files(tmp_path / "b") == ["step004.pth", "step008.pth"]


def test_the_default_interval_saves_only_the_last(tmp_path: Path) -> None:
    checkpoint_run(tmp_path, {}, train_cfg=epochs(3))
    assert files(tmp_path) == ["epoch_3.pth"]


def test_out_dir_gets_the_work_dir_name(tmp_path: Path) -> None:
    runner = checkpoint_run(tmp_path / "work", dict(interval=1, out_dir=str(tmp_path / "out")),
                            train_cfg=epochs(2))  # fmt: skip
    assert files(tmp_path / "out" / "work") == ["epoch_1.pth", "epoch_2.pth"]
    assert files(tmp_path / "work") == []
    assert runner.message_hub.get_info("last_ckpt") == str(
        tmp_path / "out" / "work" / "epoch_2.pth"
    )
    assert (tmp_path / "work" / "last_checkpoint").read_text().endswith("out/work/epoch_2.pth")


def test_contents_follow_save_optimizer_and_save_param_scheduler(tmp_path: Path) -> None:
    def run(work_dir: Path, **options: Any) -> dict[str, Any]:
        torch.manual_seed(0)
        model = PerSampleRegressor()
        checkpoint_run(
            work_dir, dict(interval=1, **options), train_cfg=epochs(2), model=model,
            optim_wrapper=OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)),
            param_scheduler=dict(type="MultiStepLR", milestones=[1]),
        )  # fmt: skip
        return load_checkpoint_file(work_dir / "epoch_2.pth")

    full = run(tmp_path / "full")
    assert {"meta", "state_dict", "message_hub", "optimizer", "param_schedulers"} <= set(full)
    assert (full["meta"]["epoch"], full["meta"]["iter"]) == (2, 10)
    # Written after the epoch's validation: the checkpoint knows its result.
    assert "val/mse" in full["message_hub"]["log_scalars"]
    bare = run(tmp_path / "bare", save_optimizer=False, save_param_scheduler=False)
    assert "optimizer" not in bare and "param_schedulers" not in bare


def test_a_failed_write_changes_no_bookkeeping(tmp_path: Path) -> None:
    (tmp_path / "epoch_3.pth").mkdir()  # the write of epoch 3 cannot replace a folder
    runner = Runner(
        **eval_runner_kwargs(tmp_path, train_cfg=epochs(4)),
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=1, max_keep_ckpts=2)),
    )
    with pytest.raises(OSError):  # noqa: PT011  # the platform decides which one
        runner.train()
    assert files(tmp_path) == ["epoch_1.pth", "epoch_2.pth", "epoch_3.pth"]  # 1 was not dropped
    assert (tmp_path / "epoch_3.pth").is_dir()
    assert runner.message_hub.get_info("keep_ckpt_ids") == [1, 2]
    assert (tmp_path / "last_checkpoint").read_text() == str(tmp_path / "epoch_2.pth")


def test_the_default_hook_and_building_by_name() -> None:
    hook = HOOKS.build(dict(type="CheckpointHook", interval=1))
    assert isinstance(hook, CheckpointHook)
    assert hook.priority == "VERY_LOW"
    assert (hook.filename_tmpl, CheckpointHook(by_epoch=False).filename_tmpl) == (
        "epoch_{}.pth",
        "iter_{}.pth",
    )


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        (dict(interval=1.5), TypeError, "interval must be an int, got 1.5"),
        (dict(max_keep_ckpts="2"), TypeError, "max_keep_ckpts must be an int"),
        (dict(save_begin=-1), ValueError, "save_begin must be >= 0, got -1"),
        (dict(filename_tmpl="last.pth"), ValueError, r"must contain a '\{\}'"),
        (dict(published_keys=["meta", "meta"]), ValueError, "published_keys must be distinct"),
        (dict(save_best="acc", rule="bigger"), ValueError,
         r"unknown rule 'bigger'; valid rules are \('greater', 'less'\)"),
        (dict(save_best=["acc", "loss"], rule=["greater"] * 3), ValueError,
         r"one rule for all save_best keys or one per key \(2\), got 3"),
        (dict(save_best=["auto", "auto"]), ValueError, "lists a key twice"),
        (dict(save_best=[]), ValueError, "save_best must be a metric name"),
        (dict(save_best="mse"), ValueError,
         "cannot infer whether 'mse' is better greater or less.*give rule='greater'"),
    ],
)  # fmt: skip
def test_bad_options_fail_at_construction(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        CheckpointHook(**options)


def test_rules_are_inferred_from_mmengine_key_lists() -> None:
    hook = CheckpointHook(save_best=["accuracy/top1", "val_loss", "bbox_mAP", "mse"],
                          rule=None, less_keys=["loss", "mse"])  # fmt: skip
    assert hook.best is not None
    assert hook.best.rules == {
        "accuracy/top1": "greater",
        "val_loss": "less",
        "bbox_mAP": "greater",
        "mse": "less",
    }
