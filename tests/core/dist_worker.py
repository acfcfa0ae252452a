"""One rank of the torchrun test in test_dist.py: run the helpers, write what they returned.

Usage: ``torchrun --nproc_per_node=2 dist_worker.py OUT_DIR``; each rank writes
``OUT_DIR/rank<r>.json`` (and logs through `MMLogger` into ``OUT_DIR``).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import torch

from hooks_core import dist as _dist
from hooks_core.dataset import DefaultSampler
from hooks_core.runtime import MMLogger

SIZE = 9  # samples of the collected "dataset": rank 0 has 5, rank 1 has 4 plus one padding


@_dist.master_only
def answer() -> int:
    return 42


def main(out_dir: Path) -> None:
    _dist.init_dist("pytorch", backend="gloo")
    rank, world_size = _dist.get_dist_info()
    floats = torch.tensor([rank + 1.0, 2.0 * (rank + 1)])
    ints = torch.tensor([3 * rank + 1])
    _dist.all_reduce_mean([floats, ints])
    random.seed(100 + rank)  # rank 0's draw wins
    result = {
        "dist_info": [rank, world_size],
        "rank": _dist.get_rank(),
        "world_size": _dist.get_world_size(),
        "local": [_dist.get_local_rank(), _dist.get_local_size()],
        "backend": _dist.get_backend(),
        "comm_device": str(_dist.get_comm_device()),
        "is_distributed": _dist.is_distributed(),
        "is_main_process": _dist.is_main_process(),
        "master_only": answer(),
        "broadcast_object": _dist.broadcast_object({"from": rank, "items": [rank] * 3}),
        "broadcast_object_from_1": _dist.broadcast_object(f"rank {rank}", src=1),
        "gathered": _dist.all_gather_object({"from": rank, "items": [rank] * (rank + 1)}),
        "seed": _dist.sync_random_seed(),
        "floats": floats.tolist(),
        "ints": ints.tolist(),
        **tensor_collectives(rank),
        **object_collectives(rank),
        **collected(rank, out_dir),
        **logs(rank, out_dir),
        "even": list(DefaultSampler(range(10))),
        "padded": list(DefaultSampler(range(11), seed=3)),
        "padded_epoch_1": _epoch_1(DefaultSampler(range(11), seed=3)),
    }
    _dist.barrier()
    _dist.destroy_dist()
    result["after_destroy"] = [_dist.is_distributed(), *_dist.get_dist_info()]
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))


def tensor_collectives(rank: int) -> dict[str, Any]:
    """all_reduce with every op, broadcast, all_gather, gather, and the dict and params forms."""
    reduced = {}
    for op in ("sum", "mean", "max", "min", "product", "MEAN"):
        tensor = torch.tensor([rank + 1.0, 2.0 * (rank + 1)])
        _dist.all_reduce(tensor, op)
        reduced[op] = tensor.tolist()
    for op in ("band", "bor", "bxor"):
        tensor = torch.tensor([6 if rank == 0 else 3])
        _dist.all_reduce(tensor, op)
        reduced[op] = tensor.tolist()
    int_mean = torch.tensor([1 if rank == 0 else 4])
    _dist.all_reduce(int_mean, "mean")
    strided = (torch.arange(6.0).reshape(2, 3) + rank).t()  # not contiguous: sent as a copy
    _dist.all_reduce(strided)
    sent = torch.full((2,), 10.0 * rank + 1)
    _dist.broadcast(sent, src=1)
    dict_sum = {"b": torch.tensor([rank + 1.0]), "a": torch.tensor([[rank, 1]])}
    _dist.all_reduce_dict(dict_sum)
    dict_mean = {"x": torch.tensor([2.0 * rank])}
    _dist.all_reduce_dict(dict_mean, op="mean")
    return {
        "all_reduce": reduced,
        "all_reduce_int_mean": int_mean.tolist(),
        "all_reduce_strided": strided.tolist(),
        "broadcast": sent.tolist(),
        "all_gather": [t.tolist() for t in _dist.all_gather(torch.tensor([rank, rank]))],
        "gather": [t.tolist() for t in _dist.gather(torch.tensor([rank, 2 * rank]))],
        "all_reduce_dict": {key: value.tolist() for key, value in dict_sum.items()},
        "all_reduce_dict_mean": dict_mean["x"].tolist(),
        **reduced_params(rank),
    }


def reduced_params(rank: int) -> dict[str, Any]:
    """all_reduce_params over a module's parameters and over mixed-dtype tensors, all modes."""
    model = torch.nn.Linear(2, 1)  # parameters that require grad: reduced through .data
    torch.nn.init.constant_(model.weight, rank + 1.0)
    torch.nn.init.constant_(model.bias, 10.0 * rank)
    _dist.all_reduce_params(model.parameters(), op="mean")
    mixed = [torch.tensor([rank + 1.0]), torch.tensor([2 * rank + 1]), torch.tensor([rank, 5.0])]
    _dist.all_reduce_params(mixed, coalesce=False)
    big = [torch.full((300_000,), rank + 1.0) for _ in range(3)]  # 1.2 MB each: one bucket each
    _dist.all_reduce_params(big, bucket_size_mb=1, op="max")
    return {
        "params_mean": [model.weight.tolist(), model.bias.tolist()],
        "params_sum": [tensor.tolist() for tensor in mixed],
        "params_bucketed": [sorted(set(tensor.tolist())) for tensor in big],
    }


def object_collectives(rank: int) -> dict[str, Any]:
    objects: list[Any] = ["from 0", {"n": 0}] if rank == 0 else [None, None]
    _dist.broadcast_object_list(objects)
    from_1: list[Any] = [f"rank {rank}"]
    _dist.broadcast_object_list(from_1, src=1)
    return {
        "broadcast_object_list": objects,
        "broadcast_object_list_from_1": from_1,
        "gather_object": _dist.gather_object({"rank": rank}, dst=1),
    }


def collected(rank: int, out_dir: Path) -> dict[str, Any]:
    """collect_results in every mode, from the shards a sampler without shuffling gives."""
    shard = list(DefaultSampler(range(SIZE), shuffle=False))  # rank 1 ends with a padded 0
    results = [None if i == 3 else {"i": i, "t": torch.tensor(i)} for i in shard]
    shared = out_dir / "collect"
    runs = {
        "cpu": _dist.collect_results(results, SIZE),
        "gpu": _dist.collect_results(results, SIZE, device="gpu"),
        "files": _dist.collect_results(results, SIZE, "cpu", tmpdir=str(shared)),
        "cpu_fn": _dist.collect_results_cpu(results, SIZE),
        "gpu_fn": _dist.collect_results_gpu(results, SIZE),
    }
    _dist.barrier()  # every rank removed its part before the listing
    return {
        "collected": {name: _plain(run) for name, run in runs.items()},
        "collect_dir_after": sorted(p.name for p in shared.iterdir()),
    }


def _plain(items: list[Any] | None) -> list[Any] | None:
    if items is None:
        return None
    return [None if item is None else [item["i"], int(item["t"]), str(item["t"].device)]
            for item in items]  # fmt: skip


def logs(rank: int, out_dir: Path) -> dict[str, Any]:
    """What MMLogger does on each rank: console levels, the shared and the per-rank log files."""
    plain = MMLogger.get_instance("plain", log_file=str(out_dir / "plain.log"))
    spread = MMLogger.get_instance("spread", log_file=str(out_dir / "spread.log"), distributed=True)
    for logger in (plain, spread):
        logger.info(f"{logger.instance_name}: info from rank {rank}")
        logger.error(f"{logger.instance_name}: error from rank {rank}")
        for handler in logger.handlers:
            handler.flush()
    return {
        "plain_levels": [handler.level for handler in plain.handlers],
        "plain_log_file": plain.log_file,
        "spread_levels": [handler.level for handler in spread.handlers],
        "spread_log_file": spread.log_file,
    }


def _epoch_1(sampler: DefaultSampler) -> list[int]:
    sampler.set_epoch(1)
    return list(sampler)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
