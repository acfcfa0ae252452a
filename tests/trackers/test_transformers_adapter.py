"""`HFTrainerCallback` with a real ``transformers.Trainer.train``: a tiny GPT-2 from a config."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import torch
import wandb
from mlflow import MlflowClient
from tensorboard.backend.event_processing import event_accumulator
from trackers_parts import (
    Sequences,
    WandbRun,
    neptune_operations,
    neptune_series,
    wandb_run_file,
)
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

from hooks_logging import HFTrainerCallback, MlflowBackend, WandbBackend

if TYPE_CHECKING:
    from pathlib import Path


def tiny_gpt2() -> Any:
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=32, n_positions=8, n_embd=16, n_layer=1, n_head=2))


def hf_args(tmp_path: Path, **overrides: Any) -> TrainingArguments:
    """CPU arguments, no report_to, no bar, saving nothing unless `overrides` say."""
    options = dict(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4,
        per_device_eval_batch_size=4, learning_rate=1e-3, report_to="none", save_strategy="no",
        use_cpu=True, disable_tqdm=True, seed=0,
    )  # fmt: skip
    return TrainingArguments(**{**options, **overrides})


def json_log(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "out" / "hooks_logging" / "scalars.json").read_text().splitlines()
    return [json.loads(line) for line in lines]


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


def test_evaluate_after_train_overwrites_no_record(tmp_path: Path) -> None:
    """The last step's evaluation and a later ``trainer.evaluate()``: both seen everywhere
    but in Neptune, whose series cannot go back to a step (it keeps the first)."""
    lean = dict(source_files=[], git_ref=False)
    callback = HFTrainerCallback(
        ["json", "tensorboard", dict(type="wandb", init_kwargs=dict(project="hf")),
         dict(type="mlflow", exp_name="hf"), "dvclive", dict(type="neptune", init_kwargs=lean)]
    )  # fmt: skip
    args = hf_args(tmp_path, max_steps=4, logging_steps=2, eval_strategy="steps", eval_steps=4)
    trainer = Trainer(
        model=tiny_gpt2(), args=args, train_dataset=Sequences(16), eval_dataset=Sequences(8),
        callbacks=[callback],
    )  # fmt: skip
    trainer.train()
    trainer.evaluate(eval_dataset=Sequences(4))  # another loss, logged at step 4 again
    callback.close()
    wandb.teardown()
    losses = [h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h]
    assert len(losses) == 2 and losses[0] != losses[1]
    expected = [(4, pytest.approx(loss)) for loss in losses]
    save_dir = tmp_path / "out" / "hooks_logging"
    # W&B merges the records of a step into one row: the second evaluation takes the next row,
    # plotted at its global step, as transformers' W&B integration declares it
    run = WandbRun(wandb_run_file(save_dir))
    rows = run.rows_with("eval/loss")
    assert [(row["train/global_step"], row["eval/loss"]) for row in rows] == expected
    assert [row["_step"] for row in rows] == [4, 5]
    assert run.step_metrics["eval/loss"] == run.step_metrics["train/loss"] == "train/global_step"
    assert [(r["step"], r["eval/loss"]) for r in json_log(tmp_path) if "eval/loss" in r] == expected
    events = event_accumulator.EventAccumulator(str(save_dir), size_guidance={"scalars": 0})
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("eval/loss")] == expected
    assert "train/global_step" not in events.Tags()["scalars"]  # the step is TensorBoard's axis
    mlflow_backend = callback.backends[3]
    client = MlflowClient(mlflow_backend.tracking_uri)
    history = client.get_metric_history(mlflow_backend.run_id, "eval/loss")
    assert [(m.step, m.value) for m in history] == expected
    tsv = (save_dir / "dvclive" / "plots" / "metrics" / "eval" / "loss.tsv").read_text()
    assert [line.split("\t")[0] for line in tsv.splitlines()] == ["step", "4", "4"]
    assert neptune_series(neptune_operations(tmp_path / "neptune"), "eval/loss") == expected[:1]


def test_run_name_and_tags_name_the_tracker_runs(tmp_path: Path) -> None:
    lean = dict(source_files=[], git_ref=False)  # Neptune: no files of the test process, no git
    callback = HFTrainerCallback(
        [dict(type="wandb", init_kwargs=dict(project="hf")), dict(type="mlflow", exp_name="hf"),
         dict(type="neptune", init_kwargs=lean)],
        tags=["tiny", "gpt2"],
    )  # fmt: skip
    args = hf_args(tmp_path, max_steps=1, run_name="tiny-run")
    Trainer(model=tiny_gpt2(), args=args, train_dataset=Sequences(4), callbacks=[callback]).train()
    callback.close()
    wandb.teardown()
    run = WandbRun(wandb_run_file(tmp_path / "out"))
    assert (run.name, run.tags) == ("tiny-run", ["tiny", "gpt2"])
    mlflow_backend = callback.backends[1]
    found = MlflowClient(mlflow_backend.tracking_uri).get_run(mlflow_backend.run_id)
    assert found.info.run_name == "tiny-run"
    assert {k: found.data.tags[k] for k in ("tiny", "gpt2")} == {"tiny": "", "gpt2": ""}
    operations = neptune_operations(tmp_path / "neptune")
    names = [op["value"] for op in operations if op["path"] == ["sys", "name"]]
    tags = [value for op in operations if op["path"] == ["sys", "tags"] for value in op["values"]]
    assert (names, sorted(tags)) == (["tiny-run"], ["gpt2", "tiny"])


def test_a_configs_own_run_name_and_tags_win() -> None:
    mine = {"type": "wandb", "init_kwargs": {"name": "mine", "tags": ["own"]}}
    assert WandbBackend.named_config(mine, "hf-run", ["t"]) == mine
    config = MlflowBackend.named_config(
        {"run_name": "mine", "tags": {"t": "own"}}, "hf", ["t", "u"]
    )
    assert config == {"run_name": "mine", "tags": {"t": "own", "u": ""}}
    assert WandbBackend.named_config({"type": "wandb"}, None, ()) == {"type": "wandb"}


def test_resume_from_checkpoint_continues_the_wandb_and_mlflow_runs(tmp_path: Path) -> None:
    backends = [
        dict(type="wandb", init_kwargs=dict(project="hf")),
        dict(type="mlflow", exp_name="hf"),
    ]
    first = HFTrainerCallback(backends)
    args = hf_args(tmp_path, max_steps=2, logging_steps=1, save_strategy="steps", save_steps=2)
    Trainer(model=tiny_gpt2(), args=args, train_dataset=Sequences(16), callbacks=[first]).train()
    first.close()
    checkpoint = tmp_path / "out" / "checkpoint-2"
    runs = json.loads((checkpoint / "tracker_runs.json").read_text())
    assert set(runs) == {"WandbBackend", "MlflowBackend"}
    second = HFTrainerCallback(backends)  # a new Trainer, as in a new process
    args = hf_args(tmp_path, max_steps=4, logging_steps=1, save_strategy="no")
    trainer = Trainer(model=tiny_gpt2(), args=args, train_dataset=Sequences(16), callbacks=[second])
    trainer.train(resume_from_checkpoint=str(checkpoint))
    second.close()
    wandb.teardown()
    client = MlflowClient(runs["MlflowBackend"]["tracking_uri"])
    (run,) = client.search_runs([client.get_experiment_by_name("hf").experiment_id])
    assert run.info.run_id == runs["MlflowBackend"]["run_id"] and run.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")]
    assert sorted(steps) == [1, 2, 3, 4]
    # offline, W&B writes one folder per process under the run's id; `wandb sync` joins them
    written = [WandbRun(path) for path in (tmp_path / "out").rglob("run-*.wandb")]
    assert [w.run_id for w in written] == [runs["WandbBackend"]["id"]] * 2
    steps = sorted([row["_step"] for row in w.rows_with("train/loss")] for w in written)
    assert steps == [[1, 2], [3, 4]]
