"""A run that crashes and resumes keeps its kept list, best checkpoint and early-stopping count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eval_parts import ScriptedMetric, epochs, files, scripted_runner

from hooks_core import Hook
from hooks_core.checkpoint import load_checkpoint_file

# Improves at 1 and 2, then not at 3, 4, 5: with patience 3 training stops after epoch 5.
SCORES = {1: 0.5, 2: 0.7, 3: 0.6, 4: 0.65, 5: 0.68, 6: 0.9, 7: 0.95, 8: 0.99}
CHECKPOINT = dict(type="CheckpointHook", interval=1, max_keep_ckpts=2, save_best="acc")


class Crashed(Exception):
    pass


class CrashAfterValidation(Hook):
    """Fail once the checkpoint of `epoch` is written (it follows that epoch's validation)."""

    priority = "LOWEST"

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def after_val(self, runner: Any) -> None:
        if runner.epoch == self.epoch:
            raise Crashed


def early_stopping() -> dict[str, Any]:
    return dict(type="EarlyStoppingHook", monitor="acc", patience=3, min_delta=0.01)


def runner_for(work_dir: Path, *hooks: Any, resume: bool = False) -> Any:
    return scripted_runner(work_dir, [ScriptedMetric(SCORES, "acc")], [early_stopping(), *hooks],
                           checkpoint=CHECKPOINT, train_cfg=epochs(8), resume=resume)  # fmt: skip


def state(runner: Any) -> dict[str, Any]:
    info = runner.message_hub.runtime_info
    keys = ("keep_ckpt_ids", "best_score", "early_stopping/acc")
    return {
        "epoch": runner.epoch,
        **{key: info[key] for key in keys},
        "best_ckpt": Path(info["best_ckpt"]).name,
        "last_ckpt": Path(info["last_ckpt"]).name,
    }


def test_resumed_run_ends_as_the_uninterrupted_one(tmp_path: Path) -> None:
    reference = runner_for(tmp_path / "reference")
    reference.train()
    expected = {
        "epoch": 5,  # stopped early
        "keep_ckpt_ids": [4, 5],
        "best_score": 0.7,
        "early_stopping/acc": {"best_score": 0.7, "wait_count": 3},
        "best_ckpt": "best_acc_epoch_2.pth",
        "last_ckpt": "epoch_5.pth",
    }
    assert state(reference) == expected
    assert files(tmp_path / "reference") == ["best_acc_epoch_2.pth", "epoch_4.pth", "epoch_5.pth"]

    crashed = runner_for(tmp_path / "run", CrashAfterValidation(epoch=3))
    with pytest.raises(Crashed):
        crashed.train()
    saved = load_checkpoint_file(tmp_path / "run" / "epoch_3.pth")["message_hub"]["runtime_info"]
    assert saved["early_stopping/acc"] == {"best_score": 0.7, "wait_count": 1}  # epoch 3's val
    assert saved["keep_ckpt_ids"] == [2, 3]

    resumed = runner_for(tmp_path / "run", resume=True)
    resumed.train()
    assert state(resumed) == expected
    # MMEngine would leave epoch_2/epoch_3 (kept list lost), a second best file (best lost)
    # and train all 8 epochs (counters lost).
    assert files(tmp_path / "run") == files(tmp_path / "reference")


def test_a_smaller_max_keep_after_resume_prunes_the_kept_list(tmp_path: Path) -> None:
    crashed = runner_for(tmp_path, CrashAfterValidation(epoch=3))
    with pytest.raises(Crashed):
        crashed.train()
    assert files(tmp_path) == ["best_acc_epoch_2.pth", "epoch_2.pth", "epoch_3.pth"]
    resumed = scripted_runner(
        tmp_path, [ScriptedMetric(SCORES, "acc")], train_cfg=epochs(4), resume=True,
        checkpoint={**CHECKPOINT, "max_keep_ckpts": 1},
    )  # fmt: skip
    resumed.train()
    assert files(tmp_path) == ["best_acc_epoch_2.pth", "epoch_4.pth"]
    assert resumed.message_hub.get_info("keep_ckpt_ids") == [4]
