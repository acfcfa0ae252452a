"""`SwanLabBackend` against the real swanlab client, offline (no API key).

Offline, SwanLab writes one folder per run, ``<log_dir>/run-<time>-<id>/``, for
``swanlab sync``: ``run-<id>.swanlab`` holds its protobuf records (start,
scalars, media, saved files, finish) in LevelDB-log framing, read back here
with SwanLab's own reader; ``files/config.yaml`` has the config, ``media/``
the images and texts, ``files/`` links to the files saved.
"""

from __future__ import annotations

import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import swanlab
import torch
import yaml
from PIL import Image
from swanlab.proto.swanlab.record.v1.record_pb2 import Record
from swanlab.proto.swanlab.run.v1.run_pb2 import ResumeMode, RunState
from swanlab.sdk.internal.core_python.store import DataStoreReader
from toy import FailAfter, StopAfter
from trackers_parts import log_every_kind, toy_run, train_records, train_then_resume, val_records

from hooks_core import LOG_BACKENDS, TrainingInterrupted
from hooks_logging import SwanLabBackend


class SwanLabRunFolder:
    """What one offline SwanLab run wrote: its records, config, media and saved files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (path,) = folder.glob("run-*.swanlab")
        reader = DataStoreReader()
        reader.open(path)
        try:
            self.records = [Record.FromString(data) for data in reader]
        finally:
            reader.close()

    def of(self, kind: str) -> list[Any]:
        """The payloads of the records of `kind` (``'start'``, ``'scalar'``...), in order."""
        return [getattr(r, kind) for r in self.records if r.WhichOneof("record_type") == kind]

    @property
    def start(self) -> Any:
        (start,) = self.of("start")
        return start

    @property
    def finish(self) -> Any:
        (finish,) = self.of("finish")
        return finish

    def scalars(self, key: str) -> list[tuple[int, float]]:
        """``(step, value)`` of the scalar `key`, in order."""
        return [(s.step, s.value.number) for s in self.of("scalar") if s.key == key]

    def media(self, key: str) -> list[tuple[int, Path]]:
        """``(step, file)`` of each item of the media `key`, in order."""
        return [
            (media.step, found)
            for media in self.of("media")
            if media.key == key
            for item in media.value.items
            for found in self.folder.glob(f"media/*/{item.filename}")
        ]

    def config(self) -> dict[str, Any]:
        """The config's values, by key."""
        saved = yaml.safe_load((self.folder / "files" / "config.yaml").read_text())
        return {key: entry["value"] for key, entry in saved.items()}

    def saved(self) -> dict[str, bytes]:
        """The files saved with ``run.save``: name -> the content of the link in ``files/``."""
        return {
            save.name: Path(save.target_path).read_bytes()
            for save in self.of("save")
            if save.target_path
        }


def run_folders(log_dir: Path) -> list[SwanLabRunFolder]:
    """The runs under `log_dir`, oldest first."""
    return [SwanLabRunFolder(path) for path in sorted(log_dir.rglob("run-*")) if path.is_dir()]


def test_backend_is_offline_without_a_key_and_logs_steps_config_images_text(
    tmp_path: Path,
) -> None:
    threads = set(threading.enumerate())
    handler, write = signal.getsignal(signal.SIGINT), sys.stdout.write
    save_dir = tmp_path / "vis_data"
    backend = LOG_BACKENDS.build(
        dict(type="swanlab", save_dir=save_dir, project="toy", experiment_name="run1")
    )
    assert isinstance(backend, SwanLabBackend) and backend.mode == "offline"
    with backend:
        log_every_kind(backend)
        assert backend.run_state() == {"id": backend.experiment.id, "project": "toy"}
        assert signal.getsignal(signal.SIGINT) is handler  # Ctrl-C is the loop's
        assert sys.stdout.write == write  # no console capture
    (run,) = run_folders(save_dir / "swanlog")
    assert (run.start.project, run.start.name) == ("toy", "run1")
    assert run.folder.name.endswith(f"-{run.start.id}")
    assert run.scalars("train/loss") == [(2, 1.0), (4, 0.5)]
    assert run.scalars("val/mse") == [(1, 0.25)]
    assert run.scalars("epoch") == [(2, 1.0), (4, 1.0)]
    assert run.config() == {"lr": 0.1, "model": {"type": "Toy", "layers": [4, 1]}}
    ((step, image),) = run.media("sample")
    with Image.open(image) as picture:
        assert (step, picture.size, picture.getpixel((0, 0))) == (4, (5, 2), (255, 255, 255))
    ((step, text),) = run.media("note")
    assert (step, text.read_text()) == (4, "hello")
    assert (run.finish.state, run.finish.error) == (RunState.RUN_STATE_FINISHED, "")
    assert set(threading.enumerate()) <= threads  # nothing of SwanLab's left running
    assert not (tmp_path / "swanlog").exists()  # save_dir wins over SWANLAB_LOGDIR


def test_a_backend_built_on_one_thread_closes_on_another(tmp_path: Path) -> None:
    backend = SwanLabBackend(tmp_path)  # the logger hook closes backends on threads of theirs
    backend.log_scalars({"loss": 1.0}, 1)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(backend.close).result()
    assert swanlab.run is None  # SwanLab's cleanup ran to its end
    (run,) = run_folders(tmp_path / "swanlog")
    assert (run.scalars("loss"), run.finish.state) == ([(1, 1.0)], RunState.RUN_STATE_FINISHED)


def test_a_step_may_go_back_but_a_name_keeps_its_first_value_at_a_step(tmp_path: Path) -> None:
    with SwanLabBackend(tmp_path) as backend:
        backend.log_scalars({"loss": 1.0, "nan": float("nan")}, 5)
        backend.log_scalars({"loss": 2.0}, 3)
        backend.log_scalars({"loss": 9.0}, 5)  # SwanLab drops it
    (run,) = run_folders(tmp_path / "swanlog")
    assert run.scalars("loss") == [(5, 1.0), (3, 2.0)]
    ((step, value),) = run.scalars("nan")
    assert step == 5 and value != value


@pytest.mark.parametrize(
    ("status", "state"),
    [("failed", RunState.RUN_STATE_CRASHED), ("killed", RunState.RUN_STATE_ABORTED)],
)
def test_a_run_that_did_not_finish_is_crashed_or_aborted(
    tmp_path: Path, status: str, state: int
) -> None:
    SwanLabBackend(tmp_path).close(status)
    (run,) = run_folders(tmp_path / "swanlog")
    assert (run.finish.state, run.finish.error) == (state, f"the run ended {status}")


def test_an_exception_in_the_block_crashes_the_run_with_its_traceback(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), SwanLabBackend(tmp_path):
        raise RuntimeError("boom")
    (run,) = run_folders(tmp_path / "swanlog")
    assert run.finish.state == RunState.RUN_STATE_CRASHED
    assert run.finish.error.startswith("Traceback") and run.finish.error.endswith("boom")


def test_log_model_saves_the_latest_and_best_checkpoint_at_close(tmp_path: Path) -> None:
    first, second = tmp_path / "epoch_1.pth", tmp_path / "epoch_2.pth"
    first.write_bytes(b"one")
    second.write_bytes(b"two")
    with SwanLabBackend(tmp_path / "vis_data", log_model=True) as backend:
        backend.log_checkpoint(first, ["latest", "best"])
        backend.log_checkpoint(second, ["latest"])
    (run,) = run_folders(tmp_path / "vis_data" / "swanlog")
    assert run.saved() == {"epoch_1.pth": b"one", "epoch_2.pth": b"two"}
    assert (run.folder / "files" / "epoch_1.pth").is_symlink()  # a link, not a copy


def test_log_model_all_saves_each_checkpoint_and_a_folders_files(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint-2"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.bin").write_bytes(b"weights")
    (folder / "sub" / "state.json").write_bytes(b"{}")
    odd = tmp_path / "epoch[1].pth"  # glob characters are taken as they are
    odd.write_bytes(b"one")
    with SwanLabBackend(tmp_path / "vis_data", log_model="all") as backend:
        backend.log_checkpoint(odd, ["latest"])
        backend.log_checkpoint(folder, ["latest"])
    (run,) = run_folders(tmp_path / "vis_data" / "swanlog")
    assert run.saved() == {
        "epoch[1].pth": b"one",
        "checkpoint-2/model.bin": b"weights",
        "checkpoint-2/sub/state.json": b"{}",
    }


def test_log_model_takes_lightnings_values_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="log_model='best'"):
        SwanLabBackend(tmp_path, log_model="best")


def test_a_resumed_run_continues_the_same_run_id_in_a_second_folder(tmp_path: Path) -> None:
    config: dict[str, Any] = {"save_dir": tmp_path, "project": "toy"}
    with SwanLabBackend(**config) as first:
        first.log_scalars({"loss": 1.0}, 1)
    resumed = SwanLabBackend.resume_config(config, first.run_state())
    assert resumed["init_kwargs"] == {"id": first.run_state()["id"], "resume": "allow"}
    with SwanLabBackend(**resumed) as second:
        second.log_scalars({"loss": 0.5}, 2)
    assert second.run_state() == first.run_state()
    before, after = run_folders(tmp_path / "swanlog")
    assert before.start.id == after.start.id == first.run_state()["id"]
    assert after.start.resume == ResumeMode.RESUME_MODE_ALLOW  # swanlab sync appends it
    assert (before.scalars("loss"), after.scalars("loss")) == ([(1, 1.0)], [(2, 0.5)])


def test_resume_config_keeps_a_config_that_names_another_run() -> None:
    config = {"init_kwargs": {"id": "other"}}
    assert SwanLabBackend.resume_config(config, {"id": "mine", "project": "p"}) is config
    assert SwanLabBackend.resume_config({}, {"id": "mine", "project": "p"}) == {
        "init_kwargs": {"id": "mine", "resume": "allow", "project": "p"}
    }


def test_one_run_at_a_time_a_second_backend_waits_for_the_first_to_close(tmp_path: Path) -> None:
    first = SwanLabBackend(tmp_path / "a")
    with pytest.raises(RuntimeError, match=r"one run per process, and run '\w+' is open"):
        SwanLabBackend(tmp_path / "b")
    first.close()
    with SwanLabBackend(tmp_path / "b") as second:
        second.log_scalars({"loss": 1.0}, 1)
    (run,) = run_folders(tmp_path / "b" / "swanlog")
    assert run.scalars("loss") == [(1, 1.0)]


def test_a_named_run_is_the_runs_name_and_tags_unless_the_config_names_it(
    tmp_path: Path,
) -> None:
    config = SwanLabBackend.named_config({"save_dir": tmp_path}, "hf-run", ["tiny", "gpt2"])
    SwanLabBackend(**config).close()
    (run,) = run_folders(tmp_path / "swanlog")
    assert (run.start.name, list(run.start.tags)) == ("hf-run", ["tiny", "gpt2"])
    own = {"experiment_name": "mine"}
    assert SwanLabBackend.named_config(own, "hf-run", ["t"]) == {
        "experiment_name": "mine",
        "init_kwargs": {"tags": ["t"]},
    }


def test_settings_given_turn_swanlabs_capture_back_on_key_by_key(tmp_path: Path) -> None:
    settings = swanlab.Settings(probe=swanlab.Settings.Probe(git=True))
    with SwanLabBackend(tmp_path, init_kwargs={"settings": settings}) as backend:
        chosen = backend.experiment._ctx.config.settings
        probe, terminal = chosen.probe, chosen.terminal
        assert (probe.git, probe.monitor, terminal.proxy_type, chosen.interactive) == (
            True,
            False,
            "none",
            False,
        )


def test_local_mode_without_swanlabs_dashboard_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"mode='local' needs SwanLab's dashboard"):
        SwanLabBackend(tmp_path, mode="local")


def test_logger_hook_run_matches_the_json_log(tmp_path: Path) -> None:
    runner = toy_run(tmp_path, {"backends": [dict(type="swanlab", project="toy")]})
    runner.train()
    (run,) = run_folders(Path(runner.log_dir) / "vis_data" / "swanlog")
    train, val = train_records(runner), val_records(runner)
    assert run.scalars("loss") == [(r["step"], r["loss"]) for r in train]
    assert run.scalars("mse") == [(r["step"], r["mse"]) for r in val]
    config = run.config()
    assert config["train_cfg"]["max_epochs"] == 3 and config["api_key"] == "******"
    assert run.finish.state == RunState.RUN_STATE_FINISHED
    assert swanlab.run is None  # closed to the end, on the logger hook's thread


def test_a_run_resumed_from_a_checkpoint_keeps_the_run_id_and_its_steps_go_on(
    tmp_path: Path,
) -> None:
    first, second = train_then_resume(tmp_path, [dict(type="swanlab", project="toy")])
    checkpoint = Path(first.work_dir) / "epoch_2.pth"
    (state,) = torch.load(checkpoint, weights_only=True)["meta"]["tracker_runs"].values()
    runs = [run_folders(Path(r.log_dir) / "vis_data" / "swanlog") for r in (first, second)]
    (before,), (after,) = runs
    assert before.start.id == after.start.id == state["id"] and state["project"] == "toy"
    steps = [[step for step, _ in run.scalars("loss")] for run in (before, after)]
    assert steps == [[2, 4, 7, 9], [12, 14]]


@pytest.mark.parametrize(
    ("stop", "raised", "state"),
    [
        (FailAfter(6, ValueError("loss is NaN")), ValueError, RunState.RUN_STATE_CRASHED),
        (StopAfter(5), TrainingInterrupted, RunState.RUN_STATE_ABORTED),
    ],
)
def test_a_training_run_that_stops_early_ends_crashed_or_aborted_with_what_it_logged(
    tmp_path: Path, stop: Any, raised: type[BaseException], state: int
) -> None:
    runner = toy_run(tmp_path, {"backends": [dict(type="swanlab")]}, custom_hooks=[stop])
    with pytest.raises(raised):
        runner.train()
    (run,) = run_folders(Path(runner.log_dir) / "vis_data" / "swanlog")
    assert run.finish.state == state
    assert [step for step, _ in run.scalars("loss")] == [2, 4]
