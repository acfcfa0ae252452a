"""CheckpointHook on a real S3-compatible server: moto's server on 127.0.0.1, through s3fs.

The hook gets MMEngine-style ``backend_args`` holding s3fs's storage options
(endpoint, key, secret); the runner reads ``last_checkpoint`` and resumes with
what fsspec is configured with (``fsspec.config.conf``, which the
``FSSPEC_S3_*`` environment variables fill), as a user would set it up.
Each test has a bucket of its own; the listings and object bytes are read
back with boto3, not through the code under test.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import fsspec.config
import pytest
import s3fs
import torch
from eval_parts import Heavy, ScriptedMetric, epochs, eval_runner_kwargs
from ports import free_port

from hooks_core import Runner
from hooks_core.checkpoint import find_latest_checkpoint, load_checkpoint_file

if TYPE_CHECKING:
    from collections.abc import Iterator

KEY, SECRET = "testing", "testing"
PART = 5 << 20  # the smallest part S3 takes: checkpoints above it upload in parts


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A moto S3 server on a free port of 127.0.0.1, stopped after the module's tests."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    """Wait (at most 60 s, as a loaded machine may take) until the server answers HTTP."""
    for _ in range(600):
        if server.poll() is not None:
            pytest.fail(f"moto_server exited with {server.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    pytest.fail("moto_server did not answer within 60 s")


class Bucket:
    """A fresh bucket on the server: its name, the hook's backend_args, and boto3 to read it."""

    def __init__(self, endpoint: str) -> None:
        self.name = f"ckpt-{uuid.uuid4().hex[:12]}"
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
            region_name="us-east-1",
        )  # fmt: skip
        self.client.create_bucket(Bucket=self.name)
        self.options = {"endpoint_url": endpoint, "key": KEY, "secret": SECRET}
        self.backend_args = {"backend": "s3", **self.options, "default_block_size": PART}

    def url(self, key: str = "") -> str:
        return f"s3://{self.name}/{key}"

    def keys(self, prefix: str = "") -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.name, Prefix=prefix)
        return sorted(item["Key"].removeprefix(prefix) for item in listing.get("Contents", []))

    def read(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return data

    def uploads_in_progress(self) -> list[Any]:
        return list(self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", []))


@pytest.fixture
def bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Bucket]:
    """A new bucket; fsspec is configured for the server, and local mirrors land in tmp_path."""
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint, "key": KEY,
                                                   "secret": SECRET})  # fmt: skip
    monkeypatch.chdir(tmp_path)
    made = Bucket(endpoint)
    yield made
    made.client.close()


def scripted(work_dir: str, scores: dict[int, float], max_epochs: int, **overrides: Any) -> Runner:
    """The toy run validated by `scores` (one per epoch), checkpointing as `checkpoint` says."""
    from hooks_eval import Evaluator

    metric = ScriptedMetric(scores, "acc")
    checkpoint = overrides.pop("checkpoint")
    runner = Runner(
        **eval_runner_kwargs(work_dir, val_evaluator=Evaluator([metric]), train_cfg=epochs(
            max_epochs), **overrides),
        default_hooks=dict(checkpoint={"type": "CheckpointHook", **checkpoint}),
    )  # fmt: skip
    metric.clock = lambda: runner.epoch
    return runner


def test_keep_n_and_the_best_live_in_the_url_work_dir_and_a_resume_continues_there(
    bucket: Bucket,
) -> None:
    scores = {1: 0.5, 2: 0.7, 3: 0.6, 4: 0.9, 5: 0.8, 6: 0.95}
    checkpoint = dict(interval=1, max_keep_ckpts=2, save_best="acc",
                      backend_args=bucket.backend_args)  # fmt: skip
    runner = scripted(bucket.url("run"), scores, 5, checkpoint=checkpoint)
    runner.train()
    assert bucket.keys("run/") == [
        "best_acc_epoch_4.pth", "epoch_4.pth", "epoch_5.pth", "last_checkpoint"
    ]  # fmt: skip
    assert bucket.read("run/last_checkpoint").decode() == bucket.url("run/epoch_5.pth")
    assert runner.message_hub.get_info("best_ckpt") == bucket.url("run/best_acc_epoch_4.pth")
    best = load_checkpoint_file(bucket.url("run/best_acc_epoch_4.pth"))
    assert (best["meta"]["epoch"], "optimizer" in best) == (4, False)
    assert not list(Path(runner.work_dir).rglob("*.pth"))  # the local mirror has the logs only

    resumed = scripted(bucket.url("run"), scores, 6, checkpoint=checkpoint, resume=True)
    assert resumed.resume_meta is not None and resumed.resume_meta["epoch"] == 5
    resumed.train()
    assert bucket.keys("run/") == [
        "best_acc_epoch_6.pth", "epoch_5.pth", "epoch_6.pth", "last_checkpoint"
    ]  # fmt: skip
    saved = load_checkpoint_file(bucket.url("run/epoch_6.pth"))["state_dict"]
    for key, value in resumed.model.state_dict().items():
        assert torch.equal(saved[key], value), key


def test_out_dir_on_s3_with_a_local_work_dir_saves_in_the_background_and_resumes(
    bucket: Bucket, tmp_path: Path
) -> None:
    work_dir = str(tmp_path / "work")
    checkpoint = dict(
        interval=1,
        max_keep_ckpts=1,
        async_save=True,
        out_dir=bucket.url("ckpts"),
        backend_args=bucket.backend_args,
        published_keys=["meta", "state_dict"],
    )
    scripted(work_dir, {1: 0.1, 2: 0.2}, 2, checkpoint=checkpoint).train()
    names = bucket.keys("ckpts/work/")
    (published,) = [name for name in names if name.startswith("epoch_2-")]
    assert sorted(set(names) - {published}) == ["epoch_2.pth"]
    digest = hashlib.sha256(bucket.read(f"ckpts/work/{published}")).hexdigest()
    assert published == f"epoch_2-{digest[:8]}.pth"
    assert (tmp_path / "work" / "last_checkpoint").read_text() == bucket.url(
        "ckpts/work/epoch_2.pth"
    )
    resumed = scripted(work_dir, {3: 0.3}, 3, checkpoint=checkpoint, resume=True)
    assert resumed.resume_meta is not None and resumed.resume_meta["epoch"] == 2


class CutAfter:
    """The file s3fs opened, whose connection drops once `limit` bytes went into it.

    The fake of a failure only: the bytes before the cut go to the real file,
    which uploads its first part to the server, then the write raises as a
    reset connection does.
    """

    def __init__(self, file: Any, limit: int) -> None:
        self._file, self._left = file, limit
        self.parts_uploaded = 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if len(view) <= self._left:
            self._left -= len(view)
            return int(self._file.write(view))
        self._file.write(view[: self._left])
        self.parts_uploaded = len(self._file.parts or [])
        raise ConnectionResetError(104, "Connection reset by peer")

    def __getattr__(self, name: str) -> Any:  # flush, close, discard...
        return getattr(self._file, name)


def test_an_upload_cut_midway_keeps_the_previous_checkpoint_and_resume_uses_it(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = dict(interval=1, backend_args=bucket.backend_args)
    scripted(bucket.url("run"), {1: 0.1}, 1, checkpoint=checkpoint, model=Heavy()).train()
    before = bucket.read("run/epoch_1.pth")
    assert len(before) > PART

    cuts: list[CutAfter] = []
    real_open = s3fs.S3FileSystem._open

    def open_and_cut(fs: Any, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        file = real_open(fs, path, mode, **kwargs)
        if "w" in mode and ".epoch_2.pth." in path:
            cuts.append(CutAfter(file, PART + (1 << 20)))
            return cuts[-1]
        return file

    monkeypatch.setattr(s3fs.S3FileSystem, "_open", open_and_cut)
    interrupted = scripted(bucket.url("run"), {2: 0.2}, 2, checkpoint=checkpoint, model=Heavy(),
                           resume=True)  # fmt: skip
    with pytest.raises(OSError, match=r"could not write s3://.*/run/epoch_2\.pth: Connection"):
        interrupted.train()
    assert [cut.parts_uploaded for cut in cuts] == [1]  # the cut came mid-upload
    assert bucket.uploads_in_progress() == []  # and the upload was aborted
    assert bucket.keys("run/") == ["epoch_1.pth", "last_checkpoint"]  # no temporary key either
    assert bucket.read("run/epoch_1.pth") == before
    assert find_latest_checkpoint(bucket.url("run")) == bucket.url("run/epoch_1.pth")

    monkeypatch.setattr(s3fs.S3FileSystem, "_open", real_open)
    resumed = scripted(bucket.url("run"), {2: 0.2}, 2, checkpoint=checkpoint, model=Heavy(),
                       resume=True)  # fmt: skip
    assert resumed.resume_meta is not None and resumed.resume_meta["epoch"] == 1
    resumed.train()
    assert bucket.read("run/last_checkpoint").decode() == bucket.url("run/epoch_2.pth")
    assert load_checkpoint_file(bucket.url("run/epoch_2.pth"))["meta"]["epoch"] == 2


KILL_WORKER = Path(__file__).with_name("s3_kill_worker.py")


def test_a_process_killed_mid_upload_leaves_the_last_complete_checkpoint_to_resume(
    bucket: Bucket, tmp_path: Path
) -> None:
    """A real SIGKILL while a checkpoint's parts are on their way to the server."""
    env = {**os.environ, "FSSPEC_S3_ENDPOINT_URL": bucket.options["endpoint_url"],
           "FSSPEC_S3_KEY": KEY, "FSSPEC_S3_SECRET": SECRET}  # fmt: skip
    command = [sys.executable, str(KILL_WORKER), bucket.url("run"),
               json.dumps(bucket.backend_args), "20"]  # fmt: skip
    errors = tmp_path / "worker.err"
    with errors.open("wb") as stderr:
        child = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=stderr)
    try:
        epoch = _epoch_uploading_after_the_first(bucket, child, errors)
    finally:
        child.kill()
        child.wait(timeout=60)
    assert f"epoch_{epoch}.pth" not in bucket.keys("run/")  # never completed
    latest = find_latest_checkpoint(bucket.url("run"))
    assert latest == bucket.url(f"run/epoch_{epoch - 1}.pth")
    assert load_checkpoint_file(latest)["meta"]["epoch"] == epoch - 1  # whole and intact

    kwargs = eval_runner_kwargs(bucket.url("run"), model=Heavy(ballast_mib=24),
                                train_cfg=epochs(epoch))  # fmt: skip
    checkpoint = dict(type="CheckpointHook", interval=1, backend_args=bucket.backend_args)
    resumed = Runner(**kwargs, default_hooks=dict(checkpoint=checkpoint), resume=True)
    assert resumed.resume_meta is not None and resumed.resume_meta["epoch"] == epoch - 1
    resumed.train()
    assert find_latest_checkpoint(bucket.url("run")) == bucket.url(f"run/epoch_{epoch}.pth")


def _epoch_uploading_after_the_first(
    bucket: Bucket, child: subprocess.Popen[bytes], errors: Path
) -> int:
    """The epoch of the first checkpoint after epoch 1 seen uploading (in parts) on the server."""
    deadline = time.monotonic() + 300  # a loaded machine starts torch slowly
    while time.monotonic() < deadline:
        for upload in bucket.uploads_in_progress():  # keys `run/.epoch_N.pth.<token>.tmp`
            match = re.fullmatch(r"run/\.epoch_(\d+)\.pth\.\w+\.tmp", upload["Key"])
            if match and int(match.group(1)) > 1:
                return int(match.group(1))
        if child.poll() is not None:
            pytest.fail(f"the worker ended before an upload was seen: {errors.read_text()[-2000:]}")
        time.sleep(0.002)
    pytest.fail("no checkpoint upload was seen in 300 s")
