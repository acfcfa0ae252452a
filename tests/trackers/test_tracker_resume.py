"""A run resumed from a checkpoint continues the same tracker run, with its steps going on.

The first run trains 2 epochs (5 iterations each, a checkpoint per epoch);
the second resumes it with ``resume=True`` and trains a third. With Lightning,
the first ``fit`` trains 1 epoch and the second resumes its ``.ckpt`` to 2.
Each tracker is read back with its own reader.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import wandb
from lightning_parts import Regression, loaders
from mlflow import MlflowClient
from trackers_parts import (
    WandbRun,
    lightning_trainer,
    neptune_run_operations,
    neptune_series,
    train_records,
    train_then_resume,
    wandb_records,
)

from hooks_logging import LightningLogger, MlflowBackend, NeptuneBackend

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)


def test_mlflow_resumed_run_continues_the_same_run_in_its_store(tmp_path: Path) -> None:
    first, second = train_then_resume(tmp_path, [dict(type="mlflow", exp_name="resume")])
    checkpoint = torch.load(Path(first.work_dir) / "epoch_2.pth", weights_only=True)
    (state,) = checkpoint["meta"]["tracker_runs"].values()
    store = f"sqlite:///{Path(first.log_dir) / 'vis_data' / 'mlflow.db'}"
    assert state["tracking_uri"] == store
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("resume").experiment_id])
    assert run.info.run_id == state["run_id"] and run.info.status == "FINISHED"
    steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "loss"))
    logged = [r["step"] for r in train_records(first)] + [r["step"] for r in train_records(second)]
    assert steps == logged == [2, 4, 7, 9, 12, 14]
    assert not (Path(second.log_dir) / "vis_data" / "mlflow.db").exists()  # no second store


def test_mlflow_backend_reopens_a_run_and_keeps_its_params(tmp_path: Path) -> None:
    with MlflowBackend(tmp_path / "s", params={"lr": 0.1}) as backend:
        backend.log_scalars({"loss": 1.0}, 1)
    state = backend.run_state()
    again = MlflowBackend(**MlflowBackend.resume_config({}, state), params={"lr": 0.1})
    client = MlflowClient(again.tracking_uri)
    assert client.get_run(again.run_id).info.status == "RUNNING"
    again.log_scalars({"loss": 0.5}, 2)
    again.log_config({"lr": 0.2})  # a param logged before is kept, never a crash
    again.close()
    run = client.get_run(backend.run_id)
    assert run.info.status == "FINISHED" and run.data.params == {"lr": "0.1"}
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss")] == [
        (1, 1.0), (2, 0.5)]  # fmt: skip
    with pytest.raises(ValueError, match="has no such run"):
        MlflowBackend(tmp_path / "other", run_id=backend.run_id)


def test_wandb_resumed_run_keeps_the_run_id_and_steps_go_on(tmp_path: Path) -> None:
    first, second = train_then_resume(tmp_path, [dict(type="wandb", init_kwargs=dict(project="p"))])
    wandb.teardown()
    files = [next((Path(r.log_dir) / "vis_data").rglob("run-*.wandb")) for r in (first, second)]
    ids = {next(rec.run.run_id for rec in wandb_records(f) if rec.HasField("run")) for f in files}
    assert len(ids) == 1  # one run, written by two processes: `wandb sync` joins them
    steps = [[row["_step"] for row in WandbRun(f).rows_with("loss")] for f in files]
    assert steps == [[2, 4, 7, 9], [12, 14]]


def test_neptune_offline_cannot_continue_a_run_so_a_resumed_run_is_a_second_one(
    tmp_path: Path,
) -> None:
    lean = dict(source_files=[], git_ref=False)  # no files of the test process, no git call
    first, _ = train_then_resume(tmp_path, [dict(type="neptune", init_kwargs=lean)])
    checkpoint = torch.load(Path(first.work_dir) / "epoch_2.pth", weights_only=True)
    assert "tracker_runs" not in checkpoint["meta"]  # offline, there is no run to name
    folders = sorted(
        (tmp_path / "neptune" / "offline").iterdir(),
        key=lambda folder: json.loads((folder / "metadata.json").read_text())["createdAt"],
    )
    ids = {json.loads((folder / "metadata.json").read_text())["containerId"] for folder in folders}
    assert len(folders) == len(ids) == 2  # `neptune sync` registers each as a new run
    losses = [neptune_series(neptune_run_operations(folder), "loss") for folder in folders]
    steps = [[step for step, _ in series] for series in losses]
    assert steps == [[2, 4, 7, 9], [12, 14]]
    from neptune.exceptions import RunNotFound  # imported by the backend, its noise silenced

    with pytest.raises(RunNotFound, match="No existing Run was found"):  # what with_id gets
        NeptuneBackend(init_kwargs=dict(with_id="OFFLINE-1", **lean))


# Lightning's warning when a resumed fit saves into the checkpoints/ folder of the same version.
SAME_CHECKPOINT_DIR = pytest.mark.filterwarnings(
    "ignore:Checkpoint directory .* exists and is not empty:UserWarning"
)


def fit_then_resume(tmp_path: Path, backends: list[Any]) -> tuple[Any, Any]:
    """Lightning: 1 epoch saving a ``.ckpt``, then a new trainer and logger of the same
    version fitting from it to 2 epochs; both loggers closed."""
    torch.manual_seed(0)
    first = LightningLogger(backends, save_dir=tmp_path / "logs")
    trainer = lightning_trainer(first, tmp_path, enable_checkpointing=True)
    trainer.fit(Regression(), *loaders())
    first.close()
    (ckpt,) = (Path(first.log_dir) / "checkpoints").glob("*.ckpt")
    second = LightningLogger(backends, save_dir=tmp_path / "logs", version=first.version)
    trainer = lightning_trainer(second, tmp_path, max_epochs=2, enable_checkpointing=True)
    trainer.fit(Regression(), *loaders(), ckpt_path=ckpt)
    second.close()
    assert trainer.global_step == 8  # 4 batches an epoch, the first epoch restored
    return first, second


@SAME_CHECKPOINT_DIR
def test_lightning_fit_from_ckpt_path_continues_the_mlflow_run(tmp_path: Path) -> None:
    first, second = fit_then_resume(tmp_path, [dict(type="mlflow", exp_name="resume")])
    assert second.log_dir == first.log_dir
    recorded = json.loads((Path(first.log_dir) / "tracker_runs.json").read_text())
    (backend,) = second.backends
    assert recorded == {"MlflowBackend": backend.run_state()}
    client = MlflowClient(backend.tracking_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("resume").experiment_id])
    assert run.info.run_id == first.backends[0].run_id == backend.run_id
    assert run.info.status == "FINISHED" and run.data.params == {"lr": "0.05"}
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")]
    assert sorted(steps) == list(range(8))
    val_steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")]
    assert sorted(val_steps) == [3, 7]  # an epoch each: before and after the resume


@SAME_CHECKPOINT_DIR
def test_lightning_fit_from_ckpt_path_keeps_the_wandb_run_id(tmp_path: Path) -> None:
    first, second = fit_then_resume(tmp_path, [dict(type="wandb", init_kwargs=dict(project="p"))])
    wandb.teardown()
    files = sorted(Path(first.log_dir).rglob("run-*.wandb"), key=lambda f: f.stat().st_mtime)
    ids = [next(rec.run.run_id for rec in wandb_records(f) if rec.HasField("run")) for f in files]
    assert len(files) == 2 and ids[0] == ids[1] == second.backends[0].run_state()["id"]
    steps = [[row["_step"] for row in WandbRun(f).rows_with("train_loss")] for f in files]
    assert steps == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_a_new_lightning_version_starts_new_tracker_runs(tmp_path: Path) -> None:
    backends = [dict(type="mlflow", exp_name="fresh", tracking_uri=f"sqlite:///{tmp_path}/m.db")]
    for _ in range(2):
        logger = LightningLogger(backends, save_dir=tmp_path / "logs")
        logger.log_metrics({"loss": 1.0}, step=0)
        logger.close()
    client = MlflowClient(f"sqlite:///{tmp_path}/m.db")
    runs = client.search_runs([client.get_experiment_by_name("fresh").experiment_id])
    assert len(runs) == 2 and logger.version == 1
