"""`ClearMLBackend`, `ClearMLLoggerHook` and `ClearMLVisBackend` against the real clearml, offline.

With no server, ClearML writes an offline session folder (and a ``.zip`` of
it) for ``Task.import_offline_session``: ``task.json`` (the task, its
configuration and artifacts), ``metrics.jsonl`` (scalar and image events, a
JSON list per line), ``log.jsonl`` (the console log) and ``data/`` (files).
Importing needs a server, so the tests read those files.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from PIL import Image
from trackers_parts import log_every_kind, toy_run, train_records, val_records

from hooks_core import LOG_BACKENDS
from hooks_core.registry import VISBACKENDS
from hooks_logging import ClearMLBackend

if TYPE_CHECKING:
    from pathlib import Path

NAMES = dict(project_name="toy", task_name="run1")


@pytest.fixture(autouse=True)
def _no_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ClearML notes every task it starts in ``~/.clearml/.session.json``: a HOME in tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


class ClearMLSession:
    """What one offline ClearML task wrote: the task, its events, its console log."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.task = json.loads((folder / "task.json").read_text())
        self.events = _json_lists(folder / "metrics.jsonl")
        events = _json_lists(folder / "log.jsonl")  # a message can hold several lines
        self.log = [line for event in events for line in event["msg"].splitlines()]

    def scalars(self, name: str) -> list[tuple[int, Any]]:
        """``(iteration, value)`` of the scalar `name` (its title and series)."""
        return [
            (event["iter"], event["value"])
            for event in self.events
            if event["type"] == "training_stats_scalar"
            and (event["metric"], event["variant"]) == (name, name)
        ]

    def images(self, name: str) -> list[dict[str, Any]]:
        return [
            event
            for event in self.events
            if event["type"] == "training_debug_image" and event["metric"] == name
        ]

    def configuration(self, name: str) -> dict[str, Any]:
        """The configuration object `name`, parsed from ClearML's HOCON text by its own parser."""
        from clearml.utilities.pyhocon import ConfigFactory

        with warnings.catch_warnings():  # its pyparsing calls are deprecated in pyparsing 3
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            text = ConfigFactory.parse_string(self.task["configuration"][name]["value"])
        return json.loads(json.dumps(text.as_plain_ordered_dict()))

    def artifacts(self) -> dict[str, dict[str, Any]]:
        return {artifact["key"]: artifact for artifact in self.task["execution"]["artifacts"]}


def _json_lists(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [event for line in path.read_text().splitlines() if line for event in json.loads(line)]


def session(root: Path) -> ClearMLSession:
    """The single offline session under `root` (and check that its zip was written)."""
    (folder,) = [path.parent for path in root.rglob("task.json")]
    assert zipfile.is_zipfile(f"{folder}.zip")
    return ClearMLSession(folder)


def test_backend_is_offline_without_a_server_and_logs_steps_config_images_text(
    tmp_path: Path,
) -> None:
    save_dir = tmp_path / "vis_data"
    backend = LOG_BACKENDS.build(dict(type="clearml", save_dir=save_dir, init_kwargs=NAMES))
    assert isinstance(backend, ClearMLBackend) and backend.offline is True
    assert os.environ["CLEARML_CACHE_DIR"] == str(tmp_path / "clearml-cache")  # restored
    with backend:
        log_every_kind(backend)
        assert backend.experiment is backend.task and backend.run_state() is None
    found = session(save_dir / "clearml" / "offline")
    assert found.task["name"] == "run1" and found.task["id"] == backend.task.id
    assert found.scalars("train/loss") == [(2, 1.0), (4, 0.5)]
    assert found.scalars("val/mse") == [(1, 0.25)]
    assert found.scalars("epoch") == [(2, 1), (4, 1)]
    assert found.configuration("config") == {"lr": 0.1, "model": {"type": "Toy", "layers": [4, 1]}}
    (image,) = found.images("sample")
    assert image["iter"] == 4
    with Image.open(image["url"]) as picture:
        assert picture.size == (5, 2)
    assert "note (step 4): hello" in found.log
    assert not (tmp_path / "clearml-cache" / "offline").exists()  # save_dir wins
    assert list((tmp_path / "home").rglob(".session.json"))  # ClearML's note of its tasks


@pytest.mark.parametrize("status", ["failed", "killed"])
def test_a_run_that_did_not_finish_still_writes_its_session(tmp_path: Path, status: str) -> None:
    """ClearML keeps no status offline (mark_failed/mark_stopped go to a server only)."""
    backend = ClearMLBackend(tmp_path, init_kwargs=NAMES)
    backend.log_scalars({"loss": 1.0}, 1)
    backend.close(status)
    found = session(tmp_path / "clearml")
    assert found.scalars("loss") == [(1, 1.0)] and "status" not in found.task


def test_log_model_all_uploads_each_checkpoint_with_its_aliases(tmp_path: Path) -> None:
    checkpoint, folder = tmp_path / "epoch_1.pth", tmp_path / "checkpoint-2"
    checkpoint.write_bytes(b"one")
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"two")
    with ClearMLBackend(tmp_path / "vis_data", init_kwargs=NAMES, log_model="all") as backend:
        backend.log_checkpoint(checkpoint, ["latest", "best"])
        backend.log_checkpoint(folder, ["latest"])
    artifacts = session(tmp_path / "vis_data").artifacts()
    assert set(artifacts) == {"epoch_1.pth", "checkpoint-2"}
    assert artifacts["epoch_1.pth"]["display_data"] == [["aliases", "latest,best"]]
    with open(artifacts["epoch_1.pth"]["uri"], "rb") as stored:
        assert stored.read() == b"one"
    with zipfile.ZipFile(artifacts["checkpoint-2"]["uri"]) as archive:
        assert archive.read("model.safetensors") == b"two"


def test_log_model_takes_lightnings_values_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="log_model='best'"):
        ClearMLBackend(tmp_path, log_model="best")


def test_logger_hook_run_matches_the_json_log(tmp_path: Path) -> None:
    runner = toy_run(tmp_path, {"backends": [dict(type="clearml", init_kwargs=NAMES)]})
    runner.train()
    found = session(tmp_path / "work")
    train, val = train_records(runner), val_records(runner)
    assert found.scalars("loss") == [(r["step"], r["loss"]) for r in train]
    assert found.scalars("mse") == [(r["step"], r["mse"]) for r in val]
    config = found.configuration("config")
    assert config["train_cfg"]["max_epochs"] == 3 and config["api_key"] == "******"


def test_mmcv_clearml_logger_hook_logs_at_iterations(tmp_path: Path) -> None:
    runner = toy_run(tmp_path, {"type": "ClearMLLoggerHook", "init_kwargs": NAMES})
    runner.train()
    found = session(tmp_path / "work")
    assert [step for step, _ in found.scalars("mse")] == [5, 10, 15]  # MMCV logs at iterations
    assert found.scalars("loss") == [(r["step"], r["loss"]) for r in train_records(runner)]


def test_mmengine_clearml_vis_backend_by_name_uploads_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.py").write_text("lr = 0.1\n")
    vis = VISBACKENDS.build(
        dict(type="ClearMLVisBackend", save_dir=tmp_path / "vis_data", init_kwargs=NAMES)
    )
    vis.add_config({"lr": 0.1})
    vis.add_scalars({"loss": 0.5, "acc": 0.75}, step=3)
    vis.add_image("sample", np.zeros((2, 4, 3), dtype=np.uint8), step=3)
    assert vis.experiment.id.startswith("offline-")
    vis.close()
    found = session(tmp_path / "vis_data" / "clearml")
    assert (found.scalars("loss"), found.scalars("acc")) == ([(3, 0.5)], [(3, 0.75)])
    assert found.configuration("config") == {"lr": 0.1}
    assert [event["iter"] for event in found.images("sample")] == [3]
    (artifact,) = found.artifacts().values()  # MMEngine's artifact_suffix=('.py', '.pth')
    assert artifact["key"] == "config.py"


def test_a_named_run_is_the_tasks_name_and_tags_unless_the_config_names_it(tmp_path: Path) -> None:
    config = ClearMLBackend.named_config({"save_dir": tmp_path}, "hf-run", ["tiny", "gpt2"])
    ClearMLBackend(**config).close()
    found = session(tmp_path / "clearml")
    assert (found.task["name"], sorted(found.task["tags"])) == ("hf-run", ["gpt2", "tiny"])
    own = {"init_kwargs": {"task_name": "mine"}}
    assert ClearMLBackend.named_config(own, "hf-run", ()) == own
