"""`DvcliveBackend` and `DvcliveLoggerHook` against the real dvclive, read back from its files."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image
from trackers_parts import toy_run, train_records, val_records

from hooks_core import LOG_BACKENDS
from hooks_logging import DvcliveBackend


def tsv(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file, delimiter="\t"))


def test_backend_files_read_back_and_no_dvc_in_the_git_repository_around(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo)  # DVCLive would `dvc init` here and `git add` its files
    backend = LOG_BACKENDS.build(dict(type="dvclive", save_dir=str(repo / "out" / "vis_data")))
    save_dir = repo / "out" / "vis_data" / "dvclive"
    assert isinstance(backend, DvcliveBackend)
    with backend:
        backend.log_config({"lr": 0.1, "model": {"type": "Toy"}})
        backend.log_scalars({"train/loss": 1.0, "lr": 0.1}, 2)
        backend.log_scalars({"train/loss": 0.5, "lr": 0.05}, 4)
        backend.log_scalars({"val/mse": 0.25}, 1)
        backend.log_image("sample", np.zeros((2, 3)), 4)
    rows = tsv(save_dir / "plots" / "metrics" / "train" / "loss.tsv")
    assert [(int(r["step"]), float(r["loss"])) for r in rows] == [(2, 1.0), (4, 0.5)]
    assert [r["mse"] for r in tsv(save_dir / "plots" / "metrics" / "val" / "mse.tsv")] == ["0.25"]
    summary = json.loads((save_dir / "metrics.json").read_text())
    assert summary["train"]["loss"] == 0.5 and summary["val"]["mse"] == 0.25
    assert yaml.safe_load((save_dir / "params.yaml").read_text()) == {
        "lr": 0.1, "model": {"type": "Toy"}
    }  # fmt: skip
    with Image.open(save_dir / "plots" / "images" / "sample_4.png") as image:
        assert image.size == (3, 2)
    assert not (repo / ".dvc").exists() and not (repo / "dvc.yaml").exists()
    status = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True)
    assert status.stdout.splitlines() == ["?? out/"]


def test_mmcv_dvclive_logger_hook_run_matches_the_json_log(tmp_path: Path) -> None:
    model_file = tmp_path / "models" / "latest.pth"
    runner = toy_run(tmp_path, {"type": "DvcliveLoggerHook", "model_file": str(model_file)})
    runner.train()
    live = Path(runner.log_dir) / "vis_data" / "dvclive"
    metrics = live / "plots" / "metrics"
    train, val = train_records(runner), val_records(runner)
    assert [(int(r["step"]), float(r["loss"])) for r in tsv(metrics / "loss.tsv")] == [
        (r["step"], pytest.approx(r["loss"], rel=1e-12)) for r in train
    ]
    assert [int(r["step"]) for r in tsv(metrics / "mse.tsv")] == [r["step"] for r in val]
    assert [r["step"] for r in val] == [5, 10, 15]  # MMCV logs at iterations
    assert model_file.is_file()  # saved after every epoch
    params = yaml.safe_load((live / "params.yaml").read_text())
    assert params["train_cfg"]["max_epochs"] == 3 and params["api_key"] == "******"
