"""`WandbBackend` and `WandbLoggerHook` with the real wandb, offline, read back from its file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import wandb
from trackers_parts import WandbRun, toy_run, train_records, val_records, wandb_run_file

from hooks_core import LOG_BACKENDS
from hooks_logging import WandbBackend


def finished_run(root: Path) -> WandbRun:
    wandb.teardown()  # wandb-core writes the end of the file only then (backends.md §3.5)
    return WandbRun(wandb_run_file(root))


def test_backend_logs_config_scalars_images_text_and_an_artifact(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    (log_dir / "vis_data").mkdir(parents=True)
    (log_dir / "20260101_000000.log").write_text("a line\n")
    (log_dir / "vis_data" / "scalars.json").write_text('{"loss": 1.0, "step": 2}\n')
    backend = LOG_BACKENDS.build(
        dict(type="wandb", save_dir=str(log_dir / "vis_data"),
             init_kwargs=dict(project="hooks", name="r1", tags=["t"]),
             define_metric_cfg={"mse": "min"})
    )  # fmt: skip
    assert isinstance(backend, WandbBackend)
    assert backend.experiment is backend.run
    with backend:
        backend.log_config({"lr": 0.1, "model": {"type": "Toy", "depth": 2}, "obj": object})
        backend.define_step_axes({"loss": "iter"})
        backend.log_scalars({"loss": 1.0, "iter": 2, "epoch": 1}, 2)
        backend.log_scalars({"loss": 0.5, "iter": 4, "epoch": 1}, 4)
        backend.define_step_axes({"mse": "epoch"})
        backend.log_scalars({"mse": 0.25, "epoch": 1}, 1)  # a lower step: never dropped
        backend.log_image("sample", np.full((3, 4, 4), 0.5), 4)
        backend.log_text("note", "hello", 4)
    run = finished_run(log_dir / "vis_data")  # W&B's files go under save_dir
    assert run.exit_code == 0
    assert run.config["lr"] == 0.1
    assert run.config["model"] == {"type": "Toy", "depth": 2}
    assert run.config["obj"] == "<class 'object'>"
    assert run.step_metrics == {"loss": "iter", "mse": "epoch"}
    assert [(row["_step"], row["loss"]) for row in run.rows_with("loss")] == [(2, 1), (4, 0.5)]
    (val_row,) = run.rows_with("mse")
    assert (val_row["mse"], val_row["epoch"], val_row["_step"]) == (0.25, 1, 4)
    (image_row,) = run.rows_with("sample/_type")
    assert (image_row["sample/_type"], image_row["sample/width"]) == ("image-file", 4)
    assert (tmp_path / "log" / "vis_data" / "wandb").is_dir()
    assert list((log_dir / "vis_data").rglob("media/images/sample_*.png"))
    assert run.rows_with("note")[0]["note"] == "hello"
    (artifact,) = run.artifacts.values()
    assert artifact == ["20260101_000000.log", "vis_data/scalars.json"]  # not W&B's own logs


def test_logger_hook_run_matches_the_json_log(tmp_path: Path) -> None:
    runner = toy_run(tmp_path, {"backends": [dict(type="wandb", init_kwargs=dict(project="p"))]})
    runner.train()
    run = finished_run(Path(runner.log_dir) / "vis_data")
    train, val = train_records(runner), val_records(runner)
    assert [r["step"] for r in train] == [2, 4, 7, 9, 12, 14]
    logged = [(row["iter"], row["loss"], row["lr"]) for row in run.rows_with("loss")]
    assert logged == [(r["iter"], pytest.approx(r["loss"]), r["lr"]) for r in train]
    # validation metrics against their epoch; every record kept although epochs < iterations
    assert [(row["epoch"], row["mse"]) for row in run.rows_with("mse")] == [
        (r["epoch"], pytest.approx(r["mse"])) for r in val
    ]
    assert run.step_metrics["loss"] == "iter" and run.step_metrics["mse"] == "epoch"
    assert run.config["train_cfg"]["max_epochs"] == 3
    assert run.config["api_key"] == "******"
    steps = [row["_step"] for row in run.history]
    assert steps == sorted(steps)
    assert run.exit_code == 0


def test_watch_logs_gradients(tmp_path: Path) -> None:
    backend = {"type": "wandb", "watch_kwargs": dict(log="gradients", log_freq=1)}
    runner = toy_run(tmp_path, {"backends": [backend]})
    runner.train()
    run = finished_run(Path(runner.log_dir) / "vis_data")
    assert run.rows_with("gradients/net.0.weight/_type")  # histograms


def test_mmcv_wandb_logger_hook(tmp_path: Path) -> None:
    hook = {"type": "WandbLoggerHook", "init_kwargs": dict(project="p"), "log_artifact": False}
    runner = toy_run(tmp_path, hook)
    runner.train()
    run = finished_run(Path(runner.log_dir) / "vis_data")
    # MMCV's hook logs validation at iterations: 5, 10, 15
    assert [(row["iter"], row["_step"]) for row in run.rows_with("mse")] == [
        (5, 5), (10, 10), (15, 15)
    ]  # fmt: skip
    assert [row["loss"] for row in run.rows_with("loss")] == [
        pytest.approx(r["loss"]) for r in train_records(runner)
    ]
    assert run.artifacts == {}


def test_a_record_at_a_step_that_holds_other_values_moves_to_the_next_step(tmp_path: Path) -> None:
    """W&B keeps one row per step: a clashing value goes to the next; equal ones (NaN too) stay."""
    with WandbBackend(tmp_path) as backend:
        backend.log_scalars({"loss": float("nan")}, 3)
        backend.log_scalars({"loss": float("nan"), "acc": 1.0}, 3)  # nothing lost: same row
        backend.log_scalars({"loss": 2.0}, 3)  # would replace the NaN: the next row
        backend.log_scalars({"acc": 0.5}, 2)  # a lower step: the highest so far (4), no clash
        backend.log_scalars({"loss": 1.5}, 4)  # clashes with 2.0: the next row
    history = finished_run(tmp_path).history
    rows = [(row["_step"], row.get("loss"), row.get("acc")) for row in history]
    assert [(step, acc) for step, _, acc in rows] == [(3, 1.0), (4, 0.5), (5, None)]
    assert math.isnan(rows[0][1]) and [loss for _, loss, _ in rows[1:]] == [2.0, 1.5]
