"""One rank of the torchrun test in test_dist.py: run the helpers, write what they returned.

Usage: ``torchrun --nproc_per_node=2 dist_worker.py OUT_DIR``; each rank writes
``OUT_DIR/rank<r>.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from hooks_core import dist as _dist
from hooks_core.dataset import DefaultSampler


@_dist.master_only
def answer() -> int:
    return 42


def main(out_dir: Path) -> None:
    _dist.init_dist("pytorch", backend="gloo")
    rank, world_size = _dist.get_dist_info()
    floats = torch.tensor([rank + 1.0, 2.0 * (rank + 1)])
    ints = torch.tensor([3 * rank + 1])
    _dist.all_reduce_mean([floats, ints])
    result = {
        "dist_info": [rank, world_size],
        "rank": _dist.get_rank(),
        "world_size": _dist.get_world_size(),
        "is_distributed": _dist.is_distributed(),
        "is_main_process": _dist.is_main_process(),
        "master_only": answer(),
        "broadcast": _dist.broadcast_object({"from": rank, "items": [rank] * 3}),
        "broadcast_from_1": _dist.broadcast_object(f"rank {rank}", src=1),
        "gathered": _dist.all_gather_object({"from": rank, "items": [rank] * (rank + 1)}),
        "seed": _dist.sync_random_seed(),
        "given_seed": _dist.sync_random_seed(100 + rank),
        "floats": floats.tolist(),
        "ints": ints.tolist(),
        "even": list(DefaultSampler(range(10))),
        "padded": list(DefaultSampler(range(11), seed=3)),
        "padded_epoch_1": _epoch_1(DefaultSampler(range(11), seed=3)),
    }
    _dist.barrier()
    _dist.destroy_dist()
    result["after_destroy"] = [_dist.is_distributed(), *_dist.get_dist_info()]
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))


def _epoch_1(sampler: DefaultSampler) -> list[int]:
    sampler.set_epoch(1)
    return list(sampler)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
