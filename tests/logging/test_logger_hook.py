"""LoggerHook as MMEngine's tests use it: options, direct calls on a stand-in runner, real runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from logging_parts import log_lines, logged_run, read_events
from logging_stand_in import lines, logging_runner
from run_logs import json_records, read_json_lines
from toy import MseEvaluator, SaveEveryIter, ToyModel, runner_kwargs

from hooks_core import HOOKS, Hook, Runner, load_config
from hooks_logging import LoggerHook

EPOCHS = dict(by_epoch=True, max_epochs=2, val_interval=1)  # 5 iterations per epoch
ITERS = dict(by_epoch=False, max_iters=12, val_interval=6)


# ------------------------------------------------------------ options
def test_defaults_and_attributes_are_mmengines() -> None:
    hook = LoggerHook(out_dir="tmp_out")
    assert (hook.interval, hook.ignore_last, hook.interval_exp_name) == (10, True, 1000)
    assert hook.out_suffix == (".json", ".log", ".py", "yaml")
    assert hook.keep_local and hook.log_metric_by_epoch and hook.file_client_args is None
    assert hook.out_dir == "tmp_out" and hook.json_log_path is None
    LoggerHook(interval=100, ignore_last=False, interval_exp_name=100, out_dir=Path("tmp_out"))


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (dict(interval="100"), TypeError, "LoggerHook interval must be a positive int, got str"),
        (dict(interval=-1), ValueError, "LoggerHook interval must be a positive int, got -1"),
        (dict(interval=2.5), TypeError, "interval must be a positive int, got float 2.5"),
        (dict(ignore_last="False"), TypeError, "LoggerHook ignore_last must be a bool"),
        (dict(interval_exp_name="100"), TypeError, "interval_exp_name must be a positive int"),
        (dict(interval_exp_name=-1), ValueError, "interval_exp_name must be a positive int"),
        (dict(keep_local=1), TypeError, "LoggerHook keep_local must be a bool"),
        (dict(out_suffix=[100]), TypeError, "out_suffix must be a str or a sequence of str"),
        (dict(out_dir=1), TypeError, "LoggerHook out_dir must be a str or Path object, got int"),
        (dict(file_client_args=dict(enable_mc=True)), ValueError, "but out_dir is not given"),
        (
            dict(out_dir="o", file_client_args=dict(backend="disk"), backend_args={}),
            ValueError,
            "takes file_client_args or backend_args, not both",
        ),
        (
            dict(out_dir="s3://bucket/logs", backend_args=dict(backend="petrel")),
            ValueError,
            "asks for MMEngine's 'petrel' client, which is not supported",
        ),
        (
            dict(out_dir="o", backend_args=dict(path_mapping={})),
            ValueError,
            "gives options ['path_mapping'] for the local path 'o'; storage options apply to a URL",
        ),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        LoggerHook(**options)


def test_local_storage_options_are_accepted_and_file_client_args_is_deprecated() -> None:
    LoggerHook(out_dir="o", backend_args=dict(backend="local"))
    with pytest.warns(FutureWarning, match="file_client_args is MMEngine's deprecated name"):
        LoggerHook(out_dir="o", file_client_args=dict(backend="disk"))


def test_keep_local_false_without_out_dir_keeps_the_logs_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="keep_local=False does nothing without an out_dir"):
        LoggerHook(keep_local=False)


# ------------------------------------------------------------ direct calls on a stand-in runner
def closed(hook: LoggerHook, runner: Any) -> Any:
    """`runner` after `hook.after_run`, which delivers everything queued."""
    hook.after_run(runner)
    return runner


def vis_data(runner: Any) -> Path:
    return Path(runner.log_dir) / "vis_data"


def test_before_run_names_the_json_log_and_the_copy_folder(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path / "work_dir")
    hook = LoggerHook(out_dir=str(tmp_path / "out"))
    hook.before_run(runner)
    assert hook.json_log_path == f"{runner.timestamp}.json"
    assert hook.out_dir == str(tmp_path / "out" / "work_dir")
    hook.after_run(runner)
    hook.before_run(runner)  # a second run (say runner.test() after train()) adds it once
    assert hook.out_dir == str(tmp_path / "out" / "work_dir")
    hook.after_run(runner)


def test_after_run_copies_the_logs_and_keep_local_false_removes_them(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path / "work_dir")
    LoggerHook().after_run(runner)  # without out_dir: nothing to copy
    log_dir = Path(runner.log_dir)
    (log_dir / "tmp.log.json").write_text("{}\n")
    (log_dir / "notes.txt").write_text("not a log\n")
    hook = LoggerHook(out_dir=str(tmp_path / "out"), keep_local=False)
    hook.before_run(runner)
    hook.after_run(runner)
    copied = tmp_path / "out" / "work_dir"
    assert (copied / "tmp.log.json").read_text() == "{}\n"
    assert (copied / "vis_data" / "scalars.json").is_file()  # the layout is kept
    assert not (copied / "notes.txt").exists() and (log_dir / "notes.txt").exists()
    assert not (log_dir / "tmp.log.json").exists()
    assert not (log_dir / "vis_data" / "scalars.json").exists()


def test_after_train_iter_logs_every_interval_batches_without_before_run(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path, iter=10)
    runner.message_hub.update_scalar("train/loss", 0.5)
    hook = LoggerHook()
    hook.after_train_iter(runner, batch_idx=5)
    assert lines(runner, "Epoch(train)") == []
    hook.after_train_iter(runner, batch_idx=9)
    assert lines(runner, "Epoch(train)") == ["Epoch(train)  [2][10/20]    loss: 0.5000"]
    closed(hook, runner)
    record = {"loss": 0.5, "epoch": 2, "iter": 11, "step": 11}
    assert read_json_lines(vis_data(runner) / "scalars.json") == [record]
    assert read_json_lines(vis_data(runner) / f"{runner.timestamp}.json") == [record]


def test_only_the_batch_index_counts_for_the_interval(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path)
    runner.message_hub.update_scalar("train/loss", 0.5)
    hook = LoggerHook()
    hook.after_train_iter(runner, batch_idx=10)
    hook.after_train_iter(runner, batch_idx=9)  # calls need not come in order
    assert len(lines(closed(hook, runner), "Epoch(train)")) == 1


@pytest.mark.parametrize(
    ("options", "length", "batch_idx"),
    [
        (dict(ignore_last=False), 5, 4),  # the end of the epoch, although 5 % 10 != 0
        (dict(), 9, 8),  # an epoch shorter than the interval logs at its end
    ],
)
def test_the_end_of_an_epoch_logs_when_mmengine_does(
    tmp_path: Path, options: dict[str, Any], length: int, batch_idx: int
) -> None:
    runner = logging_runner(tmp_path, lengths=(length, 10, 5))
    runner.message_hub.update_scalar("train/loss", 0.5)
    hook = LoggerHook(**options)
    hook.after_train_iter(runner, batch_idx=batch_idx)
    assert len(lines(closed(hook, runner), "Epoch(train)")) == 1


def test_the_experiment_name_is_printed_every_interval_exp_name_iterations(
    tmp_path: Path,
) -> None:
    runner = logging_runner(tmp_path, iter=999, lengths=(2000, 10, 5))
    runner.message_hub.update_scalar("train/loss", 0.5)
    hook = LoggerHook()
    hook.after_train_iter(runner, batch_idx=3)
    runner.iter = 1000
    hook.after_train_iter(runner, batch_idx=4)
    assert lines(closed(hook, runner), "Exp name: ") == [f"Exp name: {runner.experiment_name}"]


def test_iteration_based_runs_log_at_the_iteration(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path, by_epoch=False, iter=19, max_iters=50)
    runner.message_hub.update_scalar("train/loss", 0.5)
    hook = LoggerHook()
    hook.before_run(runner)
    hook.after_train_iter(runner, batch_idx=19)  # iteration-based loops pass the iteration
    assert lines(runner, "Iter(train)") == ["Iter(train) [20/50]    loss: 0.5000"]
    closed(hook, runner)
    assert read_json_lines(vis_data(runner) / "scalars.json") == [
        {"loss": 0.5, "iter": 20, "step": 20}
    ]


@pytest.mark.parametrize("mode", ["val", "test"])
def test_evaluation_iterations_log_a_line_every_interval(tmp_path: Path, mode: str) -> None:
    runner = logging_runner(tmp_path, iter=0, lengths=(20, 10, 10))
    runner.message_hub.update_scalar(f"{mode}/time", 0.5)
    hook = LoggerHook()
    call = getattr(hook, f"after_{mode}_iter")
    call(runner, 1)
    assert runner.messages == []
    call(runner, 9)
    expected = {"val": "Epoch(val)  [1][10/10]    ", "test": "Epoch(test) [10/10]    "}
    assert [m[: len(expected[mode])] for m in closed(hook, runner).messages] == [expected[mode]]


@pytest.mark.parametrize(
    ("log_metric_by_epoch", "step", "axis"), [(True, 1, "epoch"), (False, 10, "iter")]
)
def test_after_val_epoch_records_the_metrics_at_the_epoch_or_the_iteration(
    tmp_path: Path, log_metric_by_epoch: bool, step: int, axis: str
) -> None:
    runner = logging_runner(tmp_path, epoch=1, iter=10)
    hub = runner.message_hub
    hub.update_scalar("val/acc", 0.8)
    hub.update_scalar("val/time", 1.0)
    hook = LoggerHook(log_metric_by_epoch=log_metric_by_epoch)
    hook.after_val_epoch(runner)
    assert lines(runner, "Epoch(val)") == ["Epoch(val) [1][10/10]    acc: 0.8000  time: 1.0000"]
    closed(hook, runner)
    record = {"acc": 0.8, "time": 1.0, axis: step, "step": step}
    assert read_json_lines(vis_data(runner) / "scalars.json") == [record]
    assert read_json_lines(vis_data(runner) / f"{runner.timestamp}.json") == [record]


def test_after_test_epoch_dumps_the_metrics_as_mmengine(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path, by_epoch=None, epoch=0, timestamp="test_after_test_epoch")
    hub = runner.message_hub
    hub.update_scalar("test/a", 1)
    hub.update_scalar("test/b", 2)
    hub.update_info("test/c", {"list": [1, 2]})
    hub.update_info("test/d", torch.tensor([1, 2, 3]))
    hook = LoggerHook()
    hook.after_test_epoch(runner)
    assert lines(runner, "Epoch(test) [5/5]    a: 1")
    dumped = Path(runner.log_dir) / "test_after_test_epoch.json"
    assert json.loads(dumped.read_text()) == dict(a=1, b=2, c={"list": [1, 2]}, d=[1, 2, 3])
    closed(hook, runner)  # the scalars also reach the JSON log and every backend, as test/...
    (record,) = read_json_lines(vis_data(runner) / "scalars.json")
    assert record == {"test/a": 1, "test/b": 2, "epoch": 0, "step": 0}


def test_only_rank_0_and_the_first_logger_hook_log(tmp_path: Path) -> None:
    runner = logging_runner(tmp_path)
    runner.message_hub.update_scalar("train/loss", 0.5)
    first, second = LoggerHook(), LoggerHook()
    runner.register_hook(first)
    runner.register_hook(second)
    for hook in (first, second):
        hook.after_train_iter(runner, batch_idx=9)
    assert len(lines(runner, "Epoch(train)")) == 1
    closed(first, runner)
    closed(second, runner)
    other_rank = logging_runner(tmp_path / "rank1")
    other_rank.rank = 1
    other_rank.message_hub.update_scalar("train/loss", 0.5)
    hook = LoggerHook()
    hook.after_train_iter(other_rank, batch_idx=9)
    assert closed(hook, other_rank).messages == [] and not vis_data(other_rank).exists()


# ------------------------------------------------------------ real runs
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
    summaries = [line for line in lines if re.match(r"Epoch\(val\) \[\d\]\[2/2\]    mse", line)]
    assert len(summaries) == 2
    # Validation iterations (every 2) show their timings only, as MMEngine's lines do.
    assert re.fullmatch(
        rf"Epoch\(val\) \[1\]\[2/2\]    eta: \d:\d\d:\d\d  time: {number}  data_time: {number}  ",
        lines[lines.index(summaries[0]) - 1],
    )
    assert re.fullmatch(
        rf"Epoch\(val\) \[1\]\[2/2\]    mse: {number}  data_time: {number}  time: {number}",
        summaries[0],
    ), summaries[0]
    assert lines.count(f"Exp name: {runner.experiment_name}") == 2  # at each epoch's end


def test_epoch_numbers_align_to_the_width_of_max_epochs(tmp_path: Path) -> None:
    runner = logged_run(
        tmp_path, dict(interval=5), train_cfg=dict(by_epoch=True, max_epochs=10, val_interval=10)
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
    summary = [line for line in log_lines(runner) if line.startswith("Epoch(val) [1][2/2]    mse")]
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


def test_out_dir_at_a_url_gets_each_log_through_the_store(tmp_path: Path) -> None:
    import fsspec

    runner = logged_run(tmp_path / "work", dict(out_dir="memory://logs"), train_cfg=EPOCHS)
    runner.train()
    store = fsspec.filesystem("memory")
    copied = f"/logs/work/{runner.timestamp}.log"
    uploaded = store.cat_file(copied)
    with open(Path(runner.log_dir) / f"{runner.timestamp}.log", "rb") as log:
        assert b"Epoch(train)" in uploaded and log.read().startswith(uploaded)  # then "Copied"
    assert store.isfile("/logs/work/vis_data/scalars.json")
    assert not [path for path in store.find("/logs") if path.endswith(".tmp")]
    store.rm("/logs", recursive=True)


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


# ------------------------------------------------------------ MMEngine's file names in real runs
@pytest.mark.parametrize("backends", [[], ["json"]])  # the default JSON log, or one configured
def test_the_json_log_is_also_at_mmengines_timestamp_name(
    tmp_path: Path, backends: list[str]
) -> None:
    runner = logged_run(tmp_path, dict(interval=2, backends=backends), train_cfg=EPOCHS)
    runner.train()
    copy = Path(runner.log_dir) / "vis_data" / f"{runner.timestamp}.json"
    assert read_json_lines(copy) == json_records(runner) and len(json_records(runner)) == 6


def test_the_config_is_also_written_as_mmengines_config_py(tmp_path: Path) -> None:
    cfg = dict(model=dict(type="ToyModel", depth=2), train_cfg=dict(max_epochs=2),
               lr=0.05, scales=(1, 2), names=["a", "b"], extra={"not a name": None})  # fmt: skip
    runner = logged_run(tmp_path, train_cfg=EPOCHS, cfg=cfg)
    runner.train()
    loaded = load_config(Path(runner.log_dir) / "vis_data" / "config.py")
    assert {key: value for key, value in loaded.items() if key != "filename"} == cfg


def test_test_metrics_are_dumped_to_the_timestamp_json_of_the_log_dir(tmp_path: Path) -> None:
    kwargs = runner_kwargs(tmp_path)
    runner = logged_run(
        tmp_path, train_cfg=EPOCHS, test_dataloader=kwargs["val_dataloader"], test_cfg=dict(),
        test_evaluator=MseEvaluator(),
    )  # fmt: skip
    metrics = runner.test()
    dumped = json.loads((Path(runner.log_dir) / f"{runner.timestamp}.json").read_text())
    assert list(dumped) == ["mse", "data_time", "time"]
    assert dumped["mse"] == pytest.approx(metrics["mse"], rel=1e-6)


def test_out_suffix_and_keep_local_in_a_run_as_mmengines_test(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = logged_run(tmp_path / "a", dict(out_dir=str(out), out_suffix=".log"), train_cfg=EPOCHS)
    runner.train()
    copied = [p for p in (out / "a").rglob("*") if p.is_file()]
    assert copied and all(p.suffix == ".log" for p in copied)
    runner = logged_run(tmp_path / "b", dict(out_dir=str(out), keep_local=False), train_cfg=EPOCHS)
    runner.train()
    kept = [p.name for p in Path(runner.log_dir).rglob("*") if p.is_file()]
    assert not [name for name in kept if name.endswith((".log", ".json", ".py", "yaml"))], kept
    assert (out / "b" / f"{runner.timestamp}.log").is_file()
