"""save_best in real runs: greater and less, several keys, 'auto', publishing, and bad input."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

import pytest
import torch
from eval_parts import ScriptedMetric, epochs, files, scripted_runner

from hooks_core.checkpoint import load_checkpoint_file

if TYPE_CHECKING:
    from pathlib import Path

SCORES = {1: 0.5, 2: 0.7, 3: 0.6, 4: 0.9, 5: 0.8}


def best_run(tmp_path: Path, metrics: list[ScriptedMetric], **options: Any) -> Any:
    checkpoint = {"type": "CheckpointHook", **options}
    runner = scripted_runner(tmp_path, metrics, checkpoint=checkpoint, train_cfg=epochs(5))
    runner.train()
    return runner


def test_best_by_greater_replaces_the_previous_best(tmp_path: Path) -> None:
    runner = best_run(tmp_path, [ScriptedMetric(SCORES, "acc")], save_best="acc")
    assert files(tmp_path) == ["best_acc_epoch_4.pth", "epoch_5.pth"]  # interval -1: the last
    hub = runner.message_hub
    assert hub.get_info("best_score") == 0.9
    assert hub.get_info("best_ckpt") == str(tmp_path / "best_acc_epoch_4.pth")
    best = load_checkpoint_file(tmp_path / "best_acc_epoch_4.pth")
    assert (best["meta"]["epoch"], best["meta"]["iter"]) == (4, 20)
    assert "optimizer" not in best and "param_schedulers" not in best
    # The regular checkpoint taken after epoch 5's validation records the best for a resume.
    last = load_checkpoint_file(tmp_path / "epoch_5.pth")["message_hub"]["runtime_info"]
    assert (last["best_score"], last["best_ckpt"]) == (0.9, str(tmp_path / "best_acc_epoch_4.pth"))
    assert (tmp_path / "last_checkpoint").read_text() == str(tmp_path / "epoch_5.pth")


def test_best_by_less_keeps_the_first_lowest(tmp_path: Path) -> None:
    scores = {1: 0.5, 2: 0.7, 3: 0.5, 4: 0.3, 5: 0.3}
    runner = best_run(tmp_path, [ScriptedMetric(scores, "err")], save_best="err", rule="less")
    assert files(tmp_path) == ["best_err_epoch_4.pth", "epoch_5.pth"]
    assert runner.message_hub.get_info("best_score") == 0.3


def test_several_keys_each_keep_their_best(tmp_path: Path) -> None:
    metrics = [
        ScriptedMetric(SCORES, "acc", prefix="val"),
        ScriptedMetric({1: 3.0, 2: 1.0, 3: 2.0, 4: 4.0, 5: 5.0}, "loss", prefix="val"),
    ]
    runner = best_run(tmp_path, metrics, save_best=["val/acc", "val/loss"])  # rules inferred
    assert files(tmp_path) == ["best_val_acc_epoch_4.pth", "best_val_loss_epoch_2.pth",
                               "epoch_5.pth"]  # fmt: skip
    info = runner.message_hub.runtime_info
    assert (info["best_score_val/acc"], info["best_score_val/loss"]) == (0.9, 1.0)
    assert info["best_ckpt_val/loss"] == str(tmp_path / "best_val_loss_epoch_2.pth")
    assert "best_score" not in info


def test_auto_takes_the_first_metric(tmp_path: Path) -> None:
    metrics = [ScriptedMetric(SCORES, "accuracy"), ScriptedMetric(SCORES, "other")]
    best_run(tmp_path, metrics, save_best="auto")
    assert "best_accuracy_epoch_4.pth" in files(tmp_path)


def test_best_by_iteration(tmp_path: Path) -> None:
    checkpoint = dict(type="CheckpointHook", by_epoch=False, save_best="acc", interval=5)
    runner = scripted_runner(
        tmp_path, [ScriptedMetric({5: 0.2, 10: 0.4, 15: 0.3}, "acc")], checkpoint=checkpoint,
        train_cfg=dict(by_epoch=False, max_iters=15, val_interval=5),
    )  # fmt: skip
    runner.train()
    assert files(tmp_path) == ["best_acc_iter_10.pth", "iter_10.pth", "iter_15.pth",
                               "iter_5.pth"]  # fmt: skip


def test_seed_config_best_by_less_accuracy_and_published_copies(tmp_path: Path) -> None:
    """``dict(type='CheckpointHook', interval=1, save_best='accuracy', rule='less',
    published_keys=['meta', 'state_dict'])``: every epoch saved, the lowest accuracy
    kept as the best, and the last and best published with only meta and state_dict."""
    scores = {1: 60.0, 2: 40.0, 3: 50.0}
    checkpoint = dict(type="CheckpointHook", interval=1, save_best="accuracy", rule="less",
                      published_keys=["meta", "state_dict"])  # fmt: skip
    runner = scripted_runner(tmp_path, [ScriptedMetric(scores, "accuracy")],
                             checkpoint=checkpoint, train_cfg=epochs(3))  # fmt: skip
    runner.train()
    published = {name for name in files(tmp_path) if "-" in name}
    assert sorted(set(files(tmp_path)) - published) == [
        "best_accuracy_epoch_2.pth", "epoch_1.pth", "epoch_2.pth", "epoch_3.pth"
    ]  # fmt: skip
    assert len(published) == 2
    for source in ("epoch_3", "best_accuracy_epoch_2"):
        (name,) = [p for p in published if p.startswith(f"{source}-")]
        digest = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        assert name == f"{source}-{digest[:8]}.pth"
        copy = load_checkpoint_file(tmp_path / name)
        original = load_checkpoint_file(tmp_path / f"{source}.pth")
        assert set(copy) == {"meta", "state_dict"}
        assert copy["meta"] == original["meta"]
        for key, value in original["state_dict"].items():
            assert torch.equal(copy["state_dict"][key], value), key
    assert runner.message_hub.get_info("best_score") == 40.0


def test_a_key_missing_from_the_metrics_names_it_and_lists_them(tmp_path: Path) -> None:
    runner = scripted_runner(tmp_path, [ScriptedMetric(SCORES, "acc")], train_cfg=epochs(2),
                             checkpoint=dict(type="CheckpointHook", save_best="top1"))  # fmt: skip
    with pytest.raises(KeyError, match=r"save_best key 'top1' is not among .* \['acc'\]"):
        runner.train()


class NoMetrics(ScriptedMetric):
    def compute_metrics(self, results: list[Any]) -> dict[str, float]:
        return {}


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_empty_metrics_are_logged_as_warnings_and_save_no_best(tmp_path: Path) -> None:
    """As MMEngine: a logged warning at each validation without metrics."""
    runner = scripted_runner(tmp_path, [NoMetrics({})], train_cfg=epochs(3),
                             checkpoint=dict(type="CheckpointHook", save_best="auto"))  # fmt: skip
    records = Records()
    runner.logger.addHandler(records)
    try:
        runner.train()
    finally:
        runner.logger.removeHandler(records)
    empty = [m for m in records.messages if "gave no metrics, so no best checkpoint" in m]
    assert len(empty) == 3
    assert files(tmp_path) == ["epoch_3.pth"]


def test_validation_alone_saves_no_best(tmp_path: Path) -> None:
    """MMEngine crashes here (mmengine#1587): there is no training to checkpoint."""
    runner = scripted_runner(tmp_path, [ScriptedMetric({0: 0.5}, "acc")],
                             checkpoint=dict(type="CheckpointHook", save_best="acc"))  # fmt: skip
    assert runner.val() == {"acc": 0.5}
    assert files(tmp_path) == []
