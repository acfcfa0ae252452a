"""Images from ``runner.visualizer`` in each tracker, read back with the tool's own reader.

Each run is configured as MMEngine configs do it: the tracker named among the
visualizer's ``vis_backends`` (``TensorboardVisBackend``, ``WandbVisBackend``,
...), the default logger hook. The logger hook takes that backend over, so
the training scalars reach the tracker too, and the images a hook writes
through the visualizer land in the same run. (TensorBoard, which this
environment lacks, is read back the same way in ``tests/logging/test_visualizer.py``.)
"""

from __future__ import annotations

import base64
import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import wandb
from mlflow import MlflowClient
from PIL import Image
from trackers_parts import (
    WandbRun,
    neptune_operations,
    neptune_series,
    toy_run,
    train_records,
    wandb_run_file,
)

from hooks_core import Hook, Runner


class Pictures(Hook):
    """After each epoch, an image of one grey level (40, 80, 120) through the visualizer."""

    def after_train_epoch(self, runner: Any) -> None:
        shade = np.full((4, 6, 3), 40 * (runner.epoch + 1), np.uint8)
        runner.visualizer.add_image("pic", shade, step=runner.epoch)


def run_with(tmp_path: Path, vis_backend: dict[str, Any]) -> Runner:
    vis_backends = [dict(type="LocalVisBackend"), vis_backend]
    runner = toy_run(
        tmp_path,
        {},
        custom_hooks=[Pictures()],
        visualizer=dict(type="Visualizer", vis_backends=vis_backends),
    )
    runner.train()
    return runner


def grey_level(png: bytes | Path) -> int:
    """The one grey level of a uniform RGB image, read from its PNG."""
    with Image.open(io.BytesIO(png) if isinstance(png, bytes) else png) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape == (4, 6, 3) and (pixels == pixels.flat[0]).all()
    return int(pixels.flat[0])


def vis_data(runner: Runner) -> Path:
    return Path(runner.log_dir) / "vis_data"


def test_wandb(tmp_path: Path) -> None:
    runner = run_with(tmp_path, dict(type="WandbVisBackend", init_kwargs=dict(project="p")))
    wandb.teardown()  # the run file is complete only then
    run = WandbRun(wandb_run_file(vis_data(runner)))
    image_rows = run.rows_with("pic/_type")
    assert [row["pic/_type"] for row in image_rows] == ["image-file"] * 3
    files = [vis_data(runner) / "wandb" / row["pic/path"] for row in image_rows]
    media = {Path(p).name: p for p in vis_data(runner).rglob("media/images/pic_*.png")}
    assert [grey_level(media[file.name]) for file in files] == [40, 80, 120]
    assert len(run.rows_with("loss")) == len(train_records(runner))
    assert run.exit_code == 0


@pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)
def test_mlflow(tmp_path: Path) -> None:
    runner = run_with(tmp_path, dict(type="MLflowVisBackend", exp_name="vis"))
    client = MlflowClient(f"sqlite:///{vis_data(runner)}/mlflow.db")
    experiment = client.get_experiment_by_name("vis")
    (run,) = client.search_runs([experiment.experiment_id])
    names = sorted(info.path for info in client.list_artifacts(run.info.run_id, "images"))
    assert names == ["images/pic_0.png", "images/pic_1.png", "images/pic_2.png"]
    folder = Path(client.download_artifacts(run.info.run_id, "images", str(tmp_path / "dl")))
    assert [grey_level(folder / f"pic_{epoch}.png") for epoch in range(3)] == [40, 80, 120]
    loss = client.get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in loss) == [r["step"] for r in train_records(runner)]
    assert run.info.status == "FINISHED"


def test_neptune(tmp_path: Path) -> None:
    init_kwargs = dict(source_files=[], git_ref=False)
    runner = run_with(tmp_path, dict(type="NeptuneVisBackend", init_kwargs=init_kwargs))
    operations = neptune_operations(tmp_path / "neptune")
    levels = [
        (point["step"], grey_level(base64.b64decode(point["value"]["data"])))
        for op in operations
        if op["type"] == "LogImages" and op["path"] == ["pic"]
        for point in op["values"]
    ]
    assert levels == [(0, 40), (1, 80), (2, 120)]
    train = train_records(runner)
    assert [step for step, _ in neptune_series(operations, "loss")] == [r["step"] for r in train]


def test_dvclive(tmp_path: Path) -> None:
    runner = run_with(tmp_path, dict(type="DVCLiveVisBackend"))
    live = vis_data(runner) / "dvclive"  # a folder of its own, not MMEngine's save_dir itself
    images = live / "plots" / "images"
    assert [grey_level(images / f"pic_{epoch}.png") for epoch in range(3)] == [40, 80, 120]
    with (live / "plots" / "metrics" / "loss.tsv").open(newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    assert [int(row["step"]) for row in rows] == [r["step"] for r in train_records(runner)]
