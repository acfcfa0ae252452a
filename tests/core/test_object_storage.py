"""Checkpoints at fsspec URLs: memory:// and file:// stores, written, read back and resumed.

memory:// is a store that shows an object while it is written and has no
rename, the case the temporary key is for; file:// goes through fsspec's local
filesystem. Each test works under its own memory:// folder, removed after it.
"""

from __future__ import annotations

import errno
import importlib.util
import io
import json
import pickle
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING, Any

import fsspec
import pytest
import torch
from toy import SaveEveryIter, StopAfter, runner_kwargs

from hooks_core import Runner, TrainingInterrupted
from hooks_core.checkpoint import (
    CheckpointError,
    check_storage_args,
    find_latest_checkpoint,
    load_checkpoint_file,
    remove_file,
    save_checkpoint,
    update_last_checkpoint,
    write_atomically,
)
from hooks_core.registry import pip_install

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

MEMORY = fsspec.filesystem("memory")


@pytest.fixture
def store() -> Iterator[str]:
    """A fresh memory:// folder, e.g. ``memory://3f2a.../run``, removed afterwards."""
    folder = uuid.uuid4().hex
    yield f"memory://{folder}/run"
    if MEMORY.exists(f"/{folder}"):
        MEMORY.rm(f"/{folder}", recursive=True)


def keys(url: str) -> list[str]:
    """The names of the objects below the memory:// folder `url`."""
    root = url.removeprefix("memory://")
    return sorted(path.removeprefix(f"/{root}/") for path in MEMORY.find(f"/{root}"))


def checkpoint(value: float = 1.0) -> dict[str, Any]:
    return {
        "meta": {"epoch": 1, "iter": 4, "seed": 0},
        "state_dict": {"w": torch.full((3,), value)},
    }


class SaveToCheckpointDir(SaveEveryIter):
    """`SaveEveryIter` into the runner's `checkpoint_dir`, where CheckpointHook saves."""

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if self.every_n_train_iters(runner, self.interval):
            name = f"iter_{runner.iter + 1}.pth"
            runner.save_checkpoint(runner.checkpoint_dir, name, by_epoch=False)


def iter_run(work_dir: str, max_iters: int, **overrides: Any) -> Runner:
    """The toy run by iterations, saving every 5 into `checkpoint_dir`."""
    kwargs = runner_kwargs(work_dir, **overrides)
    kwargs.update(
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        val_dataloader=None, val_cfg=None, val_evaluator=None,
        custom_hooks=[SaveToCheckpointDir(5), *overrides.get("custom_hooks", [])],
    )  # fmt: skip
    return Runner(**kwargs)


# ------------------------------------------------------------ files on a store
def test_a_checkpoint_at_a_url_has_the_bytes_of_a_file_and_loads_safely(
    store: str, tmp_path: Path
) -> None:
    small, large = checkpoint(), {"w": torch.arange(9 << 20, dtype=torch.float32)}  # 36 MiB streams
    for name, value in (("small.pth", small), ("large.pth", large)):
        save_checkpoint(value, f"{store}/{name}")
        save_checkpoint(value, tmp_path / name)
        assert (
            MEMORY.cat_file(f"{store.removeprefix('memory://')}/{name}")
            == (tmp_path / name).read_bytes()
        ), "the checksum comment must be written the same way"
    loaded = load_checkpoint_file(f"{store}/large.pth")
    assert torch.equal(loaded["w"], large["w"])
    assert load_checkpoint_file(f"{store}/small.pth")["meta"] == small["meta"]
    assert keys(store) == ["large.pth", "small.pth"]  # no temporary key is left


def test_a_damaged_or_unsafe_object_is_refused_by_its_url(store: str) -> None:
    save_checkpoint(checkpoint(), f"{store}/good.pth")
    path = f"{store.removeprefix('memory://')}/good.pth"
    data = bytearray(MEMORY.cat_file(path))
    data[len(data) // 2] ^= 0xFF
    MEMORY.pipe_file(path, bytes(data))
    with pytest.raises(CheckpointError, match=r"good\.pth' was damaged after it was written"):
        load_checkpoint_file(f"{store}/good.pth")
    save_checkpoint({"meta": {}, "when": io.StringIO("code")}, f"{store}/unsafe.pth")
    with pytest.raises(pickle.UnpicklingError, match=r"unsafe\.pth' contains the global"):
        load_checkpoint_file(f"{store}/unsafe.pth")
    assert isinstance(load_checkpoint_file(f"{store}/unsafe.pth", weights_only=False)["when"],
                      io.StringIO)  # fmt: skip
    with pytest.raises(FileNotFoundError, match="checkpoint file not found"):
        load_checkpoint_file(f"{store}/missing.pth")


def test_a_write_failing_midway_leaves_the_previous_object_and_no_temporary_key(
    store: str,
) -> None:
    """A store shows an object while it is written: the target is never the one written."""
    target = f"{store}/epoch_2.pth"
    save_checkpoint(checkpoint(2.0), target)

    def half_then_disk_full(file: Any) -> None:
        file.write(b"x" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=r"could not write memory://.*epoch_2\.pth: No space") as err:
        write_atomically(target, half_then_disk_full)
    assert err.value.errno == errno.ENOSPC
    assert torch.equal(load_checkpoint_file(target)["state_dict"]["w"], torch.full((3,), 2.0))
    assert keys(store) == ["epoch_2.pth"]


def test_the_pointer_names_the_url_in_the_store_or_in_a_local_work_dir(
    store: str, tmp_path: Path
) -> None:
    assert find_latest_checkpoint(store) is None  # no pointer yet
    target = f"{store}/iter_5.pth"
    save_checkpoint(checkpoint(), target)
    update_last_checkpoint(store, target)
    assert MEMORY.cat_file(f"{store.removeprefix('memory://')}/last_checkpoint") == target.encode()
    assert find_latest_checkpoint(store) == target
    update_last_checkpoint(tmp_path, target)  # a local work_dir, checkpoints in out_dir's store
    assert (tmp_path / "last_checkpoint").read_text() == target
    assert find_latest_checkpoint(tmp_path) == target
    assert remove_file(target) is True
    assert remove_file(target) is False  # already gone is fine
    assert find_latest_checkpoint(store) is None  # names an object that is gone


# ------------------------------------------------------------ backend_args
def test_backend_args_are_fsspec_storage_options_with_an_optional_backend() -> None:
    given = {"backend": "s3", "endpoint_url": "http://127.0.0.1:9000", "key": "k"}
    options = check_storage_args("s3://bucket/run", backend_args=given)
    assert options == given and options is not given
    assert check_storage_args("memory://run", backend_args={"backend": "fsspec"}) == {
        "backend": "fsspec"
    }
    assert check_storage_args(None, backend_args={"key": "k"}) == {"key": "k"}  # not known yet
    assert check_storage_args("/tmp/run") is None
    with pytest.warns(FutureWarning, match="file_client_args is MMEngine's deprecated name"):
        assert check_storage_args("s3://b/run", file_client_args={"key": "k"}) == {"key": "k"}


@pytest.mark.parametrize(
    ("path", "args", "message"),
    [
        ("s3://b/run", {"backend": "petrel"}, r"MMEngine's 'petrel' client, which is not"),
        ("s3://b/run", {"backend": "gcs"}, r"names the 'gcs' backend, but 's3://b/run' is s3://"),
        ("s3://b/run", {"backend": "local"}, r"names the 'local' backend, but 's3://b/run'"),
        ("/tmp/run", {"key": "k"}, r"gives options \['key'\] for the local path '/tmp/run'"),
        ("/tmp/run", {"backend": "s3"}, r"gives the 's3' backend for the local path"),
    ],
)
def test_storage_options_that_do_not_fit_the_path_are_refused(
    path: str, args: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_storage_args(path, backend_args=args, owner="CheckpointHook")


def test_both_names_of_the_options_are_refused() -> None:
    with pytest.raises(ValueError, match="takes file_client_args or backend_args, not both"):
        check_storage_args("s3://b/run", {"key": "k"}, {"key": "k"})


# ------------------------------------------------------------ lazy imports and missing packages
def test_local_runs_never_import_fsspec_and_a_url_does(tmp_path: Path) -> None:
    code = (
        "import json, sys, torch, hooks_core;"
        "from hooks_core.checkpoint import save_checkpoint, load_checkpoint_file,"
        " update_last_checkpoint, find_latest_checkpoint;"
        f"path = {str(tmp_path / 'a.pth')!r};"
        "save_checkpoint({'w': torch.ones(2)}, path); load_checkpoint_file(path);"
        f"update_last_checkpoint({str(tmp_path)!r}, path);"
        f"find_latest_checkpoint({str(tmp_path)!r});"
        "before = sorted(m for m in sys.modules if m.split('.')[0] in ('fsspec', 's3fs'));"
        "save_checkpoint({'w': torch.ones(2)}, 'memory://lazy/a.pth');"
        "print(json.dumps([before, 'fsspec' in sys.modules, 's3fs' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [[], True, False]


def test_an_s3_url_without_s3fs_names_the_extra_to_install() -> None:
    assert importlib.util.find_spec("s3fs") is None, "the core environment must not have s3fs"
    with pytest.raises(ModuleNotFoundError, match=r"need s3fs: pip install .*hooks-core\[s3\]"):
        save_checkpoint(checkpoint(), "s3://bucket/run/epoch_1.pth")
    assert pip_install("hooks-core[s3]").endswith('hooks-core[s3]"')


def test_a_url_without_fsspec_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    for name in [name for name in sys.modules if name.split(".")[0] == "fsspec"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fsspec", None)  # what an environment without it gives
    with pytest.raises(ModuleNotFoundError, match=r"need fsspec: pip install .*hooks-core\[s3\]"):
        load_checkpoint_file(f"{store}/epoch_1.pth")


# ------------------------------------------------------------ the runner
def test_a_url_work_dir_keeps_checkpoints_there_and_logs_in_a_local_mirror(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = iter_run(store, 10)
    runner.train()
    mirror = tmp_path / "work_dirs" / "memory" / store.removeprefix("memory://")
    assert (runner.work_dir, runner.checkpoint_dir) == (str(mirror), store)
    assert keys(store) == ["iter_10.pth", "iter_5.pth", "last_checkpoint"]
    assert find_latest_checkpoint(store) == f"{store}/iter_10.pth"
    assert (mirror / runner.timestamp / f"{runner.timestamp}.log").is_file()
    assert not list(mirror.rglob("*.pth"))

    resumed = iter_run(store, 15, resume=True)
    assert resumed.resume_meta is not None and resumed.resume_meta["iter"] == 10
    resumed.train()
    assert resumed.iter == 15
    assert find_latest_checkpoint(store) == f"{store}/iter_15.pth"
    final = load_checkpoint_file(f"{store}/iter_15.pth")["state_dict"]
    for key, value in resumed.model.state_dict().items():
        assert torch.equal(final[key], value), key


def test_load_from_a_url_loads_its_weights(store: str, tmp_path: Path) -> None:
    iter_run(f"{store}/first", 5).train()
    runner = iter_run(str(tmp_path / "second"), 5, load_from=f"{store}/first/iter_5.pth")
    runner.load_or_resume()
    saved = load_checkpoint_file(f"{store}/first/iter_5.pth")["state_dict"]
    for key, value in runner.model.state_dict().items():
        assert torch.equal(saved[key], value), key


def test_a_kill_mid_upload_leaves_the_previous_checkpoint_to_resume(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a writer killed while uploading iter_15 leaves: half of it under a temporary key."""
    monkeypatch.chdir(tmp_path)
    iter_run(store, 10).train()
    root = store.removeprefix("memory://")
    half = MEMORY.cat_file(f"{root}/iter_10.pth")[:500]
    MEMORY.pipe_file(f"{root}/.iter_15.pth.0123456789ab.tmp", half)
    resumed = iter_run(store, 15, resume=True)
    assert resumed.resume_meta is not None and resumed.resume_meta["iter"] == 10


def test_a_damaged_latest_object_falls_back_to_the_newest_intact_one(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    iter_run(store, 15).train()
    root = store.removeprefix("memory://")
    MEMORY.pipe_file(f"{root}/iter_15.pth", MEMORY.cat_file(f"{root}/iter_15.pth")[:300])
    resumed = iter_run(store, 20, resume=True)
    assert resumed.resume_meta is not None and resumed.resume_meta["iter"] == 10


def test_sigterm_saves_into_the_url_work_dir(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = iter_run(store, 10, custom_hooks=[StopAfter(3)])
    with pytest.raises(TrainingInterrupted):
        runner.train()
    assert find_latest_checkpoint(store) == f"{store}/interrupted_iter_3.pth"
    assert runner.message_hub.get_info("interrupted_ckpts")[0]["path"] == (
        f"{store}/interrupted_iter_3.pth"
    )


def test_a_file_url_work_dir_keeps_everything_in_its_folder(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/run"
    runner = iter_run(url, 5)
    runner.train()
    assert (runner.work_dir, runner.checkpoint_dir) == (str(tmp_path / "run"), url)
    assert (tmp_path / "run" / "last_checkpoint").read_text() == f"{url}/iter_5.pth"
    assert sorted(p.name for p in (tmp_path / "run").glob("*.pth")) == ["iter_5.pth"]
    resumed = iter_run(url, 10, resume=True)
    assert resumed.resume_meta is not None and resumed.resume_meta["iter"] == 5
