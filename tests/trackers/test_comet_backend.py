"""`CometBackend` against the real comet-ml client, offline (no API key).

Offline, Comet writes one ``.zip`` per experiment for ``comet upload``: its
``messages.json`` has one JSON message per line (metrics, parameters, file
uploads whose files are in the zip too) and ``experiment.json`` the key,
project, tags and error state. The tests read those back.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image
from trackers_parts import log_every_kind, toy_run, train_records, val_records

from hooks_core import LOG_BACKENDS
from hooks_logging import CometBackend

if TYPE_CHECKING:
    from pathlib import Path


class CometArchive:
    """What one offline Comet experiment wrote: its messages, its metadata, its files."""

    def __init__(self, path: Path) -> None:
        self.zip = zipfile.ZipFile(path)
        self.experiment = json.loads(self.zip.read("experiment.json"))
        lines = self.zip.read("messages.json").decode().splitlines()
        self.messages = [json.loads(line) for line in lines if line]

    def metrics(self, name: str) -> list[tuple[int, Any]]:
        """``(step, value)`` of the metric `name`, in order."""
        return [
            (metric["step"], metric["metricValue"])
            for message in self.messages
            if message["type"] == "metric_msg"
            for metric in [message["payload"]["metric"]]
            if metric["metricName"] == name
        ]

    def parameters(self) -> dict[str, Any]:
        """The parameters logged by hand (not Comet's own ``curr_step``), by name."""
        found = {}
        for message in self.messages:
            if message["type"] == "parameter_msg":
                payload = message["payload"]
                param = payload.get("param") or payload["params"]  # "params": list values
                if param["source"] == "manual":
                    found[param["paramName"]] = param["paramValue"]
        return found

    def uploads(self, kind: str) -> list[dict[str, Any]]:
        """The uploads of `kind`: ``'visualization'``, ``'text-sample'``, ``'model-element'``."""
        return [
            message["payload"]
            for message in self.messages
            if message["type"] == "file_upload" and message["payload"]["upload_type"] == kind
        ]

    def file(self, upload: dict[str, Any]) -> bytes:
        return self.zip.read(upload["file_path"])

    def other(self, key: str) -> Any:
        (value,) = [
            message["payload"]["value"]
            for message in self.messages
            if message["type"] == "log_other" and message["payload"]["key"] == key
        ]
        return value


def archives(root: Path) -> list[CometArchive]:
    return [CometArchive(path) for path in sorted(root.rglob("*.zip"))]


def test_backend_is_offline_without_a_key_and_logs_steps_config_images_text(
    tmp_path: Path,
) -> None:
    save_dir = tmp_path / "vis_data"
    backend = LOG_BACKENDS.build(dict(type="comet", save_dir=save_dir, project="toy", name="run1"))
    assert isinstance(backend, CometBackend) and backend.online is False
    with backend:
        log_every_kind(backend)
        assert backend.experiment.get_key() == backend.run_state()["experiment_key"]
    (archive,) = archives(save_dir / "comet")
    assert archive.metrics("train/loss") == [(2, 1.0), (4, 0.5)]
    assert archive.metrics("val/mse") == [(1, 0.25)]
    assert archive.metrics("epoch") == [(2, 1), (4, 1)]
    assert archive.parameters() == {"lr": 0.1, "model|type": "Toy", "model|layers": [4, 1]}
    assert archive.experiment["project_name"] == "toy" and archive.other("Name") == "run1"
    (image,) = archive.uploads("visualization")
    assert image["additional_params"]["figName"] == "sample"
    assert image["additional_params"]["step"] == 4
    with Image.open(io.BytesIO(archive.file(image))) as picture:
        assert picture.size == (5, 2)
    (text,) = archive.uploads("text-sample")
    assert (text["metadata"], text["additional_params"]["step"]) == ({"name": "note"}, 4)
    assert archive.file(text) == b"hello"
    assert archive.experiment["tags"] == [] and not archive.experiment["customer_error_reported"]
    assert not (tmp_path / "comet").exists()  # save_dir wins over COMET_OFFLINE_DIRECTORY


@pytest.mark.parametrize("status", ["failed", "killed"])
def test_a_run_that_did_not_finish_is_tagged_and_reported_as_an_error(
    tmp_path: Path, status: str
) -> None:
    CometBackend(tmp_path).close(status)
    (archive,) = archives(tmp_path / "comet")
    assert archive.experiment["tags"] == [status]
    assert archive.experiment["customer_error_reported"] is True
    assert archive.experiment["customer_error_message"] == f"the run ended {status}"


def test_an_exception_in_the_block_marks_the_run_failed(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), CometBackend(tmp_path):
        raise RuntimeError("boom")
    (archive,) = archives(tmp_path / "comet")
    assert archive.experiment["tags"] == ["failed"]


def test_log_model_logs_the_latest_and_best_checkpoint_at_close(tmp_path: Path) -> None:
    first, second = tmp_path / "epoch_1.pth", tmp_path / "epoch_2.pth"
    first.write_bytes(b"one")
    second.write_bytes(b"two")
    with CometBackend(tmp_path / "vis_data", log_model=True) as backend:
        backend.log_checkpoint(first, ["latest", "best"])
        backend.log_checkpoint(second, ["latest"])
    (archive,) = archives(tmp_path / "vis_data" / "comet")
    models = {
        (upload["additional_params"]["groupingName"], upload["additional_params"]["fileName"]): (
            upload["metadata"]["aliases"],
            archive.file(upload),
        )
        for upload in archive.uploads("model-element")
    }
    assert models == {
        ("epoch_1", "epoch_1.pth"): (["best"], b"one"),
        ("epoch_2", "epoch_2.pth"): (["latest"], b"two"),
    }


def test_log_model_takes_lightnings_values_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="log_model='best'"):
        CometBackend(tmp_path, log_model="best")


def test_a_resumed_run_continues_the_same_experiment_in_a_second_archive(tmp_path: Path) -> None:
    config: dict[str, Any] = {"save_dir": tmp_path, "init_kwargs": None}
    with CometBackend(**config) as first:
        first.log_scalars({"loss": 1.0}, 1)
    resumed = CometBackend.resume_config(config, first.run_state())
    with CometBackend(**resumed) as second:
        second.log_scalars({"loss": 0.5}, 2)
    assert second.run_state() == first.run_state()
    before, after = sorted(archives(tmp_path / "comet"), key=lambda a: a.experiment["start_time"])
    assert before.experiment["offline_id"] == after.experiment["offline_id"]
    assert after.experiment["resume_strategy"] == "get"  # comet upload appends it
    assert (before.metrics("loss"), after.metrics("loss")) == ([(1, 1.0)], [(2, 0.5)])


def test_logger_hook_run_matches_the_json_log(tmp_path: Path) -> None:
    runner = toy_run(tmp_path, {"backends": [dict(type="comet", project="toy")]})
    runner.train()
    (archive,) = archives(tmp_path / "work")
    train, val = train_records(runner), val_records(runner)
    assert archive.metrics("loss") == [(r["step"], r["loss"]) for r in train]
    assert archive.metrics("mse") == [(r["step"], r["mse"]) for r in val]
    parameters = archive.parameters()
    assert parameters["train_cfg|max_epochs"] == 3 and parameters["api_key"] == "******"
    assert archive.experiment["tags"] == []


def test_a_named_run_is_the_experiments_name_and_tags_unless_the_config_names_it(
    tmp_path: Path,
) -> None:
    config = CometBackend.named_config({"save_dir": tmp_path}, "hf-run", ["tiny", "gpt2"])
    CometBackend(**config).close()
    (archive,) = archives(tmp_path / "comet")
    assert (archive.other("Name"), sorted(archive.experiment["tags"])) == (
        "hf-run",
        ["gpt2", "tiny"],
    )
    own = {"name": "mine"}
    assert CometBackend.named_config(own, "hf-run", ["t"]) == {
        "name": "mine",
        "init_kwargs": {"tags": ["t"]},
    }
