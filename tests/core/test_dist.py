"""Distributed helpers: single-process fallbacks, init_dist errors, and a real torchrun run."""

from __future__ import annotations

import json
import logging
import os
import random
import re
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


def test_local_rank_backend_and_device_in_a_single_process() -> None:
    assert (_dist.get_local_rank(), _dist.get_local_size()) == (0, 1)
    assert _dist.get_backend() is None
    assert _dist.get_comm_device() == torch.device("cpu")
    assert _dist.is_main_process(group=None)


def test_tensor_collectives_leave_their_input_alone_in_a_single_process() -> None:
    tensor = torch.tensor([1.0, 3.0])
    for op in (*_dist.REDUCE_OPS, "MEAN"):
        _dist.all_reduce(tensor, op)
        assert tensor.tolist() == [1.0, 3.0], op
    _dist.broadcast(tensor, src=0)
    _dist.all_reduce_mean([tensor])
    assert tensor.tolist() == [1.0, 3.0]
    (gathered,) = _dist.all_gather(tensor)
    assert gathered is tensor
    assert _dist.gather(tensor, dst=0)[0] is tensor
    values = {"a": tensor}
    _dist.all_reduce_dict(values, op="max")
    assert values["a"] is tensor
    model = torch.nn.Linear(2, 1)
    before = [param.detach().clone() for param in model.parameters()]
    _dist.all_reduce_params(model.parameters(), op="mean")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    _dist.barrier()
    _dist.destroy_dist()  # nothing to destroy


def test_a_bad_reduce_op_or_input_is_refused_even_in_a_single_process() -> None:
    tensor = torch.ones(1)
    with pytest.raises(ValueError, match=r"unknown reduce op 'avg'; valid ops are sum, mean"):
        _dist.all_reduce(tensor, "avg")
    with pytest.raises(ValueError, match="unknown reduce op 3"):
        _dist.all_reduce_dict({"a": tensor}, op=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown reduce op 'median'"):
        _dist.all_reduce_params([tensor], op="median")
    with pytest.raises(TypeError, match="all_reduce_dict takes a dict of tensors, got list"):
        _dist.all_reduce_dict([tensor])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"takes a list, .* got tuple; use broadcast_object"):
        _dist.broadcast_object_list(("a",))  # type: ignore[arg-type]


def test_object_collectives_return_the_only_ranks_data_in_a_single_process() -> None:
    obj = {"a": [1, 2]}
    assert _dist.broadcast_object(obj) is obj
    assert _dist.broadcast_object(obj, src=3) is obj
    (gathered,) = _dist.all_gather_object(obj)
    assert gathered is obj
    assert _dist.gather_object(obj, dst=0) == [obj]
    objects = ["x", obj]
    _dist.broadcast_object_list(objects, src=0)
    assert objects == ["x", obj] and objects[1] is obj


def test_collect_results_in_a_single_process_cuts_to_the_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    results = [{"t": torch.ones(1)}, None, 3]
    for collected in (
        _dist.collect_results(results, 2),
        _dist.collect_results(results, 2, device="gpu"),
        _dist.collect_results(results, 2, "cpu", tmpdir="never"),
        _dist.collect_results_cpu(results, 2),
        _dist.collect_results_gpu(results, 2),
    ):
        assert collected == results[:2] and collected is not results
    assert _dist.collect_results(results, 5) == results
    assert list(tmp_path.iterdir()) == []  # alone, nothing goes through files


def test_collect_results_refuses_unknown_devices_and_a_tmpdir_off_the_cpu() -> None:
    with pytest.raises(
        ValueError, match=r"device must be one of \('cpu', 'gpu', 'npu'\), got 'tpu'"
    ):
        _dist.collect_results([1], 1, device="tpu")
    with pytest.raises(ValueError, match="tmpdir is for device='cpu' only, got device='gpu'"):
        _dist.collect_results([1], 1, device="gpu", tmpdir="shared")


def test_sync_random_seed_in_a_single_process() -> None:
    seeds = {_dist.sync_random_seed() for _ in range(5)}
    assert all(isinstance(seed, int) and 0 <= seed < 2**31 for seed in seeds)
    assert len(seeds) > 1  # fresh draws
    random.seed(7)
    first = _dist.sync_random_seed()
    random.seed(7)
    assert _dist.sync_random_seed() == first  # a seeded program draws the same seed


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


def test_a_real_single_process_group(torchrun_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    _dist.init_dist("pytorch", backend="gloo")
    try:
        _dist.init_dist("pytorch")  # already initialised: nothing happens
        assert _dist.is_distributed()
        assert _dist.get_dist_info() == (0, 1)
        assert (_dist.get_backend(), _dist.get_local_rank()) == ("gloo", 0)
        with pytest.raises(
            RuntimeError, match="LOCAL_WORLD_SIZE is not set: launch with `torchrun"
        ):
            _dist.get_local_size()
        assert _dist.broadcast_object(["x", 1]) == ["x", 1]
        assert _dist.all_gather_object({"x": 1}) == [{"x": 1}]
        assert _dist.collect_results([1, 2], 1) == [1]
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
        assert result["local"] == [rank, 2]
        assert (result["backend"], result["comm_device"]) == ("gloo", "cpu")
        assert result["is_distributed"] is True
        assert result["is_main_process"] is (rank == 0)
        assert result["master_only"] == (42 if rank == 0 else None)
        assert result["broadcast_object"] == {"from": 0, "items": [0, 0, 0]}
        assert result["broadcast_object_from_1"] == "rank 1"
        assert result["gathered"] == [{"from": 0, "items": [0]}, {"from": 1, "items": [1, 1]}]
        assert result["seed"] == random.Random(100).randrange(2**31)  # rank 0's draw
        assert result["floats"] == [1.5, 3.0]  # means of [1, 2] and [2, 4]
        assert result["ints"] == [2]  # 2.5 truncated
        assert result["after_destroy"] == [False, 0, 1]
    assert_tensor_collectives(ranks)
    assert_object_collectives(ranks)
    assert_collected(ranks, tmp_path)
    assert_logs(ranks, tmp_path, done.stdout)

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


def assert_tensor_collectives(ranks: list[dict[str, Any]]) -> None:
    # Rank r gave [r + 1, 2 (r + 1)] to each op, and 6 (rank 0) or 3 (rank 1) to the bit ops.
    expected = {
        "sum": [3.0, 6.0], "mean": [1.5, 3.0], "MEAN": [1.5, 3.0], "max": [2.0, 4.0],
        "min": [1.0, 2.0], "product": [2.0, 8.0], "band": [2], "bor": [7], "bxor": [5],
    }  # fmt: skip
    for result in ranks:
        assert result["all_reduce"] == expected
        assert result["all_reduce_int_mean"] == [2]  # the mean of 1 and 4, truncated
        assert result["all_reduce_strided"] == [[1.0, 7.0], [3.0, 9.0], [5.0, 11.0]]
        assert result["broadcast"] == [11.0, 11.0]  # rank 1's
        assert result["all_gather"] == [[0, 0], [1, 1]]
        assert result["all_reduce_dict"] == {"a": [[1, 2]], "b": [3.0]}
        assert result["all_reduce_dict_mean"] == [1.0]
        assert result["params_mean"] == [[[1.5, 1.5]], [5.0]]
        assert result["params_sum"] == [[3.0], [4], [1.0, 10.0]]
        assert result["params_bucketed"] == [[2.0], [2.0], [2.0]]
    assert [result["gather"] for result in ranks] == [[[0, 0], [1, 2]], []]


def assert_object_collectives(ranks: list[dict[str, Any]]) -> None:
    for result in ranks:
        assert result["broadcast_object_list"] == ["from 0", {"n": 0}]
        assert result["broadcast_object_list_from_1"] == ["rank 1"]
    assert [result["gather_object"] for result in ranks] == [None, [{"rank": 0}, {"rank": 1}]]


def assert_collected(ranks: list[dict[str, Any]], out_dir: Path) -> None:
    # Dataset order, the padding dropped, the None result of sample 3 kept, tensors on the CPU.
    expected = [None if i == 3 else [i, i, "cpu"] for i in range(9)]
    assert ranks[0]["collected"] == dict.fromkeys(("cpu", "gpu", "files", "cpu_fn", "gpu_fn"),
                                                  expected)  # fmt: skip
    assert set(ranks[1]["collected"].values()) == {None}
    assert ranks[0]["collect_dir_after"] == []  # each rank removed its part file
    assert (out_dir / "collect").is_dir()


def assert_logs(ranks: list[dict[str, Any]], out_dir: Path, stdout: str) -> None:
    info, error = logging.INFO, logging.ERROR
    rank0, rank1 = ranks
    # Without `distributed`, rank 0 writes the one file; rank 1's console shows errors only.
    assert (rank0["plain_levels"], rank1["plain_levels"]) == ([info, info], [error])
    assert rank0["plain_log_file"] == rank1["plain_log_file"] == str(out_dir / "plain.log")
    plain = (out_dir / "plain.log").read_text()
    assert "plain: info from rank 0" in plain and "rank 1" not in plain
    assert "plain: info from rank 0" in stdout and "plain: info from rank 1" not in stdout
    assert "plain: error from rank 1" in stdout
    # With it, each rank writes its own file, named after its host, device and rank.
    for rank, result in enumerate(ranks):
        assert result["spread_levels"] == [info if rank == 0 else error, info]
        path = Path(result["spread_log_file"])
        assert path.parent == out_dir
        assert re.fullmatch(rf"spread_(\S+@\S+_)?device{rank}_rank{rank}\.log", path.name)
        lines = path.read_text()
        assert f"spread: info from rank {rank}" in lines
        assert f"spread: error from rank {1 - rank}" not in lines
    assert not (out_dir / "spread.log").exists()
