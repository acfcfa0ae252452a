"""One rank of test_distributed_runner.py: train a linear model with ``Runner(launcher='pytorch')``.

Usage: ``torchrun --nproc_per_node=2 dist_runner_worker.py OUT_DIR``. Each rank
trains in its own work dir ``OUT_DIR/work_rank<r>`` (so the test can see which
rank wrote files) and writes ``OUT_DIR/rank<r>.json`` (what the runner set up),
``OUT_DIR/rank<r>.pt`` (the weights before wrapping, after wrapping and after
training) and, at interpreter exit, ``OUT_DIR/rank<r>_exit.json``.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import weakref
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))  # the shared toy

import torch
import torch.distributed as dist
from torch import nn
from toy import PlainOptimWrapper, ToyDataset, stacked

from hooks_core import BaseModel, Hook, Runner

WORLD_SIZE = 2
BATCH_SIZE = 3  # per rank: a global batch holds 2 * BATCH_SIZE samples
STEPS_PER_EPOCH = 4
TRAIN_SIZE = WORLD_SIZE * BATCH_SIZE * STEPS_PER_EPOCH
VAL_SIZE = 9  # odd: the sampler pads rank 1's share, the evaluator drops the padding
MAX_EPOCHS = 3
LR = 0.05


def train_set() -> ToyDataset:
    return ToyDataset(TRAIN_SIZE, seed=0)


def val_set() -> ToyDataset:
    return ToyDataset(VAL_SIZE, seed=1)


class LinearModel(BaseModel):
    """A linear regression (no dropout) plus a layer it never calls.

    The unused layer makes DDP fail at the second iteration unless
    ``find_unused_parameters=True`` reaches it from ``model_wrapper_cfg``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 1)
        self.unused = nn.Linear(1, 1)

    def forward(self, inputs: Any, targets: Any = None, mode: str = "tensor") -> Any:
        inputs, targets = stacked(inputs), stacked(targets)  # pseudo_collate gives lists
        prediction = self.linear(inputs)
        if mode == "loss":
            return {"loss": nn.functional.mse_loss(prediction, targets)}
        if mode == "predict":
            return [{"prediction": prediction, "target": targets}]
        return prediction


class GatheredMse:
    """Mean squared error over the whole validation set, gathered from every rank.

    Rank r holds samples r, r + world_size, ...; interleaving the ranks' parts
    restores the dataset's order, and the sampler's padding is cut off.
    """

    def __init__(self) -> None:
        self.errors: list[torch.Tensor] = []

    def process(self, data_samples: Any, data_batch: Any = None) -> None:
        for sample in data_samples:
            self.errors.append(((sample["prediction"] - sample["target"]) ** 2).flatten())

    def evaluate(self, size: int) -> dict[str, float]:
        parts: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, torch.cat(self.errors))
        self.errors = []
        errors = torch.stack(parts, dim=1).flatten()[:size]
        return {"mse": float(errors.mean())}


class SaveEveryEpoch(Hook):
    """Save a checkpoint after every epoch, as CheckpointHook does."""

    priority = "VERY_LOW"

    def after_train_epoch(self, runner: Any) -> None:
        runner.save_checkpoint(runner.work_dir, f"epoch_{runner.epoch + 1}.pth")


class RecordShards(Hook):
    """Record the sample indices this rank's training sampler yields in each epoch."""

    def __init__(self) -> None:
        self.indices: list[list[int]] = []

    def before_train_epoch(self, runner: Any) -> None:
        self.indices.append(list(runner.train_dataloader.sampler))


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def main(out_dir: Path) -> None:
    rank = int(os.environ["RANK"])

    ddp_models: list[weakref.ref[nn.Module]] = []

    @atexit.register  # registered first, so it runs after the runner's own exit handlers
    def report_exit() -> None:
        state = {
            "initialized_at_exit": dist.is_available() and dist.is_initialized(),
            # The finished runner sits in a reference cycle; its DDP wrapper must be gone
            # before the interpreter's own shutdown, not freed by its last collection.
            "ddp_freed_at_exit": all(ref() is None for ref in ddp_models),
        }
        (out_dir / f"rank{rank}_exit.json").write_text(json.dumps(state))

    torch.manual_seed(100 + rank)  # different weights per rank: DDP must broadcast rank 0's
    model = LinearModel()
    built = weights(model)
    shards = RecordShards()
    runner = Runner(
        model=model,
        work_dir=out_dir / f"work_rank{rank}",
        train_dataloader=dict(
            dataset=train_set(),
            batch_size=BATCH_SIZE,
            sampler=dict(type="DefaultSampler", shuffle=False),
        ),
        val_dataloader=dict(
            dataset=val_set(),
            batch_size=2,
            sampler=dict(type="DefaultSampler", shuffle=False),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=MAX_EPOCHS, val_interval=1),
        val_cfg=dict(),
        optim_wrapper=PlainOptimWrapper(torch.optim.SGD(model.parameters(), lr=LR)),
        val_evaluator=GatheredMse(),
        custom_hooks=[SaveEveryEpoch(), shards],
        launcher="pytorch",
        env_cfg=dict(dist_cfg=dict(backend="gloo", timeout=60)),
        randomness=dict(seed=None),  # drawn on rank 0 and shared
        cfg=dict(
            model_wrapper_cfg=dict(type="MMDistributedDataParallel", find_unused_parameters=True)
        ),
    )
    wrapped = weights(runner.model.module)
    ddp_models.append(weakref.ref(runner.model))
    setup = {
        "rank": runner.rank,
        "world_size": runner.world_size,
        "distributed": runner.distributed,
        "backend": dist.get_backend(),
        "wrapper": type(runner.model).__name__,
        "is_ddp": isinstance(runner.model, nn.parallel.DistributedDataParallel),
        "find_unused_parameters": runner.model.find_unused_parameters,
        "seed": runner.seed,
        "torch_seed": torch.initial_seed(),
        "work_dir": runner.work_dir,
        "log_dir": runner.log_dir,
    }
    runner.train()
    result = {
        **setup,
        "epoch": runner.epoch,
        "iter": runner.iter,
        "shards": shards.indices,
        "val_mse": runner.message_hub.get_scalar("val/mse").current(),
        "initialized_after_train": dist.is_initialized(),
    }
    final = weights(runner.model.module)
    torch.save({"built": built, "wrapped": wrapped, "final": final}, out_dir / f"rank{rank}.pt")
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
