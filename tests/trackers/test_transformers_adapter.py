"""`HFTrainerCallback` with a real ``transformers.Trainer.train``: a tiny GPT-2 from a config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import torch
import wandb
from trackers_parts import Sequences, WandbRun, isolate, wandb_run_file
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

from hooks_logging import HFTrainerCallback

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(autouse=True)
def _offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)


def test_trainer_train_forwards_on_log_to_wandb_and_dvclive(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GPT2LMHeadModel(
        GPT2Config(vocab_size=32, n_positions=8, n_embd=16, n_layer=1, n_head=2)
    )
    callback = HFTrainerCallback([dict(type="wandb", init_kwargs=dict(project="hf")), "dvclive"])
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=6, logging_steps=2, eval_strategy="steps",
        eval_steps=3, per_device_train_batch_size=4, per_device_eval_batch_size=4,
        learning_rate=1e-3, report_to="none", save_strategy="no", use_cpu=True,
        disable_tqdm=True, seed=0,
    )  # fmt: skip
    trainer = Trainer(
        model=model, args=args, train_dataset=Sequences(24), eval_dataset=Sequences(8),
        callbacks=[callback],
    )  # fmt: skip
    trainer.train()
    callback.close()
    wandb.teardown()
    history: list[dict[str, Any]] = trainer.state.log_history
    expected_loss = [(h["step"], h["loss"]) for h in history if "loss" in h]
    expected_eval = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    assert [step for step, _ in expected_loss] == [2, 4, 6]
    assert [step for step, _ in expected_eval] == [3, 6]
    save_dir = tmp_path / "out" / "hooks_logging"
    run = WandbRun(wandb_run_file(save_dir))
    assert [(row["_step"], row["loss"]) for row in run.rows_with("loss")] == [
        (step, pytest.approx(loss)) for step, loss in expected_loss
    ]
    assert [(row["_step"], row["eval_loss"]) for row in run.rows_with("eval_loss")] == [
        (step, pytest.approx(loss)) for step, loss in expected_eval
    ]
    assert run.config["args"]["max_steps"] == 6 and run.config["model"]["n_layer"] == 1
    assert run.exit_code == 0
    rows = (save_dir / "dvclive" / "plots" / "metrics" / "eval_loss.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in rows] == ["step", "3", "6"]
