"""`MlflowBackend` and `MlflowLoggerHook` against the real mlflow: a local sqlite store, and a real
``mlflow server`` on 127.0.0.1 that is killed mid-run while training goes on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from mlflow import MlflowClient
from ports import free_port
from trackers_parts import (
    artifact_paths,
    json_records,
    toy_run,
    train_records,
    val_records,
)

from hooks_core import Hook
from hooks_logging import LoggerHook, MlflowBackend

if TYPE_CHECKING:
    from collections.abc import Iterator


# SQLAlchemy 2.1 deprecates a loader option that MLflow's sqlite store still uses (mlflow 3.17).


def history(client: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def only_run(client: Any, exp_name: str) -> Any:
    experiment = client.get_experiment_by_name(exp_name)
    (run,) = client.search_runs([experiment.experiment_id])
    return run


# ------------------------------------------------------------ local sqlite store
def test_default_store_is_sqlite_in_save_dir_with_batched_metrics_params_and_files(
    tmp_path: Path,
) -> None:
    save_dir = tmp_path / "log" / "vis_data"
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "run.log").write_text("a line\n")
    config = {
        "model": {"type": "Toy", "layers": [4, 8, 1]},
        "optim": {"lr": 0.05, "betas": (0.9, 0.99)},
        "note": "x" * 5000,  # longer than MLflow accepts on older servers
        "many": {f"k{i}": i for i in range(150)},  # more than one request of 100 params
        "weird key@[0]": 1,  # characters MLflow rejects
    }
    with MlflowBackend(save_dir, exp_name="exp", run_name="r1", tags={"team": "x"},
                       params={"seed": 7}) as backend:  # fmt: skip
        backend.log_config(config)
        backend.log_config({"seed": 8})  # a changed param is kept as it was, never a crash
        for step in range(1, 2501):  # 5000 points: several batches of 1000
            backend.log_scalars({"train/loss": 1 / step, "lr": 0.1}, step)
        backend.log_scalars({"acc@top1": 0.5, "nan": float("nan")}, 2500)
        backend.log_image("sample", np.zeros((4, 5, 3), np.uint8), 3)
        backend.log_text("notes", "hello", 3)
        run_id = backend.run_id
    assert (save_dir / "mlflow.db").is_file()
    assert not (tmp_path / "mlruns").exists()  # nothing in the current directory
    client = MlflowClient(f"sqlite:///{save_dir}/mlflow.db")
    run = client.get_run(run_id)
    assert (run.info.status, run.info.run_name, run.data.tags["team"]) == ("FINISHED", "r1", "x")
    loss = history(client, run_id, "train/loss")
    assert loss == [(step, 1 / step) for step in range(1, 2501)]  # exact float64
    assert len(history(client, run_id, "lr")) == 2500
    assert run.data.metrics["acc_top1"] == 0.5
    params = run.data.params
    assert params["seed"] == "7"
    assert params["model.type"] == "Toy" and params["model.layers"] == "[4, 8, 1]"
    assert params["optim.betas"] == "[0.9, 0.99]"
    assert len(params["note"]) == 500 and params["note"].endswith("...")
    assert params["many.k149"] == "149" and params["weird key__0_"] == "1"
    assert run.info.artifact_uri.startswith(f"file://{save_dir}/mlartifacts")
    assert artifact_paths(client, run_id) == [
        "config.json", "images/sample_3.png", "logs/run.log", "text/notes_3.txt",
    ]  # fmt: skip


def test_a_run_with_nothing_logged_still_ends(tmp_path: Path) -> None:
    backend = MlflowBackend(tmp_path / "s")
    backend.close()
    client = MlflowClient(f"sqlite:///{tmp_path}/s/mlflow.db")
    run = only_run(client, "hooks-logging")
    assert run.info.status == "FINISHED" and run.data.metrics == {}


def test_mmcv_mlflow_logger_hook_run_matches_the_json_log(tmp_path: Path) -> None:
    hook = {"type": "MlflowLoggerHook", "exp_name": "toy", "params": {"depth": 2}}
    runner = toy_run(tmp_path, hook)
    runner.train()
    db = Path(runner.log_dir) / "vis_data" / "mlflow.db"
    client = MlflowClient(f"sqlite:///{db}")
    run = only_run(client, "toy")
    train, val = train_records(runner), val_records(runner)
    assert history(client, run.info.run_id, "loss") == [(r["step"], r["loss"]) for r in train]
    assert history(client, run.info.run_id, "mse") == [(r["step"], r["mse"]) for r in val]
    assert [r["step"] for r in val] == [5, 10, 15]  # MMCV logs at iterations
    assert run.data.params["depth"] == "2" and run.data.params["api_key"] == "******"
    files = artifact_paths(client, run.info.run_id)
    assert "checkpoints/epoch_3.pth" in files  # log_model=True: the checkpoints
    assert f"logs/{runner.timestamp}.log" in files and "logs/vis_data/scalars.json" in files


# ------------------------------------------------------------ a real tracking server
class Server:
    """``mlflow server`` on 127.0.0.1 with one worker and no job runner (backends.md §4.4)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.db = root / "server.db"
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        mlflow = Path(sys.executable).parent / "mlflow"
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.log = (root / "server.log").open("w")
        self.process = subprocess.Popen(
            [str(mlflow), "server", "--host", "127.0.0.1", "--port", port, "--workers", "1",
             "--backend-store-uri", f"sqlite:///{self.db}",
             "--artifacts-destination", str(root / "artifacts")],
            cwd=root, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        try:
            self._wait_until_ready(root / "server.log")
        except BaseException:
            self.stop()  # a server that failed to start must not outlive the test
            raise

    def _wait_until_ready(self, log: Path) -> None:
        deadline = time.monotonic() + 120  # it is ready in about 5 s; much later on a loaded VM
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(log.read_text())
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as answer:
                    if answer.read() == b"OK":
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"mlflow server did not start in 120 s:\n{log.read_text()}")

    def kill(self) -> None:
        """SIGTERM to its PID (its uvicorn worker goes with it; SIGKILL would orphan that)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(30)

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        self.kill()
        self.log.close()


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail fast once it is gone
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    started = Server(tmp_path / "server")
    try:
        yield started
    finally:
        started.stop()


class KillServer(Hook):
    """Kill the server by its PID after iteration `at`, once the logger delivered what it had."""

    priority = "VERY_LOW"  # after the logger hook queued the record of this iteration

    def __init__(self, server: Server, at: int) -> None:
        self.server, self.at = server, at

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:  # fmt: skip
        if runner.iter + 1 == self.at:
            logger = next(hook for hook in runner.hooks if isinstance(hook, LoggerHook))
            assert logger.drain(60)
            self.server.kill()


def test_server_run_read_back_then_killed_mid_run_while_training_goes_on(
    tmp_path: Path, server: Server
) -> None:
    backend = {"type": "mlflow", "tracking_uri": server.url, "exp_name": "remote"}
    first = toy_run(tmp_path / "first", {"backends": [backend]})
    first.train()
    client = MlflowClient(server.url)
    run = only_run(client, "remote")
    assert run.info.status == "FINISHED"
    train = train_records(first)
    assert history(client, run.info.run_id, "loss") == [(r["step"], r["loss"]) for r in train]
    assert history(client, run.info.run_id, "mse") == [
        (r["step"], r["mse"]) for r in val_records(first)
    ]  # epochs 1..3: each metric has its own steps
    assert "logs/vis_data/scalars.json" in artifact_paths(client, run.info.run_id)

    backend = {"type": "mlflow", "tracking_uri": server.url, "exp_name": "killed",
               "flush_interval": 3600.0}  # fmt: skip  # sent only at the logger hook's flushes
    second = toy_run(
        tmp_path / "second",
        {"backends": [backend], "close_timeout": 30.0, "retry_delay": 0.01},
        custom_hooks=[KillServer(server, at=8)],
    )
    second.train()  # the server is gone from iteration 8 on; training is not stopped
    assert second.iter == 15 and not server.answers()
    records = json_records(second)  # the JSON log has every record
    assert [r["step"] for r in records if "loss" in r] == [2, 4, 7, 9, 12, 14]
    assert [r["step"] for r in records if "mse" in r] == [1, 2, 3]
    log = (Path(second.log_dir) / f"{second.timestamp}.log").read_text()
    assert "MlflowBackend failed in" in log and "not delivered" in log
    # what the server stored before it went: epoch 1, flushed at its end (iteration 7 was buffered)
    stored = MlflowClient(f"sqlite:///{server.db}")
    killed = only_run(stored, "killed")
    assert killed.info.status == "RUNNING"  # it could not be ended
    run_id = killed.info.run_id
    assert history(stored, run_id, "loss") == [(r["step"], r["loss"]) for r in records[:2]]
    assert history(stored, run_id, "mse") == [(1, records[2]["mse"])]
