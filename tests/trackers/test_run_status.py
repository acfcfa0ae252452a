"""How a run ended, as each tracker shows it: finished, failed (an error), killed (SIGTERM, Ctrl-C).

Each case trains for real and reads the status back with the tracker's own
reader: MLflow's client, W&B's run file, Neptune's offline op log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
import wandb
from mlflow import MlflowClient
from torch.utils.data import DataLoader, TensorDataset
from toy import FailAfter, StopAfter
from trackers_parts import (
    WandbRun,
    lightning_trainer,
    neptune_operations,
    toy_run,
    wandb_run_file,
)

from hooks_core import TrainingInterrupted
from hooks_logging import LightningLogger, MlflowBackend

MLFLOW = dict(type="mlflow", exp_name="status")


def mlflow_status(runner: Any) -> tuple[str, list[int]]:
    """The status of the runner's only MLflow run, and the steps of its loss."""
    client = MlflowClient(f"sqlite:///{Path(runner.log_dir) / 'vis_data' / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("status").experiment_id])
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "loss")]
    return run.info.status, sorted(steps)


def test_mlflow_run_of_an_error_is_failed_with_what_was_logged(tmp_path: Path) -> None:
    runner = toy_run(
        tmp_path, {"backends": [MLFLOW]}, custom_hooks=[FailAfter(6, ValueError("loss is NaN"))]
    )
    with pytest.raises(ValueError, match="loss is NaN"):
        runner.train()
    assert mlflow_status(runner) == ("FAILED", [2, 4])  # logged every 2 iterations until 6


def test_mlflow_run_stopped_by_sigterm_is_killed(tmp_path: Path) -> None:
    runner = toy_run(tmp_path, {"backends": [MLFLOW]}, custom_hooks=[StopAfter(5)])
    with pytest.raises(TrainingInterrupted):
        runner.train()
    assert mlflow_status(runner) == ("KILLED", [2, 4])


def test_mlflow_run_of_ctrl_c_is_killed_and_a_full_run_finished(tmp_path: Path) -> None:
    stopped = toy_run(tmp_path / "a", {"backends": [MLFLOW]},
                      custom_hooks=[FailAfter(3, KeyboardInterrupt())])  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        stopped.train()
    assert mlflow_status(stopped) == ("KILLED", [2])
    full = toy_run(tmp_path / "b", {"backends": [MLFLOW]})
    full.train()
    assert mlflow_status(full)[0] == "FINISHED"


def test_backend_left_by_an_exception_is_failed_and_status_is_checked(tmp_path: Path) -> None:
    backend = MlflowBackend(tmp_path / "s")

    def diverge() -> None:
        with backend:
            backend.log_scalars({"loss": 1.0}, 1)
            raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        diverge()
    client = MlflowClient(backend.tracking_uri)
    assert client.get_run(backend.run_id).info.status == "FAILED"
    other = MlflowBackend(tmp_path / "t")
    assert other.experiment is other.client  # the tracker's own object, as Lightning names it
    with pytest.raises(ValueError, match=r"'crashed'.*finished, failed, killed"):
        other.close("crashed")
    other.close("killed")
    assert MlflowClient(other.tracking_uri).get_run(other.run_id).info.status == "KILLED"


def test_wandb_run_of_an_error_exits_non_zero(tmp_path: Path) -> None:
    runner = toy_run(
        tmp_path,
        {"backends": [dict(type="wandb", init_kwargs=dict(project="p"))]},
        custom_hooks=[FailAfter(6, ValueError("loss is NaN"))],
    )
    with pytest.raises(ValueError, match="loss is NaN"):
        runner.train()
    wandb.teardown()  # wandb-core writes the end of the file only then
    run = WandbRun(wandb_run_file(Path(runner.log_dir) / "vis_data"))
    assert run.exit_code == 1
    assert [row["_step"] for row in run.rows_with("loss")] == [2, 4]


def test_neptune_run_of_an_error_is_marked_failed_and_tagged(tmp_path: Path) -> None:
    lean = dict(source_files=[], git_ref=False)
    runner = toy_run(
        tmp_path,
        {"backends": [dict(type="neptune", init_kwargs=lean)]},
        custom_hooks=[FailAfter(6, ValueError("loss is NaN"))],
    )
    with pytest.raises(ValueError, match="loss is NaN"):
        runner.train()
    operations = neptune_operations(tmp_path / "neptune")
    failed = [op["value"] for op in operations if op["path"] == ["sys", "failed"]]
    tags = [op["values"] for op in operations if op["path"] == ["sys", "tags"]]
    assert failed == [False, True] and tags == [["failed"]]  # Neptune's own False at the start


def test_neptune_run_that_finished_is_not_marked(tmp_path: Path) -> None:
    lean = dict(source_files=[], git_ref=False)
    runner = toy_run(tmp_path, {"backends": [dict(type="neptune", init_kwargs=lean)]})
    runner.train()
    operations = neptune_operations(tmp_path / "neptune")
    assert [op["value"] for op in operations if op["path"] == ["sys", "failed"]] == [False]
    assert not [op for op in operations if op["path"] == ["sys", "tags"]]


class Exploding(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(3, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if batch_idx == 2:
            raise FloatingPointError("loss is NaN")
        loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05)


def test_lightning_fit_that_raises_ends_the_mlflow_run_failed(tmp_path: Path) -> None:
    torch.manual_seed(0)
    logger = LightningLogger([dict(type="mlflow", exp_name="lightning")], save_dir=tmp_path / "l")
    trainer = lightning_trainer(logger, tmp_path)
    data = TensorDataset(torch.randn(32, 3), torch.randn(32, 1))
    with pytest.raises(FloatingPointError):
        trainer.fit(Exploding(), DataLoader(data, batch_size=8))
    (backend,) = logger.backends
    client = MlflowClient(backend.tracking_uri)
    run = client.get_run(backend.run_id)
    assert run.info.status == "FAILED"
    assert [m.step for m in client.get_metric_history(backend.run_id, "train_loss")] == [0, 1]


def test_backends_of_one_run_upload_only_the_runs_own_logs(tmp_path: Path) -> None:
    """W&B's run folder (its debug and output logs), MLflow's store and DVCLive's files hold
    ``.log``, ``.json`` and ``.yaml`` files too: no tracker uploads another's as the run's logs."""
    runner = toy_run(
        tmp_path,
        {"backends": [dict(type="wandb", init_kwargs=dict(project="p")), MLFLOW, "dvclive"]},
    )
    runner.train()
    wandb.teardown()
    vis_data = Path(runner.log_dir) / "vis_data"
    assert list((vis_data / "wandb").rglob("*.log"))  # W&B's own logs are there to be picked up
    live = vis_data / "dvclive"  # DVCLive's metrics.json and params.yaml, in its own folder
    assert (live / "metrics.json").is_file() and (live / "params.yaml").is_file()
    stamp = Path(runner.log_dir).name
    ours = [f"{stamp}.log", *(f"vis_data/{name}" for name in (
        f"{stamp}.json", "config.json", "config.py", "scalars.json"))]  # fmt: skip
    (uploaded,) = WandbRun(wandb_run_file(vis_data)).artifacts.values()
    assert uploaded == ours
    client = MlflowClient(f"sqlite:///{vis_data / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("status").experiment_id])
    logs = [info.path for info in client.list_artifacts(run.info.run_id, "logs")]
    assert logs == [f"logs/{stamp}.log", "logs/vis_data"]
    inner = [info.path for info in client.list_artifacts(run.info.run_id, "logs/vis_data")]
    assert inner == [f"logs/{path}" for path in ours[1:]]
