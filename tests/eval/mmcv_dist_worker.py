"""One rank of test_mmcv_eval_distributed.py: DistEvalHook on MMCV's EpochBasedRunner, 2 gloo ranks.

Usage: ``torchrun --nproc_per_node=2 mmcv_dist_worker.py OUT_DIR``. The ranks
train a classifier with a BatchNorm on different data and no gradient step
(lr 0), so only their BatchNorm statistics differ; each rank works in
``OUT_DIR/work_rank<r>`` and writes ``OUT_DIR/rank<r>.json``; rank 0 also
writes its final weights to ``OUT_DIR/weights.pt``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # mmcv_parts

import torch
from mmcv_parts import MMCVClassifier, Points, loader
from torch.utils.data import DistributedSampler

from hooks_core import EpochBasedRunner
from hooks_core.dist import destroy_dist, init_dist
from hooks_eval import DistEvalHook

VAL_SIZE = 9  # odd: the sampler repeats a sample for rank 1; collection drops it


def val_set() -> Points:
    return Points(VAL_SIZE, seed=2)


def main(out_dir: Path) -> None:
    torch.manual_seed(0)
    model = MMCVClassifier(batchnorm=True)
    rank = int(os.environ["RANK"])
    # Made before the process group, so it does not wrap the model in DDP: MMCV's
    # runners never wrap (users pass MMDistributedDataParallel), and hooks-core's
    # DDP wrapper takes only its own BaseModel.
    runner = EpochBasedRunner(
        model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
        work_dir=str(out_dir / f"work_rank{rank}"),
        logger=logging.getLogger("mmcv_dist_worker"),
        meta={},
        max_epochs=2,
    )
    init_dist("pytorch", backend="gloo")
    by_files, by_group = val_set(), val_set()
    for dataset, options in ((by_files, dict(tmpdir=str(out_dir / "shared"), save_best="auto")),
                             (by_group, dict(gpu_collect=True))):  # fmt: skip
        sampler = DistributedSampler(dataset, shuffle=False)
        runner.register_hook(DistEvalHook(loader(dataset, 2, sampler=sampler), **options),
                             priority="LOW")  # fmt: skip
    own_data = Points(8, seed=10 + rank)  # different BatchNorm statistics per rank
    before = model.norm.running_mean.clone()
    runner.run([loader(own_data)], [("train", 1)])
    assert not torch.equal(before, model.norm.running_mean)
    result = {
        "orders": [[r["index"] for r in call["results"]] for call in by_files.calls],
        "group_orders": [[r["index"] for r in call["results"]] for call in by_group.calls],
        "preds": [r["pred"] for r in by_files.calls[-1]["results"]] if by_files.calls else [],
        "running_mean": model.norm.running_mean.tolist(),
        "accuracy": list(runner.message_hub.get_scalar("val/accuracy").data[0]),
        "hook_msgs": {
            k: Path(v).name if k == "best_ckpt" else v for k, v in runner.meta["hook_msgs"].items()
        },
        "files": sorted(p.name for p in Path(runner.work_dir).glob("*.pth")),
    }
    if rank == 0:
        torch.save(model.state_dict(), out_dir / "weights.pt")
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))
    destroy_dist()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
