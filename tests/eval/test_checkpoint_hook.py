"""CheckpointHook: its options and attributes, direct calls as MMEngine's tests make, real runs.

The direct calls use a runner stand-in with real parts and no loops; before_train
is called or not, as MMEngine's tests do.
"""

from __future__ import annotations

import logging
import os.path as osp
from typing import TYPE_CHECKING, Any

import pytest
import torch
from eval_parts import (
    CheckpointingStandIn,
    PerSampleRegressor,
    ScriptedMetric,
    checkpoint_run,
    epochs,
    eval_runner_kwargs,
    files,
    scripted_runner,
)

from hooks_core import HOOKS, Runner
from hooks_core.checkpoint import load_checkpoint_file
from hooks_eval import CheckpointHook, _checkpoint_hook
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


# ------------------------------------------------------------ construction
@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        (dict(interval=1.5), TypeError, "interval must be an int, got 1.5"),
        (dict(max_keep_ckpts="2"), TypeError, "max_keep_ckpts must be an int"),
        (dict(save_begin=-1), ValueError, "save_begin must be >= 0, got -1"),
        (dict(filename_tmpl="last.pth"), ValueError, r"must contain a '\{\}'"),
        (dict(published_keys=["meta", "meta"]), ValueError, "published_keys lists a key twice"),
        (dict(published_keys=3), TypeError, "published_keys must be a str or a list of str"),
        (dict(save_best=dict(acc="acc")), TypeError,
         r"save_best must be a metric name, 'auto', a list .* got \{'acc': 'acc'\}"),
        (dict(save_best=["auto", "acc"]), ValueError, "'auto' .* cannot be listed with other"),
        (dict(save_best=["acc", "acc"]), ValueError, "lists a key twice"),
        (dict(save_best=""), ValueError, "save_best has an empty metric name"),
        (dict(save_best="acc", rule=1), TypeError, "rule must be 'greater', 'less', a list"),
        (dict(save_best="acc", rule="bigger"), ValueError,
         r"unknown rule 'bigger'; valid rules are \('greater', 'less'\)"),
        (dict(save_best=["acc"], rule=["greater", "loss"]), ValueError,
         r"one rule for all save_best keys or one per key \(1\), got 2"),
        (dict(interval=-5), ValueError,
         r"interval=-5 is not valid: give the number of epochs between two saves \(> 0\), "
         r"or -1 to save only the last checkpoint \(save_last\)"),
        (dict(interval=-2, by_epoch=False), ValueError, "number of iterations between"),
        (dict(max_keep_ckpts=-3), ValueError,
         r"max_keep_ckpts=-3 is not valid: give how many .* \(> 0\), or -1 to keep all"),
        (dict(greater_keys=3), TypeError, "greater_keys must be a str or a list of str, got 3"),
        (dict(file_client_args={"backend": "disk"}, backend_args={"backend": "local"}),
         ValueError, "file_client_args or backend_args, not both"),
    ],
)  # fmt: skip
def test_bad_options_fail_at_construction(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        CheckpointHook(**options)


def test_mmengine_attributes_after_construction() -> None:
    """greater_keys/less_keys keep MMEngine's shapes; rules are inferred from them."""
    hook = CheckpointHook()
    assert hook.greater_keys == CheckpointHook._default_greater_keys
    assert hook.greater_keys[:3] == ["acc", "top", "AR@"]
    assert hook.less_keys == ["loss"]
    assert CheckpointHook(greater_keys="acc").greater_keys == ("acc",)
    assert CheckpointHook(greater_keys=["acc"]).greater_keys == ["acc"]
    assert CheckpointHook(less_keys="loss_cls").less_keys == ("loss_cls",)
    assert (hook.save_best, hook.published_keys, hook.last_ckpt, hook.out_dir) == (None,) * 4
    with pytest.raises(AttributeError, match="no key_indicators: save_best is not set"):
        hook.key_indicators  # noqa: B018

    hook = CheckpointHook(interval=2, by_epoch=False, save_best=["acc", "mIoU"])
    assert (hook.save_best, hook.key_indicators, hook.rules) == (
        ["acc", "mIoU"], ["acc", "mIoU"], ["greater", "greater"]
    )  # fmt: skip
    hook = CheckpointHook(save_best=["FID", "IS"], rule=["less", "greater"])
    assert hook.rules == ["less", "greater"]
    hook = CheckpointHook(save_best=["accuracy/top1", "val_loss", "bbox_mAP", "mse"],
                          less_keys=["loss", "mse"])  # fmt: skip
    assert hook.rules == ["greater", "less", "greater", "less"]
    assert CheckpointHook(save_best="auto").rules == [None]  # until the first metrics
    assert CheckpointHook(save_best=[]).save_best == []  # MMEngine: no best checkpoint


def test_idle_at_the_iterations_only_when_saving_by_epoch() -> None:
    assert CheckpointHook().idle_points(None) == ("before_train_iter", "after_train_iter")
    assert CheckpointHook(by_epoch=False).idle_points(None) == ()


def test_a_subclass_changes_the_default_keys() -> None:
    class DetectionCheckpointHook(CheckpointHook):
        _default_greater_keys = ("ap",)

    assert DetectionCheckpointHook(save_best="bbox_ap").rules == ["greater"]
    assert DetectionCheckpointHook(save_best="acc").rules == [None]  # the metrics decide


def test_storage_options_are_accepted_for_local_folders(tmp_path: Path) -> None:
    runner = CheckpointingStandIn(tmp_path / "work")
    hook = CheckpointHook(interval=1, backend_args={"backend": "local"}, out_dir=tmp_path / "o")
    assert hook.backend_args == {"backend": "local"}
    with pytest.warns(FutureWarning, match="file_client_args is MMEngine's deprecated name"):
        old = CheckpointHook(interval=1, file_client_args={"backend": "disk"})
    assert old.file_client_args == {"backend": "disk"}
    for each in (hook, old):
        each.after_train_epoch(runner)
    assert files(tmp_path / "o" / "work") == files(tmp_path / "work") == ["epoch_1.pth"]


# ------------------------------------------------------------ direct calls
def test_before_train_resolves_out_dir_and_takes_the_best_paths_from_the_hub(
    tmp_path: Path,
) -> None:
    runner = CheckpointingStandIn(tmp_path / "work")
    hook = CheckpointHook(interval=1)
    hook.before_train(runner)
    assert hook.out_dir == runner.work_dir
    hook = CheckpointHook(interval=1, out_dir="test_dir")
    assert hook.out_dir == "test_dir"  # the option, until before_train
    hook.before_train(runner)
    assert hook.out_dir == osp.join("test_dir", "work")
    hook = CheckpointHook(interval=1, out_dir=runner.work_dir)
    hook.before_train(runner)
    assert hook.out_dir == runner.work_dir  # not work/work

    several = CheckpointHook(interval=1, save_best=["acc", "mIoU"])
    several.before_train(runner)
    assert several.best_ckpt_path_dict == {"acc": None, "mIoU": None}
    assert not hasattr(several, "best_ckpt_path")
    runner.message_hub.update_info("best_ckpt_acc", "best_acc")
    several.before_train(runner)
    assert several.best_ckpt_path_dict == {"acc": "best_acc", "mIoU": None}

    one = CheckpointHook(interval=1, save_best="acc")
    assert one.best_ckpt_path is None
    assert not hasattr(one, "best_ckpt_path_dict")
    runner.message_hub.update_info("best_ckpt", "best_ckpt")
    one.before_train(runner)
    assert one.best_ckpt_path == "best_ckpt"


def test_after_train_epoch_saves_at_once(tmp_path: Path) -> None:
    runner = CheckpointingStandIn(tmp_path)
    runner.epoch = 9
    hook = CheckpointHook(interval=2, by_epoch=True)
    hook.before_train(runner)
    hook.after_train_epoch(runner)
    expected = str(tmp_path / "epoch_10.pth")
    assert runner.message_hub.get_info("last_ckpt") == hook.last_ckpt == expected
    assert (tmp_path / "last_checkpoint").read_text() == expected
    saved = load_checkpoint_file(expected)
    assert (saved["meta"]["epoch"], saved["meta"]["iter"]) == (10, 0)
    assert {"state_dict", "optimizer", "message_hub"} <= set(saved)
    runner.epoch = 10  # epoch 11 is not a multiple of 2
    hook.after_train_epoch(runner)
    assert files(tmp_path) == ["epoch_10.pth"]

    other = CheckpointingStandIn(tmp_path / "by_iter")
    other.epoch = 9
    CheckpointHook(interval=2, by_epoch=False).after_train_epoch(other)  # no before_train
    assert "last_ckpt" not in other.message_hub.runtime_info


def test_after_train_iter_saves_at_once_without_before_train(tmp_path: Path) -> None:
    runner = CheckpointingStandIn(tmp_path)
    runner.iter = 9
    CheckpointHook(interval=2, by_epoch=True).after_train_iter(runner, batch_idx=9)
    assert "last_ckpt" not in runner.message_hub.runtime_info
    hook = CheckpointHook(interval=2, by_epoch=False, max_keep_ckpts=1)
    hook.after_train_iter(runner, batch_idx=9)
    assert runner.message_hub.get_info("last_ckpt") == str(tmp_path / "iter_10.pth")
    assert hook.out_dir == runner.work_dir  # prepared on first use
    runner.iter = 11
    hook.after_train_iter(runner, batch_idx=11)
    assert files(tmp_path) == ["iter_12.pth"]  # max_keep_ckpts dropped iter_10
    assert runner.message_hub.get_info("keep_ckpt_ids") == [12]
    runner.iter = 10
    hook.after_train_epoch(runner)  # by_epoch=False: nothing at epochs
    assert runner.message_hub.get_info("last_ckpt") == str(tmp_path / "iter_12.pth")


def test_after_val_epoch_warns_on_empty_metrics(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = CheckpointingStandIn(tmp_path)
    with caplog.at_level(logging.WARNING, logger=runner.logger.name):
        CheckpointHook(interval=2, save_best="auto").after_val_epoch(runner, {})
    assert "gave no metrics, so no best checkpoint is saved" in caplog.text
    hook = CheckpointHook(interval=2)
    hook.before_train(runner)
    hook.after_val_epoch(runner, {})
    assert not {"best_score", "best_ckpt"} & set(runner.message_hub.runtime_info)
    assert files(tmp_path) == []


def test_after_val_epoch_saves_the_best_as_mmengine(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = CheckpointingStandIn(tmp_path)
    runner.epoch = 9
    hub = runner.message_hub
    metrics = {"acc": 0.5, "map": 0.3}
    auto = CheckpointHook(interval=2, save_best="auto")
    with caplog.at_level(logging.INFO, logger=runner.logger.name):
        auto.after_val_epoch(runner, metrics)  # without before_train
    assert (auto.key_indicators, auto.rules) == (["acc"], ["greater"])
    best = str(tmp_path / "best_acc_epoch_9.pth")
    assert (hub.get_info("best_score"), hub.get_info("best_ckpt"), auto.best_ckpt_path) == (
        0.5, best, best
    )  # fmt: skip
    assert "The best checkpoint with 0.5000 acc at 9 epoch is saved to best_acc_epoch_9.pth" in (
        caplog.text
    )
    saved = load_checkpoint_file(best)
    assert "optimizer" not in saved and saved["meta"]["epoch"] == 9
    assert saved["message_hub"]["runtime_info"]["best_ckpt"] == best
    assert not (tmp_path / "last_checkpoint").exists()  # only regular saves point

    def score_after(hook: CheckpointHook, *values: float, key: str) -> float:
        hook.before_train(runner)
        for value in values:
            hook.after_val_epoch(runner, {**metrics, key: value})
        return float(hub.get_info("best_score"))

    assert score_after(CheckpointHook(save_best="acc"), 0.8, key="acc") == 0.8
    assert score_after(CheckpointHook(save_best="loss"), 0.8, 0.5, 0.6, key="loss") == 0.5
    assert score_after(CheckpointHook(save_best="acc", rule="less"), 0.3, key="acc") == 0.3
    assert score_after(CheckpointHook(save_best="loss", rule="greater"), 1.0, key="loss") == 1.0
    assert [name for name in files(tmp_path) if name.startswith("best")] == [
        "best_loss_epoch_9.pth"
    ]  # each new best replaced the one before


def test_several_keys_and_iteration_names(tmp_path: Path) -> None:
    runner = CheckpointingStandIn(tmp_path)
    runner.iter = 9
    hook = CheckpointHook(interval=2, by_epoch=False, save_best=["acc", "mIoU"])
    hook.after_val_epoch(runner, {"acc": 0.5, "mIoU": 0.6})
    info = runner.message_hub.runtime_info
    assert (info["best_score_acc"], info["best_score_mIoU"]) == (0.5, 0.6)
    assert hook.best_ckpt_path_dict == {
        "acc": str(tmp_path / "best_acc_iter_9.pth"),
        "mIoU": str(tmp_path / "best_mIoU_iter_9.pth"),
    }
    assert info["best_ckpt_mIoU"] == hook.best_ckpt_path_dict["mIoU"]
    runner.iter = 10
    hook.after_val_epoch(runner, {"acc": 0.666, "mIoU": 0.1})
    assert files(tmp_path) == ["best_acc_iter_10.pth", "best_mIoU_iter_9.pth"]
    with pytest.raises(KeyError, match=r"save_best key 'mIoU' is not among .*\['acc'\]"):
        hook.after_val_epoch(runner, {"acc": 0.9})


def test_sync_buffer_averages_buffers_before_each_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a distributed run the buffers are reduced first; the files hold the reduced values."""
    runner = CheckpointingStandIn(tmp_path)
    runner.model.register_buffer("running", torch.full((2,), 4.0))
    reduced: list[list[str]] = []

    def halve(tensors: Any) -> None:  # what the mean over a rank holding zeros gives
        tensors = list(tensors)
        reduced.append([str(t.shape) for t in tensors])
        for tensor in tensors:
            tensor.div_(2)

    monkeypatch.setattr(_checkpoint_hook, "all_reduce_mean", halve)
    CheckpointHook(interval=1).after_train_epoch(runner)
    assert reduced == []  # off by default
    monkeypatch.setattr(_checkpoint_hook, "is_distributed", lambda: True)
    hook = CheckpointHook(interval=1, save_best="acc", sync_buffer=True)
    hook.after_train_epoch(runner)
    hook.after_val_epoch(runner, {"acc": 1.0})
    assert len(reduced) == 2
    for name, value in (("epoch_1.pth", 2.0), ("best_acc_epoch_0.pth", 1.0)):
        assert torch.equal(load_checkpoint_file(tmp_path / name)["state_dict"]["running"],
                           torch.full((2,), value)), name  # fmt: skip


def test_sync_buffer_does_nothing_in_one_process(tmp_path: Path) -> None:
    runner = CheckpointingStandIn(tmp_path)
    runner.model.register_buffer("running", torch.full((2,), 4.0))
    CheckpointHook(interval=1, sync_buffer=True).after_train_epoch(runner)
    assert torch.equal(runner.model.running, torch.full((2,), 4.0))


# ------------------------------------------------------------ MMEngine's runner test
class Triangle(ScriptedMetric):
    """MMEngine's test metric: ``test/acc`` rises to its peak at step 5 of 11, then falls."""

    default_prefix = "test"

    def __init__(self) -> None:
        super().__init__({step: 1.0 - abs(step - 5) / 11 for step in range(12)}, "acc")


@pytest.mark.parametrize("unit", ["epoch", "iter"])
def test_interval_last_and_best_in_a_run(tmp_path: Path, unit: str) -> None:
    by_epoch = unit == "epoch"
    train_cfg = (dict(by_epoch=True, max_epochs=11, val_interval=1) if by_epoch
                 else dict(by_epoch=False, max_iters=11, val_interval=1))  # fmt: skip
    checkpoint = dict(type="CheckpointHook", interval=2, by_epoch=by_epoch, save_best="test/acc")
    runner = scripted_runner(tmp_path, [Triangle()], checkpoint=checkpoint, train_cfg=train_cfg,
                             train_dataloader=dict(dataset=[{"inputs": torch.ones(4),
                                                             "targets": torch.ones(1)}] * 4,
                                                   batch_size=4))  # fmt: skip
    runner.train()
    regular = [f"{unit}_{n}.pth" for n in (10, 11, 2, 4, 6, 8)]
    assert files(tmp_path) == sorted([f"best_test_acc_{unit}_5.pth", *regular])
    best = str(tmp_path / f"best_test_acc_{unit}_5.pth")
    # Saved after step 5's validation: no re-save is needed for it to know its best.
    hub = load_checkpoint_file(tmp_path / f"{unit}_6.pth")["message_hub"]["runtime_info"]
    assert hub["best_ckpt"] == best


def test_direct_calls_on_a_real_runner_that_is_not_training(tmp_path: Path) -> None:
    """MMEngine's tests build a runner, move its counters and call the hook: the same here."""
    runner = Runner(**eval_runner_kwargs(tmp_path), default_hooks=dict(checkpoint=None))
    runner.train_loop.load_position(9, 45)
    hook = CheckpointHook(interval=2, save_best="auto", rule="less")
    hook.before_train(runner)
    hook.after_train_epoch(runner)  # saved at once: no loop is running, no validation follows
    assert runner.message_hub.get_info("last_ckpt") == str(tmp_path / "epoch_10.pth")
    assert (tmp_path / "last_checkpoint").read_text() == str(tmp_path / "epoch_10.pth")
    hook.after_val_epoch(runner, {"mse": 0.25, "mae": 0.5})
    assert (hook.key_indicators, hook.best_ckpt_path) == (
        ["mse"], str(tmp_path / "best_mse_epoch_9.pth")
    )  # fmt: skip
    assert files(tmp_path) == ["best_mse_epoch_9.pth", "epoch_10.pth"]
