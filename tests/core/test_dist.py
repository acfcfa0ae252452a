"""Distributed helpers: single-process fallbacks, init_dist errors, and a real torchrun run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from ports import free_port

from hooks_core import dist as _dist
from hooks_core.dataset import DefaultSampler

WORKER = Path(__file__).with_name("dist_worker.py")
TORCHRUN_ENV = {
    "RANK": "0",
    "WORLD_SIZE": "1",
    "LOCAL_RANK": "0",
    "MASTER_ADDR": "127.0.0.1",
}


@pytest.fixture
def no_torchrun_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*TORCHRUN_ENV, "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def torchrun_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**TORCHRUN_ENV, "MASTER_PORT": str(free_port())}.items():
        monkeypatch.setenv(name, value)


def test_single_process_is_rank_0_of_1() -> None:
    assert not torch.distributed.is_initialized()
    assert _dist.get_dist_info() == (0, 1)
    assert (_dist.get_rank(), _dist.get_world_size()) == (0, 1)
    assert not _dist.is_distributed()
    assert _dist.is_main_process()


def test_collectives_do_nothing_in_a_single_process() -> None:
    obj = {"a": [1, 2]}
    assert _dist.broadcast_object(obj) is obj
    (gathered,) = _dist.all_gather_object(obj)
    assert gathered is obj
    assert _dist.broadcast_object(obj, src=3) is obj
    tensor = torch.tensor([1.0, 3.0])
    _dist.all_reduce_mean([tensor])
    assert tensor.tolist() == [1.0, 3.0]
    _dist.barrier()
    _dist.destroy_dist()  # nothing to destroy


def test_sync_random_seed_in_a_single_process() -> None:
    assert _dist.sync_random_seed(1234) == 1234
    seeds = {_dist.sync_random_seed() for _ in range(5)}
    assert all(isinstance(seed, int) and 0 <= seed < 2**31 for seed in seeds)
    assert len(seeds) > 1  # fresh draws


def test_master_only_runs_in_a_single_process() -> None:
    # Other ranks get None: checked in test_two_processes_under_torchrun.
    calls: list[int] = []

    @_dist.master_only
    def save(value: int) -> int:
        """Save something."""
        calls.append(value)
        return value * 2

    assert save(3) == 6
    assert save.__name__ == "save" and save.__doc__ == "Save something."
    assert calls == [3]


def test_init_dist_rejects_an_unknown_launcher() -> None:
    with pytest.raises(ValueError, match=r"unknown launcher 'slurm'; .*'none', 'pytorch'"):
        _dist.init_dist("slurm")


def test_init_dist_none_does_nothing(no_torchrun_env: None) -> None:
    _dist.init_dist("none")
    assert not _dist.is_distributed()


def test_init_dist_names_the_missing_torchrun_variables(
    no_torchrun_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="torchrun") as info:
        _dist.init_dist("pytorch")
    message = str(info.value)
    assert "RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT are missing" in message
    assert "torchrun --nproc_per_node" in message
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    with pytest.raises(ValueError, match=r"but MASTER_PORT is missing; launch with `torchrun"):
        _dist.init_dist("pytorch")
    assert not torch.distributed.is_initialized()


@pytest.mark.parametrize(
    ("cuda", "backend", "expected_backend", "expected_devices"),
    [
        (False, None, "gloo", []),
        (True, None, "nccl", [0]),
        (True, "gloo", "gloo", [0]),
    ],
)
def test_init_dist_picks_the_backend_and_cuda_device(
    torchrun_env: None,
    monkeypatch: pytest.MonkeyPatch,
    cuda: bool,
    backend: str | None,
    expected_backend: str,
    expected_devices: list[int],
) -> None:
    calls: list[dict[str, Any]] = []
    devices: list[int] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "set_device", devices.append)
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda **kw: calls.append(kw))
    _dist.init_dist("pytorch", backend=backend, timeout=None)
    assert calls == [{"backend": expected_backend, "timeout": None}]
    assert devices == expected_devices


def test_a_real_single_process_group(torchrun_env: None) -> None:
    _dist.init_dist("pytorch", backend="gloo")
    try:
        _dist.init_dist("pytorch")  # already initialised: nothing happens
        assert _dist.is_distributed()
        assert _dist.get_dist_info() == (0, 1)
        assert _dist.broadcast_object(["x", 1]) == ["x", 1]
        assert _dist.all_gather_object({"x": 1}) == [{"x": 1}]
        assert _dist.sync_random_seed(77) == 77
        tensor = torch.tensor([2.0, 4.0])
        _dist.all_reduce_mean(tensor for tensor in [tensor])
        assert tensor.tolist() == [2.0, 4.0]
        _dist.barrier()
    finally:
        _dist.destroy_dist()
    assert not _dist.is_distributed()
    assert _dist.get_dist_info() == (0, 1)


def test_importing_the_helpers_does_not_import_torch() -> None:
    code = (
        "import sys, hooks_core.dist as d, hooks_core.dataset;"
        "print(d.get_dist_info(), d.is_main_process(), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(0, 1) True False"


def test_two_processes_under_torchrun(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(WORKER), str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]

    for rank, result in enumerate(ranks):
        assert result["dist_info"] == [rank, 2]
        assert (result["rank"], result["world_size"]) == (rank, 2)
        assert result["is_distributed"] is True
        assert result["is_main_process"] is (rank == 0)
        assert result["master_only"] == (42 if rank == 0 else None)
        assert result["broadcast"] == {"from": 0, "items": [0, 0, 0]}
        assert result["broadcast_from_1"] == "rank 1"
        assert result["gathered"] == [{"from": 0, "items": [0]}, {"from": 1, "items": [1, 1]}]
        assert result["given_seed"] == 100  # rank 0's seed wins
        assert result["floats"] == [1.5, 3.0]  # means of [1, 2] and [2, 4]
        assert result["ints"] == [2]  # floor of the mean of 1 and 4
        assert result["after_destroy"] == [False, 0, 1]
    assert ranks[0]["seed"] == ranks[1]["seed"]

    even = [ranks[0]["even"], ranks[1]["even"]]
    assert len(even[0]) == len(even[1]) == 5
    assert sorted(even[0] + even[1]) == list(range(10))  # a partition: seeds agreed
    for key in ("padded", "padded_epoch_1"):
        shards = [ranks[0][key], ranks[1][key]]
        assert len(shards[0]) == len(shards[1]) == 6
        assert sorted(set(shards[0] + shards[1])) == list(range(11))  # one index repeated
    assert ranks[0]["padded"] != ranks[0]["padded_epoch_1"]
    for rank, result in enumerate(ranks):  # the same shards as simulated ranks get
        simulated = DefaultSampler(range(11), seed=3, rank=rank, world_size=2)
        assert result["padded"] == list(simulated)
