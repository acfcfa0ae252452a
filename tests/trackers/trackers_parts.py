"""Parts shared by the tracker tests: an offline, tmp-only environment, toy runs, and readers.

Every test runs with its current directory in a temp folder and every
tracker pointed there and offline (see ``shared/reference/backends.md`` §7):
W&B in offline mode with no key, MLflow with telemetry off, Neptune with no
token (so offline), DVCLive outside any git repository.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from typing import TYPE_CHECKING, Any

import torch
from run_logs import json_records
from toy import runner_kwargs

from hooks_core import Runner

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pytest


# Warnings of the frameworks and trackers about themselves, which no user of ours can act on.
FRAMEWORK_NOISE = [
    # SQLAlchemy 2.1 deprecates a loader option that MLflow's sqlite store still uses.
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning",
    # Lightning's advice for real data loaders, about the tiny in-memory ones here.
    "ignore:The '(train|val)_dataloader' does not have many workers",
    "ignore:The number of training batches .* is smaller than",
    # Lightning 2.6 uses a torch.utils._pytree API that torch 2.13 deprecates.
    "ignore:`isinstance.treespec, LeafSpec.` is deprecated:FutureWarning",
]


def lightning_trainer(logger: Any, root: Path, **overrides: Any) -> Any:
    """A CPU ``pl.Trainer`` logging every step to `logger`, without bar, summary or checkpoints."""
    import pytorch_lightning as pl

    options = dict(
        logger=logger, max_epochs=1, log_every_n_steps=1, accelerator="cpu", devices=1,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=root,
    )  # fmt: skip
    return pl.Trainer(**{**options, **overrides})


class Sequences(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Fixed random token sequences; the labels are the inputs (language modelling)."""

    def __init__(self, size: int) -> None:
        self.ids = torch.randint(0, 32, (size, 8), generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[index], "labels": self.ids[index]}


def isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in `tmp_path`, with every tracker offline and writing only under it."""
    monkeypatch.chdir(tmp_path)
    settings = dict(
        WANDB_MODE="offline", WANDB_DIR=str(tmp_path), WANDB_SILENT="true", WANDB_CONSOLE="off",
        WANDB_CONFIG_DIR=str(tmp_path / "wcfg"), WANDB_CACHE_DIR=str(tmp_path / "wcache"),
        WANDB_DATA_DIR=str(tmp_path / "wdata"), WANDB_X_DISABLE_STATS="true",
        WANDB_DISABLE_GIT="true", WANDB_X_SAVE_REQUIREMENTS="false",
        MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true",
        NEPTUNE_DATA_DIRECTORY=str(tmp_path / "neptune"),
        DVCLIVE_LOGLEVEL="WARNING", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
    )  # fmt: skip
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    for key in ("WANDB_API_KEY", "NEPTUNE_API_TOKEN", "NEPTUNE_PROJECT", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(key, raising=False)
    # Comet and ClearML: no key or server, their config, caches and error reports under tmp_path
    # (matplotlib, which comet_ml imports, keeps its font cache in MPLCONFIGDIR).
    settings = dict(
        COMET_CONFIG=str(tmp_path / "comet.config"), COMET_ERROR_TRACKING_ENABLE="false",
        COMET_OFFLINE_DIRECTORY=str(tmp_path / "comet"), COMET_DISABLE_AUTO_LOGGING="1",
        CLEARML_CONFIG_FILE=str(tmp_path / "clearml.conf"),
        CLEARML_CACHE_DIR=str(tmp_path / "clearml-cache"), MPLCONFIGDIR=str(tmp_path / "mpl"),
    )  # fmt: skip
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    for key in ("COMET_API_KEY", "CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY",
                "CLEARML_AUTH_TOKEN", "CLEARML_API_HOST"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    # ClearML reports from a forked process on Linux, and its flush and close then wait 5 s each.
    (tmp_path / "clearml.conf").write_text("sdk.development.report_use_subprocess: false\n")
    # SwanLab: no key, settings or run id from outside; its user folder (.netrc, config.yaml)
    # and its default log folder under tmp_path. Its mode is the backend's own choice.
    for key in [key for key in os.environ if key.startswith("SWANLAB_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SWANLAB_ROOT", str(tmp_path / "swanlab-root"))
    monkeypatch.setenv("SWANLAB_LOGDIR", str(tmp_path / "swanlog"))


def toy_run(tmp_path: Path, logger: dict[str, Any], **overrides: Any) -> Runner:
    """A toy runner (3 epochs of 5 iterations, validation each epoch) logging every 2 iterations."""
    kwargs = runner_kwargs(tmp_path / "work", log_level="INFO", **overrides)
    config = {"train_cfg": kwargs["train_cfg"], "model": {"type": "ToyModel"}, "api_key": "s3cret"}
    kwargs.setdefault("cfg", config)  # what backends log as the config (credentials masked)
    kwargs.setdefault("default_hooks", {"logger": {"type": "LoggerHook", "interval": 2, **logger}})
    return Runner(**kwargs)


def artifact_paths(client: Any, run_id: str, path: str | None = None) -> list[str]:
    """Every artifact file of an MLflow run under `path` (all when None), recursively."""
    found = []
    for info in client.list_artifacts(run_id, path):
        found += artifact_paths(client, run_id, info.path) if info.is_dir else [info.path]
    return sorted(found)


def train_then_resume(tmp_path: Path, backends: list[Any]) -> tuple[Any, Any]:
    """The first run (2 epochs) and the resumed one (to 3), both trained."""
    first = toy_run(tmp_path, {"backends": backends},
                    train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1))  # fmt: skip
    first.train()
    second = toy_run(tmp_path, {"backends": backends}, resume=True,
                     load_from=f"{first.work_dir}/epoch_2.pth")  # fmt: skip
    assert second.resume_meta is not None and second.resume_meta["epoch"] == 2
    second.train()
    return first, second


def train_records(runner: Runner) -> list[dict[str, Any]]:
    return [record for record in json_records(runner) if "loss" in record]


def val_records(runner: Runner) -> list[dict[str, Any]]:
    return [record for record in json_records(runner) if "mse" in record]


# ------------------------------------------------------------ W&B's run file
_BLOCK, _HEADER = 32768, 7
_CRC = {kind: zlib.crc32(bytes([kind])) & 0xFFFFFFFF for kind in (1, 2, 3, 4)}


def wandb_records(path: Path) -> Iterator[Any]:
    """The protobuf records of a ``run-<id>.wandb`` file (LevelDB-log framing, backends.md §3.4).

    Call ``wandb.teardown()`` first: until then the file may miss its end.
    """
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    ident, magic, _ = struct.unpack_from("<4sHB", data, 0)
    assert (ident, magic) == (b":W&B", 0xBEE1)
    at, pending = _HEADER, b""
    while at + _HEADER <= len(data):
        left = _BLOCK - at % _BLOCK
        if left < _HEADER:
            at += left
            continue
        crc, length, kind = struct.unpack_from("<IHB", data, at)
        if kind == 0 and length == 0:
            at += left
            continue
        chunk = data[at + _HEADER : at + _HEADER + length]
        assert zlib.crc32(chunk, _CRC[kind]) & 0xFFFFFFFF == crc
        at += _HEADER + length
        if kind in (1, 2):
            pending = b""
        pending += chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


class WandbRun:
    """What one offline W&B run wrote: history rows, config, summary, metrics defined, artifacts,
    exit."""

    def __init__(self, path: Path) -> None:
        self.history: list[dict[str, Any]] = []
        self.config: dict[str, Any] = {}
        self.step_metrics: dict[str, str] = {}
        self.artifacts: dict[str, list[str]] = {}
        self.artifact_versions: list[tuple[str, list[str], list[str]]] = []  # name, paths, aliases
        self.summary: dict[str, Any] = {}  # what the run set in its summary, not history's last
        self.run_id = self.name = ""  # the run's id and display name
        self.tags: list[str] = []
        self.exit_code: int | None = None
        for record in wandb_records(path):
            kind = record.WhichOneof("record_type")
            if kind == "history":
                self.history.append(
                    {
                        item.key or "/".join(item.nested_key): json.loads(item.value_json)
                        for item in record.history.item
                    }
                )
            elif kind == "run":
                self._config(record.run.config.update)
                self.run_id, self.name = record.run.run_id, record.run.display_name
                self.tags = list(record.run.tags)
            elif kind == "config":
                self._config(record.config.update)
            elif kind == "metric" and record.metric.step_metric:
                self.step_metrics[record.metric.name] = record.metric.step_metric
            elif kind == "artifact":
                paths = sorted(entry.path for entry in record.artifact.manifest.contents)
                self.artifacts[record.artifact.name] = paths
                aliases = list(record.artifact.aliases)
                self.artifact_versions.append((record.artifact.name, paths, aliases))
            elif kind == "summary":
                for item in record.summary.update:
                    self.summary[item.key or "/".join(item.nested_key)] = json.loads(
                        item.value_json
                    )
            elif kind == "exit":
                self.exit_code = record.exit.exit_code

    def _config(self, items: Any) -> None:
        for item in items:
            if item.key != "_wandb":
                self.config[item.key] = json.loads(item.value_json)

    def rows_with(self, key: str) -> list[dict[str, Any]]:
        return [row for row in self.history if key in row]


def wandb_run_file(root: Path) -> Path:
    """The single ``run-*.wandb`` file under `root`."""
    (found,) = root.rglob("run-*.wandb")
    return found


# ------------------------------------------------------------ Neptune's offline op log
def neptune_operations(data_dir: Path) -> list[dict[str, Any]]:
    """The operations of the single offline run under `data_dir`, in order."""
    (run_dir,) = (data_dir / "offline").iterdir()
    return neptune_run_operations(run_dir)


def neptune_run_operations(run_dir: Path) -> list[dict[str, Any]]:
    """The operations of the offline run in its folder `run_dir`, in order."""
    operations = []
    for log in sorted(run_dir.glob("data-*.log"), key=lambda p: int(p.stem.split("-")[1])):
        operations += [json.loads(line)["obj"] for line in log.read_text().splitlines() if line]
    return operations


def neptune_series(operations: list[dict[str, Any]], path: str) -> list[tuple[float, Any]]:
    """``(step, value)`` of the series at `path` (``'train/loss'``)."""
    return [
        (point["step"], point["value"])
        for op in operations
        if op["type"].startswith("Log") and "/".join(op["path"]) == path
        for point in op["values"]
    ]


def neptune_assigned(operations: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    """The values assigned under `prefix` (``'config'``), by their path."""
    return {
        "/".join(op["path"]): op["value"]
        for op in operations
        if op["type"].startswith("Assign") and op["path"][0] == prefix
    }


def log_every_kind(backend: Any) -> None:
    """Log a config, scalars on two axes, a 5x2 white image and a text, then flush.

    ``val/mse`` is plotted against ``epoch``, so its record's ``epoch`` is its
    step and is left out of it; the training records keep theirs.
    """
    import numpy as np

    backend.log_config({"lr": 0.1, "model": {"type": "Toy", "layers": [4, 1]}})
    backend.define_step_axes({"val/mse": "epoch"})
    backend.log_scalars({"train/loss": 1.0, "epoch": 1}, 2)
    backend.log_scalars({"train/loss": 0.5, "epoch": 1}, 4)
    backend.log_scalars({"val/mse": 0.25, "epoch": 1}, 1)
    backend.log_image("sample", np.full((3, 2, 5), 1.0), 4)
    backend.log_text("note", "hello", 4)
    backend.flush()
