"""Checkpoints as tracker artifacts (``log_model``, as Lightning's loggers): the runner's,
Lightning's ``.ckpt`` files and the Hugging Face Trainer's ``checkpoint-N`` folders.

Each case trains for real with the real ``CheckpointHook`` (or the framework's own
checkpointing) and reads the artifacts back with the tracker's reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
import wandb
from lightning_parts import Regression, loaders
from mlflow import MlflowClient
from trackers_parts import (
    Sequences,
    WandbRun,
    artifact_paths,
    lightning_trainer,
    neptune_operations,
    toy_run,
    wandb_run_file,
)
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

from hooks_logging import HFTrainerCallback, LightningLogger, MlflowBackend


def runner_with_best(tmp_path: Path, backends: list[Any]) -> Any:
    """The toy run (3 epochs, validation each) with MMEngine's best-checkpoint logic on mse."""
    return toy_run(
        tmp_path,
        {},
        default_hooks={
            "logger": {"type": "LoggerHook", "interval": 2, "backends": backends},
            "checkpoint": {"type": "CheckpointHook", "interval": 1, "save_best": "mse",
                           "rule": "less"},
        },
    )  # fmt: skip


def test_runner_checkpoints_go_to_wandb_as_saved_and_to_mlflow_at_the_end(tmp_path: Path) -> None:
    runner = runner_with_best(tmp_path, [
        dict(type="wandb", init_kwargs=dict(project="p"), log_model="all"),
        dict(type="mlflow", exp_name="m", log_model=True),
    ])  # fmt: skip
    runner.train()
    wandb.teardown()
    work = Path(runner.work_dir)
    saved = sorted(p.name for p in work.glob("*.pth"))
    (best,) = [name for name in saved if name.startswith("best_mse_")]
    assert sorted(set(saved) - {best}) == ["epoch_1.pth", "epoch_2.pth", "epoch_3.pth"]
    vis_data = Path(runner.log_dir) / "vis_data"
    versions = WandbRun(wandb_run_file(vis_data)).artifact_versions
    models = [(paths, aliases) for name, paths, aliases in versions if name.startswith("model-")]
    uploaded = {paths[0]: aliases for paths, aliases in models}
    assert len(models) == len(uploaded) == 4  # each checkpoint once, as it was saved
    assert "best" in uploaded[best] and uploaded["epoch_3.pth"] == ["latest"]
    assert uploaded["epoch_1.pth"] == ["latest"]
    store = f"sqlite:///{vis_data / 'mlflow.db'}"
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("m").experiment_id])
    files = artifact_paths(client, run.info.run_id, "checkpoints")
    assert files == sorted([f"checkpoints/{best}", "checkpoints/epoch_3.pth"])  # True: at the end
    assert run.data.tags["checkpoint_latest"] == "checkpoints/epoch_3.pth"
    assert run.data.tags["checkpoint_best"] == f"checkpoints/{best}"


def test_runner_checkpoints_go_to_neptune_under_lightnings_layout(tmp_path: Path) -> None:
    lean = dict(source_files=[], git_ref=False)
    runner = runner_with_best(tmp_path, [dict(type="neptune", init_kwargs=lean, log_model=True)])
    runner.train()
    operations = neptune_operations(tmp_path / "neptune")
    uploads = {"/".join(op["path"]): op for op in operations if op["type"] == "UploadFile"}
    assert sorted(uploads) == sorted(
        [
            "model/checkpoints/epoch_3",
            f"model/checkpoints/{Path(runner.message_hub.get_info('best_ckpt')).stem}",
        ]
    )
    assigned = {"/".join(op["path"]): op["value"] for op in operations
                if op["type"] == "AssignString" and op["path"][0] == "model"}  # fmt: skip
    assert assigned == {
        "model/latest_model_path": str(Path(runner.work_dir) / "epoch_3.pth"),
        "model/best_model_path": runner.message_hub.get_info("best_ckpt"),
    }


def test_no_log_model_uploads_nothing_and_a_bad_value_is_named(tmp_path: Path) -> None:
    runner = runner_with_best(tmp_path, [dict(type="mlflow", exp_name="m")])
    runner.train()
    assert list(Path(runner.work_dir).glob("*.pth"))  # checkpoints were saved
    store = f"sqlite:///{Path(runner.log_dir) / 'vis_data' / 'mlflow.db'}"
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("m").experiment_id])
    assert artifact_paths(client, run.info.run_id, "checkpoints") == []
    assert not [tag for tag in run.data.tags if tag.startswith("checkpoint_")]
    with pytest.raises(ValueError, match=r"log_model='best'.*False.*True.*'all'"):
        MlflowBackend(tmp_path / "s", log_model="best")


def test_lightning_ckpt_files_go_to_mlflow_as_they_are_saved(tmp_path: Path) -> None:
    torch.manual_seed(0)
    logger = LightningLogger([dict(type="mlflow", exp_name="l", log_model="all")],
                             save_dir=tmp_path / "logs")  # fmt: skip
    saver = pl.callbacks.ModelCheckpoint(save_top_k=-1)  # one file per epoch, all kept
    trainer = lightning_trainer(logger, tmp_path, max_epochs=2, callbacks=[saver],
                                enable_checkpointing=True)  # fmt: skip
    trainer.fit(Regression(), *loaders())
    logger.close()
    (backend,) = logger.backends
    files = artifact_paths(MlflowClient(backend.tracking_uri), backend.run_id, "checkpoints")
    assert files == ["checkpoints/epoch=0-step=4.ckpt", "checkpoints/epoch=1-step=8.ckpt"]
    tags = MlflowClient(backend.tracking_uri).get_run(backend.run_id).data.tags
    assert tags["checkpoint_latest"] == "checkpoints/epoch=1-step=8.ckpt"


def test_hf_checkpoint_folders_go_to_wandb_with_latest_and_best(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=32, n_positions=8, n_embd=16, n_layer=1,
                                       n_head=2))  # fmt: skip
    callback = HFTrainerCallback(
        [dict(type="wandb", init_kwargs=dict(project="hf"), log_model="all")]
    )
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=4, logging_steps=2, eval_strategy="steps",
        eval_steps=2, save_strategy="steps", save_steps=2, load_best_model_at_end=True,
        per_device_train_batch_size=4, per_device_eval_batch_size=4, learning_rate=1e-3,
        report_to="none", use_cpu=True, disable_tqdm=True, seed=0,
    )  # fmt: skip
    trainer = Trainer(model=model, args=args, train_dataset=Sequences(16),
                      eval_dataset=Sequences(8), callbacks=[callback])  # fmt: skip
    trainer.train()
    callback.close()
    wandb.teardown()
    run = WandbRun(wandb_run_file(tmp_path / "out" / "hooks_logging"))
    models = [(paths, aliases) for name, paths, aliases in run.artifact_versions
              if name.startswith("model-")]  # fmt: skip
    folders = [sorted({path.split("/")[0] for path in paths}) for paths, _ in models]
    assert folders == [["checkpoint-2"], ["checkpoint-4"]]
    assert all(any(p.endswith("model.safetensors") for p in paths) for paths, _ in models)
    best = Path(trainer.state.best_model_checkpoint).name
    aliases = {folder[0]: names for folder, (_, names) in zip(folders, models, strict=True)}
    assert "latest" in aliases["checkpoint-4"] and "best" in aliases[best]
