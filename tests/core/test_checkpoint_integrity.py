"""Damaged checkpoints are refused by name, resume falls back past them, failed writes say why.

Every damage here is real bytes on disk (truncated, emptied, overwritten, bits
flipped at seeded positions); every write failure is the kernel's own: EFBIG from a
file-size limit in a subprocess, ENOSPC and EROFS from a tiny tmpfs where this
machine lets the test mount one.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch
from torch import nn
from toy import SaveEveryIter, ToyModel, runner_kwargs

from hooks_core import Runner
from hooks_core.checkpoint import (
    CheckpointError,
    find_latest_checkpoint,
    load_checkpoint_file,
    read_last_checkpoint,
    save_checkpoint,
    write_atomically,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

WORKER = Path(__file__).with_name("checkpoint_write_worker.py")


def make_checkpoint() -> dict[str, Any]:
    torch.manual_seed(0)
    model = nn.Linear(64, 64)
    return {"meta": {"epoch": 1, "iter": 5, "seed": 3}, "state_dict": model.state_dict()}


def tensor_data(path: Path) -> range:
    """Where the largest tensor's bytes lie in the archive (stored uncompressed)."""
    with zipfile.ZipFile(path) as archive:
        tensors = [info for info in archive.infolist() if "/data/" in info.filename]
    info = max(tensors, key=lambda i: i.file_size)
    with open(path, "rb") as file:
        file.seek(info.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", file.read(4))
    start = info.header_offset + 30 + name_length + extra_length
    return range(start, start + info.file_size)


def flip_bytes(path: Path, positions: list[int]) -> None:
    data = bytearray(path.read_bytes())
    for position in positions:
        data[position] ^= 0xFF
    path.write_bytes(bytes(data))


def log_text(runner: Runner) -> str:
    return (Path(runner.log_dir) / f"{runner.timestamp}.log").read_text(encoding="utf-8")


# ------------------------------------------------------------ the format
def large_checkpoint() -> dict[str, Any]:
    """Over 32 MiB of tensors: streamed to the file once past the archive kept in memory."""
    weight = torch.arange(33 * 2**18, dtype=torch.float32).reshape(-1, 64)
    return {"meta": {"epoch": 1, "iter": 5, "seed": 3}, "state_dict": {"weight": weight}}


@pytest.mark.parametrize("make", [make_checkpoint, large_checkpoint])
def test_a_checkpoint_stays_one_ordinary_archive_with_its_checksum(
    tmp_path: Path, make: Callable[[], dict[str, Any]]
) -> None:
    path = tmp_path / "epoch_1.pth"
    checkpoint = make()
    save_checkpoint(checkpoint, path)
    with zipfile.ZipFile(path) as archive:  # python's reader takes the comment
        assert archive.testzip() is None
        comment = archive.comment
    assert comment.startswith(b"hooks-core sha256 ") and len(comment) == 18 + 64
    for loaded in (torch.load(path, weights_only=True), torch.load(path, mmap=True)):
        assert torch.equal(loaded["state_dict"]["weight"], checkpoint["state_dict"]["weight"])
    copy = tmp_path / "best.pth"
    shutil.copy(path, copy)  # what the best-checkpoint logic does
    assert load_checkpoint_file(copy)["meta"] == checkpoint["meta"]
    # The digest covers the archive as torch wrote it: an empty comment.
    data = path.read_bytes()
    written = data[: -len(comment) - 2] + b"\0\0"
    assert comment.endswith(hashlib.sha256(written).hexdigest().encode())


def test_files_without_a_checksum_load_as_before(tmp_path: Path) -> None:
    checkpoint = make_checkpoint()
    torch.save(checkpoint, tmp_path / "plain.pth")  # an older file, or MMEngine's
    torch.save(checkpoint, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)
    for name in ("plain.pth", "legacy.pth"):
        loaded = load_checkpoint_file(tmp_path / name)
        assert torch.equal(loaded["state_dict"]["bias"], checkpoint["state_dict"]["bias"])


# ------------------------------------------------------------ damaged files
def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 5])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def overwrite_with_random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(7).randbytes(path.stat().st_size))


def flip_64_bytes(path: Path, anywhere: int = 16) -> None:
    """Flip 64 bytes at seeded positions, all but `anywhere` of them in the largest tensor."""
    rng = random.Random(20261201)
    size = path.stat().st_size
    positions = rng.sample(tensor_data(path), 64 - anywhere) + rng.sample(range(size), anywhere)
    flip_bytes(path, positions)


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (truncate, r"is truncated or is not a torch checkpoint \(torch: "),
        (empty, r"is empty \(0 bytes\)"),
        (overwrite_with_random_bytes, r"is truncated or is not a torch checkpoint"),
        (flip_64_bytes, r"was damaged after it was written: the SHA-256 of its content is"),
    ],
)
def test_a_damaged_file_is_refused_by_name(tmp_path: Path, damage: Any, says: str) -> None:
    path = tmp_path / "iter_5.pth"
    save_checkpoint(make_checkpoint(), path)
    damage(path)
    with pytest.raises(CheckpointError, match=says) as info:
        load_checkpoint_file(path)
    assert str(path) in str(info.value)
    assert info.value.filename == str(path)
    assert isinstance(info.value, RuntimeError)  # what torch raises for a corrupt archive


def test_flipped_bytes_in_the_weights_load_silently_without_the_checksum(tmp_path: Path) -> None:
    path = tmp_path / "iter_5.pth"
    save_checkpoint(make_checkpoint(), path)
    recorded = zipfile.ZipFile(path).comment[-64:].decode()
    flip_bytes(path, random.Random(5).sample(tensor_data(path), 64))
    damaged = torch.load(path, weights_only=True)  # torch itself notices nothing
    assert not torch.equal(
        damaged["state_dict"]["weight"], make_checkpoint()["state_dict"]["weight"]
    )
    with pytest.raises(CheckpointError) as info:
        load_checkpoint_file(path)
    message = str(info.value)
    assert f"but {recorded} was recorded when it was saved" in message
    assert info.value.__cause__ is None


def test_a_truncated_file_without_a_checksum_names_torchs_reason(tmp_path: Path) -> None:
    path = tmp_path / "mmengine.pth"
    torch.save(make_checkpoint(), path)
    truncate(path)
    with pytest.raises(CheckpointError, match="truncated or is not a torch checkpoint") as info:
        load_checkpoint_file(path)
    cause = info.value.__cause__
    assert isinstance(cause, (OSError, RuntimeError))  # torch's, depending on where it is cut
    assert f"(torch: {type(cause).__name__}: " in str(info.value)


def test_an_intact_file_keeps_torchs_own_errors(tmp_path: Path) -> None:
    path = tmp_path / "iter_5.pth"
    save_checkpoint(make_checkpoint(), path)
    with pytest.raises(RuntimeError) as info:  # a caller's mistake, not damage
        load_checkpoint_file(path, map_location="no-such-device")
    assert not isinstance(info.value, CheckpointError)


# ------------------------------------------------------------ resume falls back
def train(work_dir: Path, max_iters: int, **overrides: Any) -> Runner:
    runner = Runner(
        **runner_kwargs(work_dir, train_cfg=dict(by_epoch=False, max_iters=max_iters), **overrides),
        custom_hooks=[SaveEveryIter()],
    )
    runner.train()
    return runner


def weights_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in model.state_dict().items()}


def test_resume_falls_back_past_damaged_newest_files_and_ends_bit_identical(
    tmp_path: Path,
) -> None:
    reference = weights_of(train(tmp_path / "reference", 12).model)
    run = tmp_path / "run"
    train(run, 8)  # the run that stopped; iter_8 and iter_7 are then damaged
    assert find_latest_checkpoint(run) == str(run / "iter_8.pth")
    truncate(run / "iter_8.pth")
    flip_64_bytes(run / "iter_7.pth", anywhere=0)  # found by its meta, refused by its checksum
    os.symlink("iter_7.pth", run / "latest.pth")  # MMCV's pointer: tried once, as iter_7

    resumed = train(run, 12, resume=True)

    for key, value in reference.items():
        assert torch.equal(resumed.model.state_dict()[key], value), f"{key} differs"
    log = log_text(resumed)
    warning = next(line for line in log.splitlines() if "the newest intact checkpoint" in line)
    assert "WARNING" in warning
    assert f"resuming from {run / 'iter_6.pth'} (epoch 0, iter 6)" in warning
    assert f"{run / 'iter_8.pth'}' (" in warning and "is truncated" in warning
    assert f"{run / 'iter_7.pth'}' was damaged after it was written" in warning
    assert warning.count("iter_7.pth") == 1  # latest.pth is the same file


def test_resume_past_a_newest_checkpoint_that_is_gone_ends_bit_identical(
    tmp_path: Path,
) -> None:
    """A crash may keep the pointer's rename but lose the checkpoint's, as removing it by hand."""
    reference = weights_of(train(tmp_path / "reference", 12).model)
    run = tmp_path / "run"
    train(run, 8)
    (run / "iter_8.pth").unlink()

    resumed = train(run, 12, resume=True)

    for key, value in reference.items():
        assert torch.equal(resumed.model.state_dict()[key], value), f"{key} differs"
    warning = next(line for line in log_text(resumed).splitlines() if "newest intact" in line)
    assert "WARNING" in warning and "Skipped" not in warning
    assert f"resuming from {run / 'iter_7.pth'} (epoch 0, iter 7)" in warning
    assert f"{run / 'last_checkpoint'} names {run / 'iter_8.pth'}, which does not exist" in warning


def test_an_empty_pointer_resumes_the_newest_checkpoint_by_its_meta(tmp_path: Path) -> None:
    """A crash may lose the pointer's bytes, which are not synced; its rename is."""
    run = tmp_path / "run"
    train(run, 3)
    empty(run / "last_checkpoint")
    assert read_last_checkpoint(run) == ""
    assert find_latest_checkpoint(run) is None  # MMEngine's function does not guess

    first = (run / "iter_3.pth").stat().st_ino

    resumed = train(run, 4, resume=True)

    assert (run / "iter_3.pth").stat().st_ino == first  # not written again: iteration 4 only
    assert read_last_checkpoint(run) == str(run / "iter_4.pth")
    warning = next(line for line in log_text(resumed).splitlines() if "newest intact" in line)
    assert f"{run / 'iter_3.pth'} (epoch 0, iter 3)" in warning
    assert f"because {run / 'last_checkpoint'} is empty" in warning


@pytest.mark.parametrize(
    ("torn", "reason"),
    [
        (lambda new: b"\0" * len(new), "is empty"),  # extended, its data lost
        (lambda new: new[:-2], "which does not exist"),  # its length lost
        (lambda new: b"\xff\xfe" + new[2:], "which does not exist"),  # not UTF-8
    ],
    ids=["zeros", "cut", "not-utf-8"],
)
def test_a_pointer_torn_by_a_crash_resumes_the_newest_checkpoint(
    tmp_path: Path, torn: Callable[[bytes], bytes], reason: str
) -> None:
    """The pointer is overwritten in place: a crash in the middle may leave any of these."""
    run = tmp_path / "run"
    train(run, 3)
    pointer = run / "last_checkpoint"
    pointer.write_bytes(torn(pointer.read_bytes()))

    resumed = train(run, 4, resume=True)

    assert read_last_checkpoint(run) == str(run / "iter_4.pth")
    warning = next(line for line in log_text(resumed).splitlines() if "newest intact" in line)
    assert f"{run / 'iter_3.pth'} (epoch 0, iter 3)" in warning
    assert reason in warning


def test_a_pointer_to_a_missing_file_and_nothing_else_is_an_error(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(run, 1)
    (run / "iter_1.pth").unlink()
    with pytest.raises(CheckpointError, match="which does not exist, and no other one") as info:
        Runner(**runner_kwargs(run, resume=True))
    assert "no other checkpoint file is there" in str(info.value)
    assert "resume=False" in str(info.value)


def test_no_pointer_is_a_fresh_run_even_beside_checkpoints(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(run, 2)
    assert read_last_checkpoint(run) == str(run / "iter_2.pth")
    (run / "last_checkpoint").unlink()
    assert read_last_checkpoint(run) is None
    first = (run / "iter_1.pth").stat().st_ino
    train(run, 2, resume=True)
    assert (run / "iter_1.pth").stat().st_ino != first  # trained again from the start


def test_resume_with_no_intact_checkpoint_lists_what_it_tried(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(run, 2)
    truncate(run / "iter_2.pth")
    empty(run / "iter_1.pth")
    (run / "pretrained.pth").write_bytes(b"")  # a stray file is named too, not resumed
    torch.save({"weights": torch.zeros(1)}, run / "export.pth")
    with pytest.raises(CheckpointError, match="no other one there is intact") as info:
        Runner(**runner_kwargs(run, resume=True))
    message = str(info.value)
    for name in ("iter_2.pth", "iter_1.pth", "pretrained.pth"):
        assert str(run / name) in message
    assert f"{run / 'export.pth'} is no training checkpoint" in message
    assert "resume=False" in message and "load_from" in message


def test_resuming_an_explicit_load_from_has_no_fallback(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(run, 3)
    flip_64_bytes(run / "iter_3.pth")
    with pytest.raises(CheckpointError, match="damaged after it was written") as info:
        Runner(**runner_kwargs(run, load_from=str(run / "iter_3.pth"), resume=True))
    assert info.value.filename == str(run / "iter_3.pth")


# ------------------------------------------------------------ shapes
def wider_model() -> ToyModel:
    torch.manual_seed(1)
    model = ToyModel()
    model.net[0] = nn.Linear(4, 16)
    model.net[3] = nn.Linear(16, 1)
    return model


def test_resuming_a_checkpoint_of_another_shape_is_an_error(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(run, 2)
    model = wider_model()
    before = weights_of(model)
    runner = Runner(**runner_kwargs(run, model=model, resume=True))
    with pytest.raises(
        RuntimeError, match=re.escape(f"cannot resume from {run / 'iter_2.pth'}")
    ) as info:
        runner.train()
    message = str(info.value)
    assert "net.0.weight (checkpoint (8, 4), model (16, 4))" in message
    assert "net.3.weight (checkpoint (1, 8), model (1, 16))" in message
    assert "load_from without resume" in message
    after = weights_of(model)
    assert all(torch.equal(before[key], after[key]) for key in before)  # nothing was loaded


def test_loading_weights_of_another_shape_warns_in_the_log(tmp_path: Path) -> None:
    train(tmp_path / "run", 2)
    runner = Runner(
        **runner_kwargs(tmp_path / "new", model=wider_model(),
                        load_from=str(tmp_path / "run" / "iter_2.pth"))
    )  # fmt: skip
    runner.load_or_resume()
    log = log_text(runner)
    assert "not loaded into ToyModel because the shapes differ: " in log
    assert "net.0.weight (checkpoint (8, 4), model (16, 4))" in log


# ------------------------------------------------------------ write errors
def test_a_file_size_limit_fails_the_save_by_name_and_keeps_the_previous_one(
    tmp_path: Path,
) -> None:
    work_dir = tmp_path / "run"
    limit = 256 * 1024  # above the log file and the first checkpoint, below the second
    result = subprocess.run(
        [sys.executable, str(WORKER), str(work_dir), str(limit)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    report = json.loads(result.stdout.splitlines()[-1])
    for name in ("iter_2.pth", "iter_1.pth"):
        error = report[name]
        assert error["errno"] == errno.EFBIG
        assert error["message"].startswith(f"[Errno {errno.EFBIG}] could not write ")
        assert f"{work_dir / name}: File too large" in error["message"]
        assert error["cause"] == ["OSError", errno.EFBIG]  # the kernel's, not torch's RuntimeError
    assert not (work_dir / "iter_2.pth").exists()
    first = (work_dir / "iter_1.pth").read_bytes()
    assert hashlib.sha256(first).hexdigest() == report["iter_1_sha256"]
    assert find_latest_checkpoint(work_dir) == str(work_dir / "iter_1.pth")
    assert [p.name for p in work_dir.iterdir() if p.name.endswith(".tmp")] == []
    log = Path(report["log_file"]).read_text(encoding="utf-8")
    line = next(line for line in log.splitlines() if "saving a checkpoint failed" in line)
    assert " ERROR " in line
    assert f"could not write {work_dir / 'iter_2.pth'}: File too large" in line


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, where this machine lets the test mount one (root in a sandbox)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_a_full_disk_fails_the_save_by_name_and_keeps_the_previous_one(
    tmp_path: Path, tiny_disk: Path
) -> None:
    runner = Runner(**runner_kwargs(tmp_path / "run"))
    first = runner.save_checkpoint(tiny_disk, "iter_1.pth")
    before = Path(first).read_bytes()
    ballast = {"ballast": torch.zeros(512 * 1024, dtype=torch.uint8)}  # twice the disk
    with pytest.raises(OSError) as info:  # noqa: PT011 - the errno is checked below
        runner.save_checkpoint(tiny_disk, "iter_1.pth", meta=ballast)
    assert info.value.errno == errno.ENOSPC
    assert f"could not write {tiny_disk / 'iter_1.pth'}: No space left on device" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.ENOSPC
    assert Path(first).read_bytes() == before
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["iter_1.pth"]  # no temporary file
    assert find_latest_checkpoint(runner.work_dir) == first
    line = next(line for line in log_text(runner).splitlines() if "saving a checkpoint" in line)
    assert " ERROR " in line and str(info.value) in line


def test_a_read_only_file_system_fails_the_write_by_name(tiny_disk: Path) -> None:
    save_checkpoint({"version": 1}, tiny_disk / "epoch_1.pth")
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    with pytest.raises(OSError) as info:  # noqa: PT011 - the errno is checked below
        write_atomically(tiny_disk / "epoch_1.pth", lambda file: file.write(b"new"))
    assert info.value.errno == errno.EROFS
    assert f"could not write {tiny_disk / 'epoch_1.pth'}: Read-only file system" in str(info.value)
    assert load_checkpoint_file(tiny_disk / "epoch_1.pth") == {"version": 1}
