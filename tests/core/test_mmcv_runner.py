"""MMCV 1.x's `EpochBasedRunner`/`IterBasedRunner`: the order of hook points, the attributes
MMCV hooks read, workflows, checkpoints and resuming, as MMCV 1.7's runners behave."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hooks_core import (
    HOOKS,
    EpochBasedRunner,
    Hook,
    IterBasedRunner,
    LogBuffer,
    build_runner,
)

if TYPE_CHECKING:
    from pathlib import Path


class MmcvModel(nn.Module):
    """A model written for MMCV: its steps return loss, log_vars and num_samples."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def _loss(self, data: Any) -> dict[str, Any]:
        x, y = data
        loss = ((self.fc(x) - y) ** 2).mean()
        return {"loss": loss, "log_vars": {"loss": loss.item()}, "num_samples": len(x)}

    def train_step(self, data: Any, optimizer: Any) -> dict[str, Any]:
        outputs = self._loss(data)
        optimizer.zero_grad()
        outputs["loss"].backward()
        optimizer.step()
        return outputs

    def val_step(self, data: Any, optimizer: Any = None) -> dict[str, Any]:
        return self._loss(data)


class Recorder(Hook):
    """An MMCV-style hook: every method takes only the runner."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def before_run(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append(("before_run",))

    def after_run(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append(("after_run",))

    def before_epoch(self, runner: Any) -> None:
        self.calls.append(("before_epoch", runner.mode, runner.epoch))

    def after_epoch(self, runner: Any) -> None:
        self.calls.append(("after_epoch", runner.mode, runner.epoch))

    def after_train_iter(self, runner):  # type: ignore[no-untyped-def, override]
        assert runner.data_batch is not None
        self.calls.append(
            ("after_train_iter", runner.iter, runner.inner_iter, runner.outputs["num_samples"])
        )

    def after_val_iter(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append(("after_val_iter", runner.inner_iter))


def loader(n: int = 8, batch_size: int = 4) -> DataLoader[Any]:
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(
        torch.randn(n, 4, generator=generator), torch.randn(n, 1, generator=generator)
    )
    return DataLoader(data, batch_size=batch_size)


def make(runner_type: type, tmp_path: Path, **kwargs: Any) -> Any:
    torch.manual_seed(0)
    model = MmcvModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return runner_type(model, optimizer=optimizer, work_dir=str(tmp_path), **kwargs)


def test_epoch_based_workflow_calls_mmcv_points_in_mmcv_order(tmp_path: Path) -> None:
    runner = make(EpochBasedRunner, tmp_path, max_epochs=2)
    recorder = Recorder()
    runner.register_hook(recorder)
    runner.run([loader(), loader()], [("train", 1), ("val", 1)])
    assert recorder.calls == [
        ("before_run",),
        ("before_epoch", "train", 0),
        ("after_train_iter", 0, 0, 4),
        ("after_train_iter", 1, 1, 4),
        ("after_epoch", "train", 0),
        ("before_epoch", "val", 1),
        ("after_val_iter", 0),
        ("after_val_iter", 1),
        ("after_epoch", "val", 1),
        ("before_epoch", "train", 1),
        ("after_train_iter", 2, 0, 4),
        ("after_train_iter", 3, 1, 4),
        ("after_epoch", "train", 1),
        ("before_epoch", "val", 2),
        ("after_val_iter", 0),
        ("after_val_iter", 1),
        ("after_epoch", "val", 2),
        ("after_run",),
    ]
    assert (runner.epoch, runner.iter, runner.max_epochs, runner.max_iters) == (2, 4, 2, 4)
    assert runner.log_buffer.n_history["loss"] == [4] * 8  # train and val steps, as MMCV


def test_train_two_val_one_validates_after_every_second_epoch(tmp_path: Path) -> None:
    runner = make(EpochBasedRunner, tmp_path, max_epochs=4)
    seen: list[tuple[str, int]] = []

    class Epochs(Hook):
        def after_train_epoch(self, runner):  # type: ignore[no-untyped-def, override]
            seen.append(("train", runner.epoch))

        def after_val_epoch(self, runner, metrics=None):  # type: ignore[no-untyped-def, override]
            seen.append(("val", runner.epoch))
            assert set(metrics) == {"loss"}  # MMEngine-style hooks get the averaged log_vars

    runner.register_hook(Epochs())
    runner.run([loader(), loader()], [("train", 2), ("val", 1)])
    assert seen == [("train", 0), ("train", 1), ("val", 2), ("train", 2), ("train", 3), ("val", 4)]


def test_iter_based_runner_calls_the_generic_points_once_and_no_train_epoch(tmp_path: Path) -> None:
    runner = make(IterBasedRunner, tmp_path, max_iters=5)
    recorder = Recorder()
    epochs: list[int] = []
    runner.register_hook(recorder)
    runner.register_hook(
        {"type": "FunctionHook", "fn_name": "before_train_epoch", "fn": lambda r: epochs.append(1)}
    )
    runner.run([loader()], [("train", 1)])
    names = [call[0] for call in recorder.calls]
    assert names == [
        "before_run",
        "before_epoch",
        *["after_train_iter"] * 5,
        "after_epoch",
        "after_run",
    ]
    assert [call[1] for call in recorder.calls if call[0] == "after_train_iter"] == [0, 1, 2, 3, 4]
    assert epochs == []
    # As MMCV: the epoch is the loader's when the iteration began (its 5th batch starts pass 3).
    assert runner.iter == 5 and runner.epoch == 1


def test_iter_based_workflow_alternates_train_and_val_iterations(tmp_path: Path) -> None:
    runner = make(IterBasedRunner, tmp_path, max_iters=4)
    recorder = Recorder()
    runner.register_hook(recorder)
    runner.run([loader(), loader()], [("train", 2), ("val", 1)])
    names = [call[0] for call in recorder.calls if call[0].startswith("after_")]
    assert names == ["after_train_iter", "after_train_iter", "after_val_iter"] * 2 + [
        "after_epoch",
        "after_run",
    ]
    assert runner.val_dataloader is not None


def test_build_runner_with_default_args(tmp_path: Path) -> None:
    model = MmcvModel()
    logger = logging.getLogger("mmcv-style")
    runner = build_runner(
        {"type": "EpochBasedRunner", "max_epochs": 3},
        default_args={
            "model": model,
            "optimizer": torch.optim.SGD(model.parameters(), lr=0.01),
            "work_dir": str(tmp_path),
            "logger": logger,
            "meta": {"exp_name": "x"},
        },
    )
    assert isinstance(runner, EpochBasedRunner)
    assert runner.logger is logger and runner.max_epochs == 3 and runner.meta == {"exp_name": "x"}
    assert runner.current_lr() == [0.01] and runner.current_momentum() == [0.0]
    with pytest.raises(ValueError, match="constructor 'Mine' is not available"):
        build_runner({"type": "EpochBasedRunner", "constructor": "Mine"}, {"model": model})


def test_constructor_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="give max_epochs or max_iters, not both"):
        EpochBasedRunner(MmcvModel(), work_dir=str(tmp_path), max_epochs=1, max_iters=1)
    with pytest.raises(TypeError, match=r"Linear has no train_step\(data_batch, optimizer\)"):
        EpochBasedRunner(nn.Linear(1, 1), work_dir=str(tmp_path))
    runner = make(EpochBasedRunner, tmp_path, max_epochs=1)
    with pytest.raises(ValueError, match="1 data loaders for 2 workflow entries"):
        runner.run([loader()], [("train", 1), ("val", 1)])
    with pytest.raises(ValueError, match='runner has no method named "test"'):
        runner.run([loader()], [("test", 1)])
    with pytest.raises(RuntimeError, match="optimizer does not exist"):
        EpochBasedRunner(MmcvModel(), work_dir=str(tmp_path)).current_lr()


def test_a_step_that_returns_no_dict_is_a_type_error(tmp_path: Path) -> None:
    class Bad(MmcvModel):
        def train_step(self, data: Any, optimizer: Any) -> Any:  # type: ignore[override]
            return 1.0

    runner = EpochBasedRunner(Bad(), work_dir=str(tmp_path), max_epochs=1)
    with pytest.raises(TypeError, match=r"model.train_step\(\) must return a dict"):
        runner.run([loader()], [("train", 1)])


def test_batch_processor_replaces_the_model_steps(tmp_path: Path) -> None:
    seen: list[bool] = []

    def batch_processor(model: Any, data: Any, train_mode: bool) -> dict[str, Any]:
        seen.append(train_mode)
        return {"loss": torch.tensor(0.0), "log_vars": {"loss": 0.0}, "num_samples": 1}

    with pytest.warns(DeprecationWarning, match="batch_processor is deprecated"):
        runner = EpochBasedRunner(
            nn.Linear(4, 1), batch_processor=batch_processor, work_dir=str(tmp_path), max_epochs=1
        )
    runner.run([loader(), loader()], [("train", 1), ("val", 1)])
    assert seen == [True, True, False, False]


def test_save_checkpoint_names_the_file_keeps_meta_and_points_latest(tmp_path: Path) -> None:
    runner = make(EpochBasedRunner, tmp_path, max_epochs=2, meta={"hook_msgs": {"a": 1}, "k": "v"})
    runner.run([loader()], [("train", 2)])
    path = runner.save_checkpoint(str(tmp_path))
    assert path == str(tmp_path / "epoch_3.pth")
    assert os.readlink(tmp_path / "latest.pth") == "epoch_3.pth"
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["meta"]["epoch"] == 3 and checkpoint["meta"]["iter"] == 4
    assert checkpoint["meta"]["k"] == "v" and checkpoint["meta"]["hook_msgs"] == {"a": 1}
    assert set(checkpoint["optimizer"]) == {"state", "param_groups"}
    path = runner.save_checkpoint(
        str(tmp_path), "mine.pth", save_optimizer=False, create_symlink=False
    )
    assert "optimizer" not in torch.load(path, weights_only=True)
    assert os.readlink(tmp_path / "latest.pth") == "epoch_3.pth"


def test_resume_restores_counters_weights_optimizer_and_hook_msgs(tmp_path: Path) -> None:
    whole = make(EpochBasedRunner, tmp_path / "whole", max_epochs=4)
    whole.run([loader()], [("train", 4)])

    first = make(EpochBasedRunner, tmp_path / "part", max_epochs=2, meta={"hook_msgs": {"b": 2}})
    first.optimizer.param_groups[0]["momentum"] = 0.0
    first.run([loader()], [("train", 2)])
    first.train_loop.epoch -= 1  # save as after_train_epoch does, before the counter moves
    path = first.save_checkpoint(str(tmp_path / "part"))
    assert path.endswith("epoch_2.pth")

    second = make(EpochBasedRunner, tmp_path / "part", max_epochs=4)
    second.resume(path)
    assert (second.epoch, second.iter) == (2, 4)
    assert second.meta["hook_msgs"] == {"b": 2}
    second.run([loader()], [("train", 4)])
    for mine, theirs in zip(second.model.parameters(), whole.model.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)


def test_iter_based_checkpoint_counts_iterations(tmp_path: Path) -> None:
    runner = make(IterBasedRunner, tmp_path, max_iters=3)
    saved: list[str] = []

    class Save(Hook):
        def after_train_iter(self, runner):  # type: ignore[no-untyped-def, override]
            saved.append(runner.save_checkpoint(str(tmp_path)))

    runner.register_hook(Save())
    runner.run([loader()], [("train", 1)])
    assert [os.path.basename(p) for p in saved] == ["iter_1.pth", "iter_2.pth", "iter_3.pth"]
    resumed = make(IterBasedRunner, tmp_path, max_iters=3)
    resumed.resume(saved[1])
    assert resumed.iter == 2 and resumed.inner_iter == 2


def test_register_training_hooks_uses_mmcv_names_and_priorities(tmp_path: Path) -> None:
    built: list[tuple[str, dict[str, Any]]] = []

    def recording(name: str) -> type:
        def init(self: Hook, **kwargs: Any) -> None:
            built.append((name, kwargs))

        return type(name, (Hook,), {"__init__": init})

    for name in ("StepLrUpdaterHook", "CyclicMomentumUpdaterHook", "OptimizerHook",
                 "CheckpointHook", "TextLoggerHook"):  # fmt: skip
        HOOKS.register_module(name=f"Test{name}", module=recording(name))
    runner = make(IterBasedRunner, tmp_path, max_iters=1)
    lr_config = {"type": "TestStepLrUpdaterHook", "step": [2]}
    runner.register_training_hooks(
        lr_config,
        {"type": "TestOptimizerHook", "grad_clip": None},
        {"type": "TestCheckpointHook", "interval": 5},
        {"interval": 7, "hooks": [{"type": "TestTextLoggerHook"}]},
        {"type": "TestCyclicMomentumUpdaterHook"},
    )
    assert lr_config == {"type": "TestStepLrUpdaterHook", "step": [2]}  # not modified
    assert built == [
        ("StepLrUpdaterHook", {"by_epoch": False, "step": [2]}),
        ("CyclicMomentumUpdaterHook", {}),
        ("OptimizerHook", {"grad_clip": None}),
        ("CheckpointHook", {"by_epoch": False, "interval": 5}),
        ("TextLoggerHook", {"interval": 7, "by_epoch": False}),
    ]
    names = [type(hook).__name__ for hook in runner.hooks]
    assert names == [
        "StepLrUpdaterHook",
        "RuntimeInfoHook",  # after the lr hook, so it publishes the iteration's lr
        "CyclicMomentumUpdaterHook",
        "OptimizerHook",
        "CheckpointHook",
        "IterTimerHook",
        "TextLoggerHook",
    ]
    timer = [h for h in runner.hooks if type(h).__name__ == "IterTimerHook"]
    assert len(timer) == 1 and timer[0].priority == "LOW"


def test_policy_names_follow_mmcv_rule(tmp_path: Path) -> None:
    runner = make(EpochBasedRunner, tmp_path, max_epochs=1)
    with pytest.raises(KeyError, match="'StepLrUpdaterHook' is not in the"):
        runner.register_lr_hook({"policy": "step", "step": [1]})
    with pytest.raises(KeyError, match="'CosineAnnealingMomentumUpdaterHook' is not in the"):
        runner.register_momentum_hook({"policy": "CosineAnnealing"})
    with pytest.raises(KeyError, match="names no policy"):
        runner.register_lr_hook({"step": [1]})


def test_log_buffer_averages_weighted_by_count() -> None:
    buffer = LogBuffer()
    buffer.update({"loss": 1.0}, 1)
    buffer.update({"loss": 4.0}, 3)
    buffer.average()
    assert buffer.output == {"loss": 3.25} and buffer.ready
    buffer.average(1)
    assert buffer.output == {"loss": 4.0}
    buffer.clear_output()
    assert buffer.output == {} and not buffer.ready and buffer.val_history
    buffer.clear()
    assert buffer.val_history == {} and buffer.n_history == {}
    with pytest.raises(TypeError, match="takes a dict"):
        buffer.update([1.0])  # type: ignore[arg-type]


def test_the_mmengine_runner_names_log_buffer_as_missing(tmp_path: Path) -> None:
    from hooks_core import Runner

    runner = Runner(model=nn.Linear(1, 1), work_dir=str(tmp_path))
    assert runner.optimizer is None and runner.inner_iter == 0
    with pytest.raises(AttributeError, match=r"runner\.log_buffer is MMCV 1\.x's"):
        runner.log_buffer  # noqa: B018
