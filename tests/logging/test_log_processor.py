"""LogProcessor: MMEngine's records and lines from a real message hub, directly and in runs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch
from logging_parts import log_lines, logged_run
from logging_stand_in import logging_runner
from run_logs import json_records
from toy import MseEvaluator, runner_kwargs

from hooks_logging import LogProcessor

if TYPE_CHECKING:
    from pathlib import Path

TRAIN_LOGS = dict(lr=0.1, time=1.0, data_time=1.0, loss_cls=1.0)
TIMINGS = "eta: 0:00:40  time: 1.0000  data_time: 1.0000  "


def filled(runner: Any, mode: str, values: dict[str, Any], times: int = 10) -> None:
    """`times` updates of each ``mode/<name>`` scalar in the runner's hub, and an ETA of 40 s."""
    for _ in range(times):
        for name, value in values.items():
            runner.message_hub.update_scalar(f"{mode}/{name}", value)
    runner.message_hub.update_info("eta", 40)


# ------------------------------------------------------------ construction
def test_defaults_are_mmengines() -> None:
    processor = LogProcessor()
    assert (processor.window_size, processor.by_epoch, processor.num_digits) == (10, True, 4)
    assert processor.custom_cfg == [] and processor.log_with_hierarchy is False
    assert processor.mean_pattern.pattern == r".*(loss|time|data_time|grad_norm).*"


def test_custom_cfg_entries_are_copied_not_changed() -> None:
    custom = [dict(data_src="loss", window_size="global", log_name="loss_all")]
    processor = LogProcessor(custom_cfg=custom)
    assert processor.custom_cfg == custom and processor.custom_cfg[0] is not custom[0]


def test_custom_cfg_mmengine_accepts_is_accepted() -> None:
    LogProcessor(
        custom_cfg=[
            dict(data_src="loss_cls", window_size=100, method_name="min"),
            dict(data_src="loss", log_name="loss_min", method_name="max"),
            dict(data_src="loss", log_name="loss_max", method_name="max"),
        ]
    )


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            dict(by_epoch=False, custom_cfg=[dict(data_src="loss", window_size="epoch")]),
            ValueError,
            "uses window_size='epoch', but this run counts in iterations",
        ),
        (
            dict(
                custom_cfg=[
                    dict(data_src="loss", log_name="l1"),
                    dict(data_src="loss", log_name="l1"),
                ]
            ),
            ValueError,
            "custom_cfg[1] logs 'l1' again",
        ),
        (  # replacing the same key twice
            dict(custom_cfg=[dict(data_src="loss"), dict(data_src="loss", method_name="max")]),
            ValueError,
            "custom_cfg[1] logs 'loss' again",
        ),
        (dict(custom_cfg=[dict(data_src="loss", window_size=[])]), TypeError, "window_size must"),
        (dict(custom_cfg=[dict(data_src="loss", window_size="weekly")]), TypeError, "window_size"),
        (dict(custom_cfg=[dict(data_src="loss", window_size=0)]), ValueError, "positive int"),
        (dict(custom_cfg=[dict(data_src="loss", method_name="median")]), ValueError, "one of mean"),
        (dict(custom_cfg=[dict(method_name="mean")]), ValueError, "data_src must name a scalar"),
        (
            dict(custom_cfg=[dict(data_src="loss", windows=3)]),
            ValueError,
            "unknown keys ['windows']",
        ),
        (dict(custom_cfg=dict(data_src="loss")), TypeError, "must be a list of dicts"),
        (dict(custom_cfg=["loss"]), TypeError, "custom_cfg[0] must be a dict, got 'loss'"),
        (dict(window_size=0), ValueError, "window_size must be an int >= 1"),
        (dict(by_epoch="yes"), TypeError, "by_epoch must be a bool"),
    ],
)
def test_bad_options_are_refused_naming_the_entry(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        LogProcessor(**options)


# ------------------------------------------------------------ lines after an iteration
EXPECTED_ITER_LINES = {
    (True, "train"): "Epoch(train)  [2][ 2/20]  lr: 1.0000e-01  " + TIMINGS + "loss_cls: 1.0000",
    (True, "val"): "Epoch(val)  [1][ 2/10]    " + TIMINGS,
    (True, "test"): "Epoch(test) [2/5]    " + TIMINGS,
    (False, "train"): "Iter(train) [11/50]  lr: 1.0000e-01  " + TIMINGS + "loss_cls: 1.0000",
    (False, "val"): "Iter(val) [ 2/10]    " + TIMINGS,
    (False, "test"): "Iter(test) [2/5]    " + TIMINGS,
}


@pytest.mark.parametrize("hierarchy", [False, True])
@pytest.mark.parametrize(("by_epoch", "mode"), list(EXPECTED_ITER_LINES))
def test_iteration_lines_and_records_are_mmengines(
    tmp_path: Path, by_epoch: bool, mode: str, hierarchy: bool
) -> None:
    runner = logging_runner(tmp_path, by_epoch=by_epoch)
    logs = TRAIN_LOGS if mode == "train" else {k: v for k, v in TRAIN_LOGS.items() if k != "lr"}
    filled(runner, mode, logs)
    processor = LogProcessor(by_epoch=by_epoch, log_with_hierarchy=hierarchy)
    tag, line = processor.get_log_after_iter(runner, 1, mode)
    assert line == EXPECTED_ITER_LINES[by_epoch, mode]
    prefix = f"{mode}/" if hierarchy else ""
    expected = {f"{prefix}{name}": value for name, value in logs.items()}
    if by_epoch and mode != "test":
        expected["epoch"] = 2 if mode == "train" else 1
    expected["iter"] = 11  # always there
    assert tag == expected


def test_without_an_eta_the_timings_are_ordinary_items(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path)
    for name, value in TRAIN_LOGS.items():
        runner.message_hub.update_scalar(f"train/{name}", value)
    _, line = LogProcessor().get_log_after_iter(runner, 1, "train")
    assert line == (
        "Epoch(train)  [2][ 2/20]  lr: 1.0000e-01  time: 1.0000  data_time: 1.0000  "
        "loss_cls: 1.0000"
    )


def test_learning_rates_lead_the_line_separated_by_one_space(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path, max_epochs=5)
    filled(runner, "train", dict(lr=0.1, loss=0.5, head_lr=0.01))
    _, line = LogProcessor(num_digits=2).get_log_after_iter(runner, 4, "train")
    assert line == "Epoch(train) [2][ 5/20]  lr: 1.00e-01 head_lr: 1.00e-02  loss: 0.50"


def test_a_run_without_a_train_loop_counts_no_epoch_and_iteration(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path, by_epoch=None)
    filled(runner, "val", dict(time=1.0, data_time=1.0))
    tag, line = LogProcessor().get_log_after_iter(runner, 1, "val")
    assert line == "Epoch(val)[0][ 2/10]    " + TIMINGS  # MMEngine's head, without alignment
    assert (tag["epoch"], tag["iter"]) == (0, 0)


def test_by_epoch_follows_the_loop_and_a_contradiction_is_reported(
    tmp_path: Path,
) -> None:
    runner = logging_runner(tmp_path, by_epoch=False)
    filled(runner, "train", TRAIN_LOGS)
    processor = LogProcessor(by_epoch=True)
    _, line = processor.get_log_after_iter(runner, 1, "train")
    assert line.startswith("Iter(train) [11/50]  ") and processor.by_epoch is False
    _, line = processor.get_log_after_iter(runner, 2, "train")
    assert [m for m in runner.messages if "log_processor has by_epoch=True" in m] == [
        "log_processor has by_epoch=True but the train loop (StandInLoop) counts in "
        "iterations; the log follows the loop. Remove by_epoch from log_processor to "
        "silence this."
    ]  # once


def test_statistics_smooth_losses_and_times_and_show_the_latest_of_others(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(0)
    series = {name: rng.standard_normal(100) for name in ("time", "loss_cls", "lr", "metric")}
    runner = logging_runner(tmp_path)
    hub = runner.message_hub
    for i in range(100):
        for name in ("time", "loss_cls", "lr"):
            hub.update_scalar(f"train/{name}", float(series[name][i]))
        hub.update_scalar("val/metric", float(series["metric"][i]))
    hub.update_scalar("lr", 1.0)  # no mode prefix: in no record
    processor = LogProcessor(
        custom_cfg=[dict(data_src="time", method_name="max", log_name="time_max")]
    )
    tag, _ = processor.get_log_after_iter(runner, 99, "train")
    assert list(tag) == ["time", "loss_cls", "lr", "time_max", "epoch", "iter"]
    assert tag["time"] == pytest.approx(series["time"][-10:].mean())
    assert tag["loss_cls"] == pytest.approx(series["loss_cls"][-10:].mean())
    assert tag["lr"] == pytest.approx(series["lr"][-1])
    assert tag["time_max"] == pytest.approx(series["time"].max())
    val_tag, _ = processor.get_log_after_iter(runner, 0, "val")
    assert val_tag == {"metric": pytest.approx(series["metric"][-1]), "epoch": 1, "iter": 11}


def test_custom_windows_epoch_global_and_replacement_in_place(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path)
    losses = [float(i) for i in range(30)]
    for loss in losses:
        runner.message_hub.update_scalar("train/loss", loss)
        runner.message_hub.update_scalar("train/time", 2.0)
    processor = LogProcessor(
        custom_cfg=[
            dict(data_src="loss", method_name="mean", window_size="epoch", log_name="loss_epoch"),
            dict(data_src="loss", method_name="mean", window_size="global", log_name="loss_all"),
            dict(data_src="loss", method_name="max", window_size=5, log_name="loss_max"),
            dict(data_src="time", method_name="current"),  # replaces the smoothed time
        ]
    )
    tag, _ = processor.get_log_after_iter(runner, 3, "train")  # 4 batches of this epoch
    assert list(tag)[:2] == ["loss", "time"]  # the replaced key keeps its place
    assert tag["loss"] == pytest.approx(sum(losses[-10:]) / 10)
    assert tag["loss_epoch"] == pytest.approx(sum(losses[-4:]) / 4)
    assert tag["loss_all"] == pytest.approx(sum(losses) / 30)
    assert tag["loss_max"] == 29.0 and tag["time"] == 2.0


def test_tensors_in_the_hub_become_numbers_in_the_record(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path)
    for i in range(3):
        runner.message_hub.update_scalar("train/loss", torch.tensor(float(i)))
    tag, line = LogProcessor().get_log_after_iter(runner, 2, "train")
    assert type(tag["loss"]) is float and tag["loss"] == 1.0
    assert line.endswith("loss: 1.0000")


def test_modes_outside_mmengines_are_refused(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path)
    with pytest.raises(ValueError, match="takes mode train or val or test, got 'predict'"):
        LogProcessor().get_log_after_iter(runner, 0, "predict")
    with pytest.raises(ValueError, match="takes mode val or test, got 'train'"):
        LogProcessor().get_log_after_epoch(runner, 0, "train")


# ------------------------------------------------------------ lines after an evaluation
SUMMARY = (
    "accuracy: 0.9000  recall: {'cat': 1, 'dog': 0}  cm: \ntensor([1, 2, 3])\n  data_time: 1.0000"
)


@pytest.mark.parametrize(
    ("by_epoch", "mode", "head"),
    [
        (True, "val", "Epoch(val) [1][10/10]    "),
        (True, "test", "Epoch(test) [5/5]    "),
        (False, "val", "Iter(val) [10/10]    "),
        (False, "test", "Iter(test) [5/5]    "),
    ],
)
def test_summary_lines_show_metrics_non_scalars_then_timings(
    tmp_path: Path, by_epoch: bool, mode: str, head: str
) -> None:
    runner = logging_runner(tmp_path, by_epoch=by_epoch)
    hub = runner.message_hub
    hub.update_scalar(f"{mode}/accuracy", 0.9)
    for _ in range(10):
        hub.update_scalar(f"{mode}/data_time", 1.0)
    hub.update_info(f"{mode}/recall", {"cat": 1, "dog": 0})
    hub.update_info(f"{mode}/cm", torch.tensor([1, 2, 3]))
    processor = LogProcessor(by_epoch=by_epoch)
    tag, line = processor.get_log_after_epoch(runner, len(runner.val_dataloader), mode)
    assert line == head + SUMMARY
    assert tag == {"accuracy": 0.9, "data_time": 1.0}
    tag, _ = processor.get_log_after_epoch(runner, 10, mode, with_non_scalar=True)
    assert list(tag) == ["accuracy", "recall", "cm", "data_time"]


def test_summaries_with_hierarchy_name_the_mode_as_mmengines(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path)
    runner.message_hub.update_scalar("val/accuracy", 0.5)
    runner.message_hub.update_scalar("val/time", 0.25)
    tag, line = LogProcessor(log_with_hierarchy=True).get_log_after_epoch(runner, 10, "val")
    assert line == "Epoch(val) [1][10/10]    val/accuracy: 0.5000  val/time: 0.2500"
    assert tag == {"val/accuracy": 0.5, "val/time": 0.25}


def test_summaries_average_this_evaluations_timings_and_show_metrics_as_they_are(
    tmp_path: Path,
) -> None:
    runner = logging_runner(tmp_path, lengths=(20, 4, 5))
    hub = runner.message_hub
    for evaluation, (seconds, loss) in enumerate([(5.0, 0.9), (1.0, 0.3)]):
        for _ in range(4):
            hub.update_scalar("val/time", seconds)
        hub.update_scalar("val/loss", loss)  # a metric, once per evaluation
        tag, _ = LogProcessor().get_log_after_epoch(runner, 4, "val")
        assert tag == {"loss": loss, "time": seconds}, evaluation


def test_custom_statistics_apply_to_summaries(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path)
    for accuracy in (0.5, 0.8, 0.7):
        runner.message_hub.update_scalar("val/accuracy", accuracy)
    processor = LogProcessor(
        custom_cfg=[
            dict(
                data_src="accuracy",
                method_name="max",
                window_size="global",
                log_name="best_accuracy",
            )
        ]
    )
    tag, line = processor.get_log_after_epoch(runner, 10, "val")
    assert tag == {"accuracy": 0.7, "best_accuracy": 0.8}
    assert line.endswith("accuracy: 0.7000  best_accuracy: 0.8000")


# ------------------------------------------------------------ in a real runner
EPOCHS = dict(by_epoch=True, max_epochs=2, val_interval=1)
ITERS = dict(by_epoch=False, max_iters=12, val_interval=6)


def with_test_loop(tmp_path: Path) -> dict[str, Any]:
    val_loader = runner_kwargs(tmp_path)["val_dataloader"]
    return dict(test_dataloader=val_loader, test_cfg={}, test_evaluator=MseEvaluator())


@pytest.mark.parametrize(
    ("train_cfg", "custom", "head"),
    [
        (EPOCHS, dict(window_size="epoch"), r"Epoch\(train\) \[2\]\[5/5\]  "),
        (ITERS, dict(window_size=100), r"Iter\(train\) \[12/12\]  "),
    ],
)
def test_in_a_runner_with_custom_cfg_and_hierarchy(
    tmp_path: Path, train_cfg: dict[str, Any], custom: dict[str, Any], head: str
) -> None:
    runner = logged_run(
        tmp_path,
        dict(interval=5 if train_cfg is EPOCHS else 6),
        train_cfg=train_cfg,
        log_processor=dict(
            custom_cfg=[dict(data_src="time", log_name="iter_time", method_name="mean", **custom)],
            log_with_hierarchy=True,
        ),
        **with_test_loop(tmp_path),
    )
    runner.train()
    runner.val()
    runner.test()
    train = [r for r in json_records(runner) if "train/loss" in r]
    assert train and all({"train/iter_time", "train/lr", "iter"} <= set(r) for r in train)
    lines = log_lines(runner)
    assert any(re.match(head + r"lr: 5\.0000e-02  eta: ", line) for line in lines), lines
    assert any(line.startswith("Epoch(test) [2/2]    test/mse: ") or
               line.startswith("Iter(test) [2/2]    test/mse: ") for line in lines)  # fmt: skip
