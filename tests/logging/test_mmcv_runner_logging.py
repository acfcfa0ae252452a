"""MMCV's logger hooks on MMCV's runners: text lines, JSON records and TensorBoard events.

Real runs of a tiny MMCV 1.x model (its ``train_step`` steps the optimizer)
through `EpochBasedRunner` and `IterBasedRunner` with MMCV's ``log_config``,
read back from the text log, ``vis_data/scalars.json`` and the event files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
from logging_parts import log_lines, read_events
from run_logs import json_records
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from toy import runner_kwargs

from hooks_core import EpochBasedRunner, Hook, IterBasedRunner, Runner

BOTH = [dict(type="TextLoggerHook"), dict(type="TensorboardLoggerHook")]


class MMCVRegressor(nn.Module):
    """An MMCV 1.x model: ``train_step`` steps the optimizer itself."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 1)

    def _step(self, data_batch: Any) -> dict[str, Any]:
        inputs, targets = data_batch
        loss = nn.functional.mse_loss(self.net(inputs), targets)
        return {"loss": loss, "log_vars": {"loss": loss.item()}, "num_samples": len(inputs)}

    def train_step(self, data_batch: Any, optimizer: Any, **kwargs: Any) -> dict[str, Any]:
        outputs = self._step(data_batch)
        optimizer.zero_grad()
        outputs["loss"].backward()
        optimizer.step()
        return outputs

    def val_step(self, data_batch: Any, optimizer: Any = None, **kwargs: Any) -> dict[str, Any]:
        return self._step(data_batch)


def loader(seed: int = 0, size: int = 20) -> DataLoader[Any]:
    """`size` samples of a linear problem in batches of 4."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(size, 4, generator=generator)
    targets = inputs @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    return DataLoader(TensorDataset(inputs, targets), batch_size=4)


def make_runner(cls: type, tmp_path: Path, **length: int) -> Any:
    torch.manual_seed(0)
    model = MMCVRegressor()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    return cls(model, optimizer=optimizer, work_dir=str(tmp_path / "work"), **length)


class Recorder(Hook):
    """Keeps each step's loss, as the runner put it in ``log_vars`` (MMCV style)."""

    def __init__(self) -> None:
        self.train: list[float] = []
        self.val: list[float] = []

    def after_train_iter(self, runner: Any) -> None:
        self.train.append(runner.outputs["log_vars"]["loss"])

    def after_val_iter(self, runner: Any) -> None:
        self.val.append(runner.outputs["log_vars"]["loss"])


def smoothed(values: list[float], done: int, window: int = 10) -> float:
    """The log processor's default: the mean of the latest `window` values."""
    latest = values[max(0, done - window) : done]
    return sum(latest) / len(latest)


def train_lines(runner: Any, head: str) -> list[str]:
    return [line for line in log_lines(runner) if line.startswith(head)]


# ------------------------------------------------------------ EpochBasedRunner
def test_epoch_runner_logs_training_and_the_val_workflow_to_text_json_and_tensorboard(
    tmp_path: Path,
) -> None:
    runner = make_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    recorder = Recorder()
    runner.register_hook(recorder)
    runner.register_training_hooks(None, log_config=dict(interval=2, hooks=BOTH))
    runner.run([loader(), loader(seed=1)], [("train", 1), ("val", 1)])

    lines = train_lines(runner, "Epoch(train)")
    heads = [re.match(r"Epoch\(train\) \[(\d)\]\[(\d)/5\]", line).groups() for line in lines]
    assert heads == [("1", "2"), ("1", "4"), ("2", "2"), ("2", "4")]  # ignore_last drops 5/5
    for line, done in zip(lines, [2, 4, 7, 9], strict=True):
        assert "lr: 1.0000e-02" in line and " time: " in line and " data_time: " in line
        assert line.endswith(f"loss: {smoothed(recorder.train, done):.4f}")
    val_losses = [sum(recorder.val[i : i + 5]) / 5 for i in (0, 5)]  # batches of equal size
    val_lines = [line for line in train_lines(runner, "Epoch(val)") if "loss" in line]
    assert [line.split("  data_time")[0] for line in val_lines] == [
        f"Epoch(val) [{epoch}][5/5]    loss: {loss:.4f}"
        for epoch, loss in zip((1, 2), val_losses, strict=True)
    ]

    records = json_records(runner)
    assert [r["step"] for r in records if "lr" in r] == [2, 4, 7, 9]
    assert [(r["step"], r["epoch"]) for r in records if "lr" not in r] == [(1, 1), (2, 2)]
    assert [r["loss"] for r in records if "lr" not in r] == pytest.approx(val_losses)
    events = read_events(Path(runner.work_dir) / "tf_logs")  # MMCV's place
    assert [e.step for e in events.Scalars("loss")] == [2, 4, 7, 9]
    assert [e.value for e in events.Scalars("val/loss")] == pytest.approx(val_losses)
    assert {"val/time", "val/data_time"} <= set(events.Tags()["scalars"])


class PutsGradNorm(Hook):
    """Logs a value the way MMCV's OptimizerHook logs ``grad_norm``: ``log_buffer.update``."""

    def after_train_iter(self, runner: Any) -> None:
        runner.log_buffer.update({"grad_norm": float(runner.iter + 1)}, 4)


def test_values_hooks_put_in_the_log_buffer_join_the_training_records(tmp_path: Path) -> None:
    runner = make_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    runner.register_hook(PutsGradNorm(), priority="ABOVE_NORMAL")
    runner.register_logger_hooks(dict(interval=2, hooks=[dict(type="TextLoggerHook")]))
    runner.run([loader()], [("train", 1)])

    # grad_norm is 1, 2, ..., 10; each record shows the mean of the latest 10.
    expected = [sum(range(1, done + 1)) / done for done in (2, 4, 7, 9)]
    lines = train_lines(runner, "Epoch(train)")
    assert [float(re.search(r"grad_norm: (\S+)", line).group(1)) for line in lines] == expected
    assert [r["grad_norm"] for r in json_records(runner) if "loss" in r] == expected
    hub = runner.message_hub
    assert hub.get_scalar("train/grad_norm").data[0] == [float(i) for i in range(1, 11)]
    assert len(hub.get_scalar("train/loss").data[0]) == 10  # the runner's log_vars: not twice


class LeavesResults(Hook):
    """MMCV's EvalHook protocol: results in ``log_buffer.output``, ``ready`` set."""

    def __init__(self, every_iters: int | None = None) -> None:
        self.every_iters = every_iters

    def _evaluate(self, runner: Any, score: float) -> None:
        runner.log_buffer.output.update(accuracy=score, summary="a b", eval_iter_num=3)
        runner.log_buffer.ready = True

    def after_train_epoch(self, runner: Any) -> None:
        if self.every_iters is None:
            self._evaluate(runner, 0.25 * (runner.epoch + 1))

    def after_train_iter(self, runner: Any) -> None:
        if self.every_iters is not None and self.every_n_iters(runner, self.every_iters):
            runner.log_buffer.clear()  # as MMCV's EvalHook does before evaluating by iterations
            self._evaluate(runner, (runner.iter + 1) / 100)


class SeesTheBuffer(Hook):
    """Runs after the logger hooks: what they left in the log buffer's output."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, Any], bool]] = []

    def after_train_epoch(self, runner: Any) -> None:
        self.seen.append((dict(runner.log_buffer.output), runner.log_buffer.ready))


def test_evaluation_results_in_the_log_buffer_are_logged_as_val_records(tmp_path: Path) -> None:
    runner = make_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    after = SeesTheBuffer()
    runner.register_hook(LeavesResults(), priority="LOW")  # MMCV's EvalHook priority
    runner.register_hook(after, priority="LOWEST")
    runner.register_training_hooks(None, log_config=dict(interval=2, hooks=BOTH))
    runner.run([loader()], [("train", 1)])

    assert train_lines(runner, "Epoch(val)") == [
        "Epoch(val) [1][3/3]    accuracy: 0.2500  summary: a b",
        "Epoch(val) [2][3/3]    accuracy: 0.5000  summary: a b",
    ]
    val_records = [r for r in json_records(runner) if "loss" not in r]
    assert val_records == [
        {"accuracy": 0.25, "epoch": 1, "step": 1},
        {"accuracy": 0.5, "epoch": 2, "step": 2},
    ]
    events = read_events(Path(runner.work_dir) / "tf_logs")
    assert [(e.step, e.value) for e in events.Scalars("val/accuracy")] == [(1, 0.25), (2, 0.5)]
    assert after.seen == [({}, False), ({}, False)]  # the logger cleared the output


# ------------------------------------------------------------ IterBasedRunner
def test_iter_runner_logs_by_iteration_and_evaluation_results_up_to_the_last_one(
    tmp_path: Path,
) -> None:
    runner = make_runner(IterBasedRunner, tmp_path, max_iters=12)
    recorder = Recorder()
    runner.register_hook(recorder)
    runner.register_hook(LeavesResults(every_iters=6), priority="LOW")
    runner.register_training_hooks(None, log_config=dict(interval=5, hooks=BOTH))
    runner.run([loader()], [("train", 1)])  # 5 batches: the loader cycles

    lines = train_lines(runner, "Iter(train)")
    assert [line.split("  ")[0] for line in lines] == ["Iter(train) [ 5/12]", "Iter(train) [10/12]"]
    for line, done in zip(lines, [5, 10], strict=True):
        assert line.endswith(f"loss: {smoothed(recorder.train, done):.4f}")
    assert train_lines(runner, "Iter(val)") == [
        "Iter(val) [3/3]    accuracy: 0.0600  summary: a b",
        "Iter(val) [3/3]    accuracy: 0.1200  summary: a b",
    ]
    records = json_records(runner)
    assert [r["step"] for r in records if "loss" in r] == [5, 10]
    assert [r for r in records if "loss" not in r] == [
        {"accuracy": 0.06, "iter": 6, "step": 6},
        {"accuracy": 0.12, "iter": 12, "step": 12},
    ]
    events = read_events(Path(runner.work_dir) / "tf_logs")
    assert [e.step for e in events.Scalars("loss")] == [5, 10]
    assert [e.step for e in events.Scalars("val/accuracy")] == [6, 12]  # the last: at after_run


# ------------------------------------------------------------ options of log_config's hooks
def test_seed_text_logger_out_dir_copies_the_logs_with_those_suffixes(tmp_path: Path) -> None:
    out = tmp_path / "expected_directory"
    runner = make_runner(EpochBasedRunner, tmp_path, max_epochs=1)
    (Path(runner.work_dir) / "notes.py").write_text("x = 1\n")  # MMCV's default would copy it
    # seed 003, "训练完成后将日志拷贝至指定路径", with the path made a temporary one
    log_config = {
        "hooks": [
            {
                "type": "TextLoggerHook",
                "out_dir": str(out),
                "out_suffix": (".log.json", ".log"),  # 可以指定拷贝的文件后缀
            },
        ]
    }
    runner.register_logger_hooks(log_config)
    runner.run([loader()], [("train", 1)])

    copied = out / "work"
    files = sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*") if p.is_file())
    stamp = runner.timestamp
    # the text log and the JSON logs (MMCV's .log.json), nothing else
    assert files == [f"{stamp}/{stamp}.log", f"{stamp}/vis_data/{stamp}.json",
                     f"{stamp}/vis_data/scalars.json"]  # fmt: skip
    local = Path(runner.log_dir) / f"{stamp}.log"
    assert (copied / stamp / f"{stamp}.log").read_text() in local.read_text()


def test_options_of_any_listed_hook_take_effect_in_the_one_log(tmp_path: Path) -> None:
    runner = make_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    text = dict(type="TextLoggerHook", ignore_last=False, interval_exp_name=3)
    tensorboard = dict(type="TensorboardLoggerHook", log_dir=str(tmp_path / "tb"))
    runner.register_logger_hooks(dict(interval=2, hooks=[tensorboard, text]))  # TB logs
    runner.run([loader()], [("train", 1)])

    assert [r["step"] for r in json_records(runner) if "loss" in r] == [2, 4, 5, 7, 9, 10]
    assert [e.step for e in read_events(tmp_path / "tb").Scalars("loss")] == [2, 4, 5, 7, 9, 10]
    # every 3 iterations and at the end of each epoch
    assert len([line for line in log_lines(runner) if line.startswith("Exp name: ")]) == 5


def test_listed_hooks_setting_one_option_differently_stop_the_run(tmp_path: Path) -> None:
    runner = make_runner(EpochBasedRunner, tmp_path, max_epochs=1)
    hooks = [dict(type="TextLoggerHook", interval=5), dict(type="TensorboardLoggerHook")]
    runner.register_logger_hooks(dict(interval=2, hooks=hooks))
    message = (
        r"TextLoggerHook sets interval=5 and TensorboardLoggerHook sets interval=2, but a "
        r"runner's logger hooks write one log: give interval once"
    )
    with pytest.raises(ValueError, match=message):
        runner.run([loader()], [("train", 1)])


def test_runner_from_cfg_takes_the_listed_hooks_options(tmp_path: Path) -> None:
    out = tmp_path / "out"
    hooks = [dict(type="TextLoggerHook", out_dir=str(out), out_suffix=".log"), BOTH[1]]
    kwargs = runner_kwargs(tmp_path / "work", log_level="INFO",
                           train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1))  # fmt: skip
    runner = Runner.from_cfg(dict(kwargs, log_config=dict(interval=3, hooks=hooks)))
    runner.train()

    assert [r["step"] for r in json_records(runner) if "loss" in r] == [3, 8]  # 5 per epoch
    copied = out / "work"
    stamp = runner.timestamp
    assert [p.relative_to(copied).as_posix() for p in copied.rglob("*") if p.is_file()] == [
        f"{stamp}/{stamp}.log"
    ]
