"""LoggerHook in real runs: MMEngine's JSON layout and text lines, steps, TensorBoard, options."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
from logging_parts import log_lines, logged_run, read_events
from run_logs import json_records
from toy import MseEvaluator, SaveEveryIter, ToyModel, runner_kwargs

from hooks_core import HOOKS, Hook, Runner
from hooks_logging import LoggerHook, LogProcessor

EPOCHS = dict(by_epoch=True, max_epochs=2, val_interval=1)  # 5 iterations per epoch
ITERS = dict(by_epoch=False, max_iters=12, val_interval=6)


def test_the_default_logger_is_the_logger_hook(tmp_path: Path) -> None:
    runner = Runner(**runner_kwargs(tmp_path))
    loggers = [hook for hook in runner.hooks if isinstance(hook, LoggerHook)]
    assert len(loggers) == 1 and loggers[0].priority == "BELOW_NORMAL"
    assert (loggers[0].interval, loggers[0].ignore_last) == (10, True)


def test_epoch_based_json_records_in_mmengine_layout(tmp_path: Path) -> None:
    runner = logged_run(tmp_path, dict(interval=2), train_cfg=EPOCHS)
    runner.train()
    records = json_records(runner)
    train = [r for r in records if "loss" in r]
    val = [r for r in records if "mse" in r]
    # The interval counts inside each epoch; the short last group (5 % 2) is ignored.
    assert [r["step"] for r in train] == [2, 4, 7, 9]
    assert [(r["epoch"], r["iter"]) for r in train] == [(1, 2), (1, 4), (2, 7), (2, 9)]
    assert list(train[0]) == ["lr", "data_time", "loss", "time", "epoch", "iter", "step"]
    assert train[0]["lr"] == 0.05
    # Validation records sit at the epoch, on their own axis.
    assert [(r["step"], r["epoch"]) for r in val] == [(1, 1), (2, 2)]
    assert set(val[0]) == {"mse", "data_time", "time", "epoch", "step"}
    assert records.index(val[0]) == 2  # after epoch 1's training records


def test_loss_is_the_window_mean_and_metrics_their_latest_value(tmp_path: Path) -> None:
    losses: list[float] = []

    class KeepLosses(Hook):
        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            losses.append(float(outputs["loss"]))

    runner = logged_run(
        tmp_path,
        dict(interval=2),
        train_cfg=EPOCHS,
        custom_hooks=[KeepLosses()],
        log_processor=dict(window_size=3),
    )
    runner.train()
    train = [r for r in json_records(runner) if "loss" in r]
    assert train[0]["loss"] == pytest.approx(sum(losses[:2]) / 2, rel=1e-6)
    assert train[1]["loss"] == pytest.approx(sum(losses[1:4]) / 3, rel=1e-6)


def test_epoch_based_text_lines_in_mmengine_format(tmp_path: Path) -> None:
    runner = logged_run(tmp_path, dict(interval=2), train_cfg=EPOCHS)
    runner.train()
    lines = log_lines(runner)
    train = [line for line in lines if line.startswith("Epoch(train)")]
    assert len(train) == 4
    number = r"\d+\.\d{4}"
    assert re.fullmatch(
        rf"Epoch\(train\) \[1\]\[2/5\]  lr: 5\.0000e-02  eta: \d:\d\d:\d\d  time: {number}  "
        rf"data_time: {number}  loss: {number}",
        train[0],
    ), train[0]
    summaries = [line for line in lines if re.match(r"Epoch\(val\) \[\d\]\[2/2\]    ", line)]
    assert len(summaries) == 2
    assert re.fullmatch(
        rf"Epoch\(val\) \[1\]\[2/2\]    mse: {number}  data_time: {number}  time: {number}",
        summaries[0],
    ), summaries[0]
    assert lines.count(f"Exp name: {runner.experiment_name}") == 2  # at each epoch's end


def test_epoch_numbers_align_to_the_width_of_max_epochs(tmp_path: Path) -> None:
    runner = logged_run(
        tmp_path, dict(interval=5), train_cfg=dict(by_epoch=True, max_epochs=10, val_interval=20)
    )
    runner.train()
    train = [line for line in log_lines(runner) if line.startswith("Epoch(train)")]
    assert train[0].startswith("Epoch(train)  [1][5/5]  ")
    assert train[-1].startswith("Epoch(train) [10][5/5]  ")


def test_iteration_based_runs_log_iter_lines_and_validate_at_the_iteration(
    tmp_path: Path,
) -> None:
    runner = logged_run(tmp_path, dict(interval=4), train_cfg=ITERS)
    runner.train()
    records = json_records(runner)
    assert [r["step"] for r in records if "loss" in r] == [4, 8, 12]
    assert all("epoch" not in r for r in records)
    # MMEngine logs these at step 0 (the epoch counter); here at the iteration.
    assert [(r["step"], r["iter"]) for r in records if "mse" in r] == [(6, 6), (12, 12)]
    steps = [r["step"] for r in records]
    assert steps == sorted(steps)
    lines = log_lines(runner)
    assert [line[:19] for line in lines if line.startswith("Iter(train)")] == [
        "Iter(train) [ 4/12]",
        "Iter(train) [ 8/12]",
        "Iter(train) [12/12]",
    ]
    assert sum(line.startswith("Iter(val) [2/2]    mse: ") for line in lines) == 2


def test_by_epoch_follows_the_train_loop_even_when_set_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = logged_run(
        tmp_path, dict(interval=4), train_cfg=ITERS, log_processor=dict(by_epoch=True)
    )
    runner.train()
    assert "log_processor has by_epoch=True but the train loop (IterBasedTrainLoop)" in (
        capsys.readouterr().out
    )
    assert not [line for line in log_lines(runner) if line.startswith("Epoch(")]
    assert [r["step"] for r in json_records(runner) if "loss" in r] == [4, 8, 12]


def test_ignore_last_false_logs_the_short_last_group(tmp_path: Path) -> None:
    runner = logged_run(tmp_path, dict(interval=2, ignore_last=False), train_cfg=EPOCHS)
    runner.train()
    assert [r["step"] for r in json_records(runner) if "loss" in r] == [2, 4, 5, 7, 9, 10]


class ValLossModel(ToyModel):
    """Returns its validation loss after the predictions, as the core's val loop expects."""

    def val_step(self, data: Any) -> list[Any]:
        outputs = list(super().val_step(data))
        prediction = torch.cat([sample["prediction"] for sample in outputs])
        target = torch.cat([sample["target"] for sample in outputs])
        return [*outputs, {"loss": torch.nn.functional.mse_loss(prediction, target)}]


def test_validation_loss_is_logged(tmp_path: Path) -> None:
    torch.manual_seed(0)
    runner = logged_run(tmp_path, dict(interval=2), model=ValLossModel(), train_cfg=EPOCHS)
    runner.train()
    val = [r for r in json_records(runner) if "mse" in r]
    assert all("val_loss" in r for r in val)
    summary = [line for line in log_lines(runner) if line.startswith("Epoch(val) [1][2/2]    ")]
    assert "val_loss: " in summary[0]


def test_a_validation_only_run_logs_at_step_0(tmp_path: Path) -> None:
    kwargs = runner_kwargs(tmp_path, log_level="INFO")
    for key in ("train_dataloader", "train_cfg", "optim_wrapper"):
        del kwargs[key]
    runner = Runner(**kwargs)
    runner.val()
    (record,) = json_records(runner)
    assert record["step"] == 0 and "mse" in record
    assert [line for line in log_lines(runner) if line.startswith("Epoch(val) [0][2/2]    ")]


def test_test_metrics_go_to_the_text_log(tmp_path: Path) -> None:
    kwargs = runner_kwargs(tmp_path, log_level="INFO")
    kwargs.update(
        test_dataloader=kwargs["val_dataloader"],
        test_cfg={},
        test_evaluator=kwargs["val_evaluator"],
    )
    runner = Runner(**kwargs)
    runner.test()
    assert [line for line in log_lines(runner) if line.startswith("Epoch(test) [2/2]    mse: ")]


def test_steps_continue_after_resume(tmp_path: Path) -> None:
    class Stop(Hook):
        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            if runner.iter + 1 == 7:
                raise KeyboardInterrupt

    first = logged_run(tmp_path, dict(interval=2), train_cfg=EPOCHS, custom_hooks=[SaveEveryIter()])
    first.register_hook(Stop(), priority="LOWEST")
    with pytest.raises(KeyboardInterrupt):
        first.train()
    (hook,) = [h for h in first.hooks if isinstance(h, LoggerHook)]
    assert hook.drain(timeout=30)

    torch.manual_seed(0)
    resumed = logged_run(tmp_path, dict(interval=2), train_cfg=EPOCHS, resume=True,
                         model=ToyModel(), experiment_name="resumed")  # fmt: skip
    resumed.train()
    before, after = json_records(first), json_records(resumed)
    assert [r["step"] for r in before] == [2, 4, 1, 7]  # stopped after iteration 7
    assert [r["step"] for r in after] == [9, 2]  # iterations 8 to 10, then epoch 2's validation
    assert [r["epoch"] for r in after] == [2, 2]


def test_tensorboard_events_read_back_with_tensorboards_reader(tmp_path: Path) -> None:
    runner = logged_run(
        tmp_path,
        dict(interval=2, backends=["tensorboard"]),
        train_cfg=EPOCHS,
        cfg=dict(model="toy", wandb=dict(api_key="abc123")),
    )
    runner.train()
    records = json_records(runner)
    events = read_events(Path(runner.log_dir) / "vis_data")
    loss = events.Scalars("loss")
    assert [e.step for e in loss] == [2, 4, 7, 9]
    expected = [r["loss"] for r in records if "loss" in r]
    assert [e.value for e in loss] == pytest.approx(expected, rel=1e-6)
    assert [(e.step, e.value) for e in events.Scalars("mse")] == [
        (r["step"], pytest.approx(r["mse"], rel=1e-6)) for r in records if "mse" in r
    ]
    config_text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"model": "toy"' in config_text
    assert "abc123" not in config_text and '"api_key": "******"' in config_text


def test_configured_backends_get_the_vis_data_folder(tmp_path: Path) -> None:
    runner = logged_run(tmp_path, dict(backends=[dict(type="tensorboard")]), train_cfg=EPOCHS)
    runner.train()
    assert list((Path(runner.log_dir) / "vis_data").glob("events.out.tfevents.*"))


def test_out_dir_copies_the_logs_and_keep_local_false_removes_them(tmp_path: Path) -> None:
    out = tmp_path / "remote"
    runner = logged_run(
        tmp_path / "work", dict(out_dir=str(out), keep_local=False), train_cfg=EPOCHS
    )
    runner.train()
    copied = out / "work"
    assert (copied / f"{runner.timestamp}.log").is_file()
    assert (copied / "vis_data" / "scalars.json").is_file()
    assert not (Path(runner.log_dir) / "vis_data" / "scalars.json").exists()


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (dict(interval=0), ValueError, "LoggerHook interval must be a positive int, got 0"),
        (
            dict(interval=2.5),
            TypeError,
            "LoggerHook interval must be a positive int, got float 2.5",
        ),
        (dict(ignore_last="no"), TypeError, "LoggerHook ignore_last must be a bool"),
        (dict(backend_args={}), ValueError, "backend_args is MMEngine's remote-storage"),
        (dict(keep_local=False), ValueError, "keep_local=False needs an out_dir"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        LoggerHook(**options)


def test_a_misspelt_option_is_named_with_its_fix() -> None:
    with pytest.raises(TypeError, match="intervall") as info:
        HOOKS.build(dict(type="LoggerHook", intervall=5))
    assert "interval" in str(info.value).replace("intervall", "")


def test_a_backend_that_is_not_a_backend_is_rejected(tmp_path: Path) -> None:
    runner = logged_run(tmp_path, dict(backends=[object()]), train_cfg=EPOCHS)
    with pytest.raises(TypeError, match="lacks log_scalars, log_config"):
        runner.train()


# ------------------------------------------------------------ the log processor
def test_custom_cfg_adds_and_replaces_statistics(tmp_path: Path) -> None:
    runner = logged_run(
        tmp_path,
        dict(interval=5),
        train_cfg=EPOCHS,
        log_processor=dict(
            custom_cfg=[
                dict(
                    data_src="loss", method_name="mean", window_size="global", log_name="loss_all"
                ),
                dict(data_src="loss", method_name="max", window_size="epoch", log_name="loss_max"),
                dict(data_src="time", method_name="current"),
            ]
        ),
    )
    losses: list[float] = []

    class KeepLosses(Hook):
        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            losses.append(float(outputs["loss"]))

    runner.register_hook(KeepLosses())
    runner.train()
    first, second = (r for r in json_records(runner) if "loss" in r)
    assert first["loss_all"] == pytest.approx(sum(losses[:5]) / 5, rel=1e-6)
    assert second["loss_all"] == pytest.approx(sum(losses) / 10, rel=1e-6)
    assert second["loss_max"] == pytest.approx(max(losses[5:]), rel=1e-6)


@pytest.mark.parametrize(
    ("custom", "message"),
    [
        ([dict(data_src="loss", method_name="median")], "method_name must be one of mean"),
        ([dict(data_src="loss", window_size=0)], "window_size must be a positive int"),
        ([dict(method_name="mean")], "data_src must name a scalar"),
        ([dict(data_src="loss", windows=3)], "unknown keys ['windows']"),
        ([dict(data_src="loss"), dict(data_src="loss")], "logs 'loss' more than once"),
    ],
)
def test_bad_custom_cfg_names_the_entry(custom: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        LogProcessor(custom_cfg=custom)


def test_an_epoch_window_in_an_iteration_based_run_is_refused(tmp_path: Path) -> None:
    runner = logged_run(
        tmp_path,
        train_cfg=ITERS,
        log_processor=dict(custom_cfg=[dict(data_src="loss", window_size="epoch")]),
    )
    with pytest.raises(ValueError, match="window_size='epoch', but this run counts in iter"):
        runner.train()


def test_log_with_hierarchy_keeps_the_mode_prefix(tmp_path: Path) -> None:
    runner = logged_run(
        tmp_path, dict(interval=5), train_cfg=EPOCHS, log_processor=dict(log_with_hierarchy=True)
    )
    runner.train()
    records = json_records(runner)
    assert {"train/loss", "train/lr", "epoch", "iter", "step"} <= set(records[0])
    assert "val/mse" in records[1]


# ------------------------------------------------------------ MMCV names
def test_mmcv_log_config_logs_once_to_text_json_and_tensorboard(tmp_path: Path) -> None:
    kwargs = runner_kwargs(tmp_path, log_level="INFO", train_cfg=EPOCHS)
    cfg = dict(
        kwargs,
        log_config=dict(
            interval=2, hooks=[dict(type="TextLoggerHook"), dict(type="TensorboardLoggerHook")]
        ),
    )
    runner = Runner.from_cfg(cfg)
    names = [type(hook).__name__ for hook in runner.hooks]
    assert names.count("TextLoggerHook") == names.count("TensorboardLoggerHook") == 1
    runner.train()
    assert len([line for line in log_lines(runner) if line.startswith("Epoch(train)")]) == 4
    assert [r["step"] for r in json_records(runner) if "loss" in r] == [2, 4, 7, 9]
    events = read_events(tmp_path / "tf_logs")  # MMCV's default place
    assert [e.step for e in events.Scalars("loss")] == [2, 4, 7, 9]


def test_mmcv_hooks_alone_are_logger_hooks(tmp_path: Path) -> None:
    mmcv_hook = dict(
        type="TensorboardLoggerHook", interval=5, log_dir=str(tmp_path / "tb"), by_epoch=False
    )
    runner = logged_run(
        tmp_path, train_cfg=EPOCHS, default_hooks=dict(logger=None), custom_hooks=[mmcv_hook]
    )
    runner.train()
    assert [r["step"] for r in json_records(runner) if "loss" in r] == [5, 10]
    assert [e.step for e in read_events(tmp_path / "tb").Scalars("loss")] == [5, 10]


def test_log_config_rejects_keys_mmcv_does_not_have(tmp_path: Path) -> None:
    cfg = dict(runner_kwargs(tmp_path), log_config=dict(interval=2, hook=[]))
    with pytest.raises(ValueError, match=r"log_config has keys \['hook'\]"):
        Runner.from_cfg(cfg)


class SaysItSaves(Hook):
    """Logs from the training thread after each epoch, as CheckpointHook does when it saves."""

    priority = "VERY_LOW"

    def after_train_epoch(self, runner: Any) -> None:
        runner.logger.info("Saving checkpoint at %d epochs", runner.epoch + 1)


def test_text_log_lines_are_in_the_order_of_events(tmp_path: Path) -> None:
    runner = logged_run(tmp_path, dict(interval=5), train_cfg=EPOCHS, custom_hooks=[SaysItSaves()])
    runner.train()
    events = [re.match(r"(Epoch\(\w+\) \[\d\]|Saving checkpoint at \d)", line)
              for line in log_lines(runner)]  # fmt: skip
    assert [event.group(1) for event in events if event] == [
        "Epoch(train) [1]", "Saving checkpoint at 1", "Epoch(val) [1]",
        "Epoch(train) [2]", "Saving checkpoint at 2", "Epoch(val) [2]",
    ]  # fmt: skip


def test_no_tensorboard_tag_goes_back_and_test_metrics_reach_every_backend(
    tmp_path: Path,
) -> None:
    kwargs = runner_kwargs(tmp_path)
    runner = logged_run(
        tmp_path, dict(interval=2, backends=["tensorboard"]), train_cfg=EPOCHS,
        test_dataloader=kwargs["val_dataloader"], test_cfg=dict(), test_evaluator=MseEvaluator(),
    )  # fmt: skip
    runner.train()
    runner.test()
    events = read_events(Path(runner.log_dir) / "vis_data")
    tags = events.Tags()["scalars"]
    for tag in tags:
        steps = [event.step for event in events.Scalars(tag)]
        assert steps == sorted(steps), tag
    assert {"time", "val/time", "val/data_time", "mse", "test/mse", "test/time"} <= set(tags)
    (test,) = [r for r in json_records(runner) if "test/mse" in r]
    assert test["step"] == 2 and test["epoch"] == 2  # at the end of training, as validation
    val = [r for r in json_records(runner) if "mse" in r]
    assert all("time" in r and "val/time" not in r for r in val)  # scalars.json as MMEngine's
