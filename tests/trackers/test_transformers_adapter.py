"""`HFTrainerCallback` with a real ``transformers.Trainer.train``: a tiny GPT-2 from a config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import torch
import wandb
from trackers_parts import Sequences, WandbRun, wandb_run_file
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

from hooks_logging import HFTrainerCallback

if TYPE_CHECKING:
    from pathlib import Path


def tiny_gpt2() -> Any:
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=32, n_positions=8, n_embd=16, n_layer=1, n_head=2))


def test_trainer_train_forwards_on_log_to_wandb_and_dvclive(tmp_path: Path) -> None:
    model = tiny_gpt2()
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
    # transformers' integrations' names: train/loss, eval/loss
    assert [(row["_step"], row["train/loss"]) for row in run.rows_with("train/loss")] == [
        (step, pytest.approx(loss)) for step, loss in expected_loss
    ]
    assert [(row["_step"], row["eval/loss"]) for row in run.rows_with("eval/loss")] == [
        (step, pytest.approx(loss)) for step, loss in expected_eval
    ]
    assert not run.rows_with("loss") and not run.rows_with("eval_loss")
    # the end numbers: W&B's run summary, no history row
    (end,) = [h for h in history if "train_runtime" in h]
    assert run.summary["train_loss"] == pytest.approx(end["train_loss"])
    assert run.summary["total_flos"] == end["total_flos"]
    assert not any(key.endswith(("train_runtime", "train_loss")) for row in run.history
                   for key in row)  # fmt: skip
    # one level, as transformers' integrations: the model config, the arguments, the size
    assert run.config["max_steps"] == 6 and run.config["n_layer"] == 1
    assert run.config["model/num_parameters"] == sum(p.numel() for p in model.parameters())
    assert run.exit_code == 0
    live = save_dir / "dvclive" / "plots" / "metrics"
    rows = (live / "eval" / "loss.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in rows] == ["step", "3", "6"]


def test_raw_metric_names_keep_the_trainers_keys(tmp_path: Path) -> None:
    callback = HFTrainerCallback(["json"], metric_names="raw")
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=2, logging_steps=1,
        per_device_train_batch_size=4, report_to="none", save_strategy="no", use_cpu=True,
        disable_tqdm=True, seed=0,
    )  # fmt: skip
    Trainer(model=tiny_gpt2(), args=args, train_dataset=Sequences(8), callbacks=[callback]).train()
    callback.close()
    lines = (tmp_path / "out" / "hooks_logging" / "scalars.json").read_text().splitlines()
    assert [("loss" in line, "train/loss" in line) for line in lines[:2]] == [(True, False)] * 2
    assert '"train_runtime"' in lines[-2]  # no run summary in a JSON log: a record of its own


def test_an_unknown_metric_names_value_is_named() -> None:
    with pytest.raises(ValueError, match=r"metric_names='HF'.*'hf'.*'raw'"):
        HFTrainerCallback(["json"], metric_names="HF")
