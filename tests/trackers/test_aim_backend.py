"""`AimBackend` and `AimVisBackend` against the real aim, in local repositories (no server).

Aim writes each run into its repository's files; readers see a run once the
repository's index has it, which ``aim up`` does when it starts. `read_run`
does the same (Aim's ``RepoIndexManager.index``), then reads the run with
Aim's own reader, a read-only ``aim.Run`` of an ``aim.Repo``.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from trackers_parts import log_every_kind, toy_run, train_records, train_then_resume, val_records

from hooks_core import LOG_BACKENDS
from hooks_core.registry import VISBACKENDS

# Until hooks_logging exports it (the lead wires __init__.py): the private module, flagged.
from hooks_logging import AimBackend

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*declarative_base\(\)")  # aim's SQLAlchemy 1.x
    from aim import Repo
    from aim.sdk.index_manager import RepoIndexManager
    from aim.sdk.run_status_watcher import Event
    from aim.storage.context import Context

if TYPE_CHECKING:
    from aim import Run

NO_CONTEXT = Context({})


def read_run(root: Path, run_hash: str | None = None) -> Run:
    """The run `run_hash` (the only one when None) of the repository ``root/.aim``, indexed."""
    repo = Repo(str(root))  # a reader of its own, not the writers' pooled one
    if run_hash is None:
        (run_hash,) = repo.list_all_runs()
    manager = RepoIndexManager.get_index_manager(repo)
    manager.index(run_hash)
    manager.stop()  # its file watchers' threads
    run = repo.get_run(run_hash)
    assert run is not None
    return run


def repo_root(folder: Path) -> Path:
    """The folder that holds the single Aim repository (``.aim``) under `folder`."""
    (found,) = folder.rglob(".aim")
    return found.parent


def series(run: Run, name: str, column: str = "val") -> list[tuple[int, Any]]:
    """``(step, value)`` of the sequence `name` (no context), by step; `column` ``'epoch'``
    gives the epochs instead."""
    sequence = run.get_metric(name, NO_CONTEXT)
    if sequence is None:  # images, texts and log records are sequences of their own types
        sequence = next(
            found
            for found in (
                run.get_image_sequence(name, NO_CONTEXT),
                run.get_text_sequence(name, NO_CONTEXT),
            )
            if found is not None
        )
    steps, (values,) = sequence.data.view(column).items_list()
    return list(zip(steps, values, strict=True))


def check_ins(root: Path, run_hash: str) -> set[str]:
    """The kinds of run-status check-ins of a run (``'finished'``, ``'progress'``...)."""
    events = [Event(name) for name in os.listdir(root / ".aim" / "check_ins")]
    return {event.event_type for event in events if event.obj_idx == run_hash}


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One repository for the tests of a run that do not look at where its repository goes
    (a new repository runs Aim's database migrations in a subprocess: seconds each)."""
    return tmp_path_factory.mktemp("aim")


def errors(run: Run) -> list[str]:
    """The messages of the run's log records (``run.log_error``)."""
    records = run.get_log_records()
    if records is None:
        return []
    _, (values,) = records.data.view("val").items_list()
    return [record.message for record in values]


def test_backend_logs_steps_config_images_text_into_a_repo_under_save_dir(
    tmp_path: Path,
) -> None:
    save_dir = tmp_path / "vis_data"
    threads = set(threading.enumerate())
    config = dict(type="aim", save_dir=save_dir, experiment="toy", run_name="run1", tags=["t"])
    backend = LOG_BACKENDS.build(config)
    assert isinstance(backend, AimBackend)
    with backend:
        log_every_kind(backend)
        assert backend.experiment is backend.run
        state = backend.run_state()
    assert set(threading.enumerate()) <= threads  # Aim's writer and heartbeat threads ended
    assert state == {"run_hash": state["run_hash"], "repo": str(save_dir)}
    run = read_run(save_dir, state["run_hash"])
    assert series(run, "train/loss") == [(2, 1.0), (4, 0.5)]
    assert series(run, "train/loss", "epoch") == [(2, 1.0), (4, 1.0)]  # the record's epoch
    assert series(run, "val/mse") == [(1, 0.25)]
    assert series(run, "epoch") == [(2, 1), (4, 1)]  # val/mse's epoch was its step, left out
    assert run["hparams"] == {"lr": 0.1, "model": {"type": "Toy", "layers": [4, 1]}}
    ((step, image),) = series(run, "sample")
    assert step == 4 and image.size == (5, 2)
    assert image.to_pil_image().getpixel((0, 0)) == (255, 255, 255)
    ((step, text),) = series(run, "note")
    assert (step, text.data) == (4, "hello")
    assert (run.experiment, run.name, run.tags) == ("toy", "run1", ["t"])
    assert not run.active and errors(run) == []
    assert "finished" in check_ins(save_dir, state["run_hash"])
    assert run.artifacts == {} and not (tmp_path / ".aim").exists()


@pytest.mark.parametrize("status", ["failed", "killed"])
def test_a_run_that_did_not_finish_is_tagged_and_logs_an_error(
    shared_repo: Path, status: str
) -> None:
    backend = AimBackend(shared_repo)
    backend.close(status)
    run = read_run(shared_repo, backend.run.hash)
    assert run.tags == [status] and errors(run) == [f"the run ended {status}"]
    assert not run.active
    # Not reported finished: Aim's run-status watcher reports such a run as failed.
    assert "finished" not in check_ins(shared_repo, run.hash)


def test_an_exception_in_the_block_marks_the_run_failed(shared_repo: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), AimBackend(shared_repo) as backend:
        raise RuntimeError("boom")
    assert read_run(shared_repo, backend.run.hash).tags == ["failed"]


def test_log_model_stores_the_latest_and_best_checkpoint_at_close_in_the_repo(
    tmp_path: Path, shared_repo: Path
) -> None:
    first, second = tmp_path / "epoch_1.pth", tmp_path / "epoch_2.pth"
    first.write_bytes(b"one")
    second.write_bytes(b"two")
    with AimBackend(shared_repo, log_model=True) as backend:
        backend.log_checkpoint(first, ["latest", "best"])
        backend.log_checkpoint(second, ["latest"])
        run_hash = backend.run.hash
    run = read_run(shared_repo, run_hash)
    assert run["checkpoints"] == {
        "best": "checkpoints/epoch_1.pth",
        "latest": "checkpoints/epoch_2.pth",
    }
    stored = shared_repo / ".aim" / "artifacts" / run_hash / "checkpoints"
    assert {name: artifact.uri for name, artifact in run.artifacts.items()} == {
        "checkpoints/epoch_1.pth": (stored / "epoch_1.pth").as_uri(),
        "checkpoints/epoch_2.pth": (stored / "epoch_2.pth").as_uri(),
    }
    assert (stored / "epoch_1.pth").read_bytes() == b"one"
    assert (stored / "epoch_2.pth").read_bytes() == b"two"


def test_log_model_all_stores_each_checkpoint_folder_to_a_given_uri(
    tmp_path: Path, shared_repo: Path
) -> None:
    folder = tmp_path / "checkpoint-2"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    uri = "file://" + str(tmp_path / "store")
    with AimBackend(shared_repo, artifacts_uri=uri, log_model="all") as backend:
        backend.log_checkpoint(folder, ["latest"])
        run_hash = backend.run.hash
    run = read_run(shared_repo, run_hash)
    assert list(run.artifacts) == ["checkpoints/checkpoint-2/model.safetensors"]
    assert run["checkpoints"] == {"latest": "checkpoints/checkpoint-2"}
    stored = tmp_path / "store" / run_hash / "checkpoints" / "checkpoint-2" / "model.safetensors"
    assert stored.read_bytes() == b"weights"


def test_log_model_takes_lightnings_values_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="log_model='best'"):
        AimBackend(tmp_path, log_model="best")


def test_a_resumed_run_continues_the_same_run_and_loses_its_end_tag(
    tmp_path: Path, shared_repo: Path
) -> None:
    config: dict[str, Any] = {"save_dir": shared_repo, "init_kwargs": None}
    first = AimBackend(**config)
    first.log_scalars({"loss": 1.0}, 1)
    first.close("killed")
    resumed = AimBackend.resume_config(
        {**config, "save_dir": tmp_path / "second"}, first.run_state()
    )
    with AimBackend(**resumed) as second:
        second.log_scalars({"loss": 0.5}, 2)
    assert second.run_state() == first.run_state()
    assert not (tmp_path / "second").exists()  # the run's own repository, not save_dir's
    run = read_run(shared_repo, second.run.hash)
    assert series(run, "loss") == [(1, 1.0), (2, 0.5)]
    assert run.tags == [] and "finished" in check_ins(shared_repo, run.hash)
    other = {"init_kwargs": {"run_hash": "another"}}
    assert AimBackend.resume_config(other, first.run_state()) == other


def test_named_config_names_and_tags_the_run_unless_the_config_names_it(
    shared_repo: Path,
) -> None:
    named = AimBackend.named_config({"type": "aim", "save_dir": shared_repo}, "hf-run", ["hf"])
    backend = LOG_BACKENDS.build(named)
    backend.close()
    run = read_run(shared_repo, backend.run.hash)
    assert (run.name, run.tags) == ("hf-run", ["hf"])
    mine = {"type": "aim", "run_name": "mine", "tags": ["own"]}
    assert AimBackend.named_config(mine, "hf-run", ["hf", "own"]) == {
        "type": "aim", "run_name": "mine", "tags": ["own", "hf"]
    }  # fmt: skip
    assert AimBackend.named_config(mine, None, ()) == mine


def test_logger_hook_run_matches_the_json_log(tmp_path: Path) -> None:
    runner = toy_run(tmp_path, {"backends": [dict(type="aim", experiment="toy")]})
    runner.train()
    root = repo_root(tmp_path / "work")
    assert root == Path(runner.log_dir) / "vis_data"
    run = read_run(root)
    train, val = train_records(runner), val_records(runner)
    assert series(run, "loss") == [(r["step"], r["loss"]) for r in train]
    assert series(run, "mse") == [(r["step"], r["mse"]) for r in val]
    assert series(run, "mse", "epoch") == [(r["step"], r["epoch"]) for r in val]
    assert run["hparams", "train_cfg", "max_epochs"] == 3 and run["hparams", "api_key"] == "******"
    assert run.experiment == "toy" and run.tags == []


def test_a_run_resumed_from_a_checkpoint_continues_in_the_first_runs_repository(
    tmp_path: Path,
) -> None:
    first, second = train_then_resume(tmp_path, [dict(type="aim")])
    root = repo_root(tmp_path / "work")
    assert root == Path(first.log_dir) / "vis_data"  # the resumed run wrote there too
    run = read_run(root)
    assert [step for step, _ in series(run, "loss")] == [2, 4, 7, 9, 12, 14]
    assert series(run, "loss")[-2:] == [(r["step"], r["loss"]) for r in train_records(second)]


def test_mmengine_aim_vis_backend_by_name(tmp_path: Path) -> None:
    save_dir = tmp_path / "20240101_120000" / "vis_data"
    vis = VISBACKENDS.build(dict(type="AimVisBackend", save_dir=save_dir))
    vis.add_config({"lr": 0.1})
    vis.add_scalars({"loss": 0.5, "acc": 0.75}, step=3)
    vis.add_image("sample", np.zeros((2, 4, 3), dtype=np.uint8), step=3)
    assert vis.experiment is vis.backend.run
    vis.close()
    run = read_run(save_dir)
    assert run.experiment == "20240101_120000_vis_data"  # MMEngine's name for it
    assert (series(run, "loss"), series(run, "acc")) == ([(3, 0.5)], [(3, 0.75)])
    assert run["hparams"] == {"lr": 0.1}
    assert [(step, image.size) for step, image in series(run, "sample")] == [(3, (4, 2))]
