"""A run resumed from a checkpoint continues the same tracker run, with its steps going on.

The first run trains 2 epochs (5 iterations each, a checkpoint per epoch);
the second resumes it with ``resume=True`` and trains a third. Each tracker is
read back with its own reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import wandb
from mlflow import MlflowClient
from trackers_parts import (
    WandbRun,
    isolate,
    toy_run,
    train_records,
    wandb_records,
)

from hooks_logging import MlflowBackend

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)


@pytest.fixture(autouse=True)
def _offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)


def train_then_resume(tmp_path: Path, backends: list[Any]) -> tuple[Any, Any]:
    """The first run (2 epochs) and the resumed one (to 3), both trained."""
    first = toy_run(tmp_path, {"backends": backends},
                    train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1))  # fmt: skip
    first.train()
    second = toy_run(tmp_path, {"backends": backends}, resume=True,
                     load_from=str(Path(first.work_dir) / "epoch_2.pth"))  # fmt: skip
    assert second.resume_meta is not None and second.resume_meta["epoch"] == 2
    second.train()
    return first, second


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
