"""Mistakes in what the runner is given fail (or warn) before training, naming option and fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from torch.utils.data import DataLoader
from toy import ToyDataset, runner_kwargs

from hooks_core import Runner

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    ("dataloader", "message"),
    [
        ([1, 2, 3], "train_dataloader is a list of int, not of batches"),
        ("loader", "train_dataloader must be a dataloader, got 'loader'"),
        (5, "train_dataloader must be a dataloader, got 5"),
        (ToyDataset(8), r"train_dataloader is a dataset \(ToyDataset\), not a dataloader"),
    ],
)
def test_what_is_not_a_dataloader_is_refused_when_the_runner_is_made(
    tmp_path: Path, dataloader: Any, message: str
) -> None:
    with pytest.raises(TypeError, match=message) as error:
        Runner(**runner_kwargs(tmp_path, train_dataloader=dataloader))
    assert "DataLoader" in str(error.value)  # the fix


def test_val_and_test_dataloaders_are_checked_too(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="val_dataloader is a dataset"):
        Runner(**runner_kwargs(tmp_path, val_dataloader=ToyDataset(8)))


def test_ready_batches_and_dataloaders_are_accepted(tmp_path: Path) -> None:
    batches = list(DataLoader(ToyDataset(16), batch_size=8))
    runner = Runner(**runner_kwargs(tmp_path, train_dataloader=batches,
                                    train_cfg=dict(by_epoch=True, max_epochs=1)))  # fmt: skip
    runner.train()
    assert runner.iter == 2


@pytest.mark.parametrize("by_epoch", [True, False])
def test_an_empty_training_set_fails_before_anything_is_written(
    tmp_path: Path, by_epoch: bool
) -> None:
    train_cfg = dict(by_epoch=True, max_epochs=3) if by_epoch else dict(by_epoch=False, max_iters=5)
    runner = Runner(**runner_kwargs(tmp_path, train_dataloader=dict(
        dataset=ToyDataset(0), batch_size=8), train_cfg=train_cfg))  # fmt: skip
    with pytest.raises(ValueError, match=r"train_dataloader yields no batches \(its dataset has "
                       r"0 samples; batch_size=8, drop_last=False\)"):  # fmt: skip
        runner.train()
    assert not list(tmp_path.glob("*.pth")) and not (tmp_path / "last_checkpoint").exists()


def test_drop_last_leaving_no_batch_names_the_settings(tmp_path: Path) -> None:
    loader = DataLoader(ToyDataset(5), batch_size=8, drop_last=True)
    runner = Runner(**runner_kwargs(tmp_path, train_dataloader=loader))
    with pytest.raises(ValueError, match="5 samples; batch_size=8, drop_last=True"):
        runner.train()


@pytest.mark.parametrize(
    ("train_cfg", "message"),
    [
        (dict(by_epoch=False, max_iters=10, val_interval=50),
         r"val_interval=50 is larger than the run \(max_iters=10\): validation runs only once"),
        (dict(by_epoch=True, max_epochs=2, val_interval=3),
         r"val_interval=3 is larger than the run \(max_epochs=2\)"),
        (dict(by_epoch=True, max_epochs=2, val_begin=3),
         r"val_begin=3 is after the run's end \(max_epochs=2\): validation never runs"),
    ],
)  # fmt: skip
def test_a_validation_schedule_beyond_the_run_is_warned_about(
    tmp_path: Path, train_cfg: dict[str, Any], message: str
) -> None:
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=train_cfg))
    with pytest.warns(UserWarning, match=message):
        runner.train()


def test_the_default_interval_of_a_short_run_is_not_warned_about(tmp_path: Path) -> None:
    # IterBasedTrainLoop's default val_interval is 1000 (MMEngine's): not the user's choice.
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=dict(by_epoch=False, max_iters=5)))
    runner.train()  # warnings are errors in this suite
    assert runner.iter == 5
