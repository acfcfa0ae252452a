"""One rank of test_eval_distributed.py: train and validate a classifier on 2 gloo ranks.

Usage: ``torchrun --nproc_per_node=2 eval_dist_worker.py OUT_DIR``. Each rank
trains in ``OUT_DIR/work_rank<r>`` with a CheckpointHook keeping the best
checkpoint, validates once more, and writes ``OUT_DIR/rank<r>.json``; rank 0
also writes the final weights to ``OUT_DIR/weights.pt``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))  # the shared toy

import torch
from torch import nn
from torch.utils.data import Dataset
from toy import PlainOptimWrapper, stacked

from hooks_core import BaseModel, Runner
from hooks_eval import Accuracy, BaseMetric, Evaluator, MeanSquaredError

VAL_SIZE = 9  # odd: the sampler pads rank 1's share with sample 0; collection drops it
CLASSES = 3


class Labelled(Dataset[dict[str, torch.Tensor]]):
    """Random inputs, labels from a fixed linear map, and each sample's index."""

    def __init__(self, size: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(size, 4, generator=generator)
        self.labels = (self.inputs @ torch.randn(4, CLASSES, generator=generator)).argmax(1)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.inputs[index], "labels": self.labels[index],
                "index": torch.tensor(index)}  # fmt: skip


def val_set() -> Labelled:
    return Labelled(VAL_SIZE, seed=1)


class Classifier(BaseModel):
    """A linear classifier giving one data sample per input."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, CLASSES)

    def forward(self, inputs: Any, labels: Any, index: Any, mode: str = "tensor") -> Any:
        # pseudo_collate gives a list per key
        inputs, labels, index = stacked(inputs), stacked(labels), stacked(index)
        scores = self.linear(inputs)
        if mode == "loss":
            return {"loss": nn.functional.cross_entropy(scores, labels)}
        one_hot = nn.functional.one_hot(labels, CLASSES).float()
        return [
            {"pred_score": s, "gt_label": g, "index": int(i), "prediction": s, "target": t}
            for s, g, i, t in zip(scores, labels, index, one_hot, strict=True)
        ]


class Order(BaseMetric):
    """The dataset indices in the order the metric received them, after collection."""

    def process(self, data_batch: Any, data_samples: Any) -> None:
        self.results.extend(sample["index"] for sample in data_samples)

    def compute_metrics(self, results: list[Any]) -> dict[str, Any]:
        return {"order": list(results)}


def main(out_dir: Path) -> None:
    torch.manual_seed(0)
    model = Classifier()
    runner = Runner(
        model=model,
        work_dir=out_dir / f"work_rank{__import__('os').environ['RANK']}",
        train_dataloader=dict(dataset=Labelled(24, seed=0), batch_size=3),
        val_dataloader=dict(dataset=val_set(), batch_size=2,
                            sampler=dict(type="DefaultSampler", shuffle=False)),
        train_cfg=dict(by_epoch=True, max_epochs=3, val_interval=1),
        val_cfg=dict(),
        optim_wrapper=PlainOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5)),
        val_evaluator=Evaluator([Accuracy(topk=(1, 2)), MeanSquaredError(), Order()]),
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=1, max_keep_ckpts=1,
                                           save_best="accuracy/top1", async_save=True)),
        launcher="pytorch",
        env_cfg=dict(dist_cfg=dict(backend="gloo", timeout=60)),
        randomness=dict(seed=7),
        log_level="WARNING",
    )  # fmt: skip
    runner.train()
    metrics = runner.val()
    info = runner.message_hub.runtime_info
    result = {
        "metrics": metrics,
        "keep_ckpt_ids": info["keep_ckpt_ids"],
        "best_ckpt": Path(info["best_ckpt"]).name,
        "best_score": info["best_score"],
        "files": sorted(p.name for p in Path(runner.work_dir).glob("*.pth")),
    }
    if runner.rank == 0:
        torch.save(runner.model.module.state_dict(), out_dir / "weights.pt")
    (out_dir / f"rank{runner.rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
