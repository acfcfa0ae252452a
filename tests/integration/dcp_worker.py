"""One rank of test_distributed_checkpoints.py: FSDP2 runs that save and resume sharded folders.

Usage: ``torchrun --nproc_per_node=N dcp_worker.py MODE WORK_DIR [CHECKPOINT]``.
The global batch is always 8 (``8 // N`` per rank, unshuffled), so runs of any
world size train on the same samples. Modes: ``train`` (8 iterations, sharded
checkpoints every 4, ``async_save`` when ``DCP_ASYNC=1``), ``resume`` (from
CHECKPOINT to iteration 8), ``kill`` (checkpoints every 2; rank 1 exits while
the second is being saved). Rank 0 writes ``WORK_DIR/result.pt``: the global
losses, the whole weights at the end and the whole optimizer state when training
starts (after a resume) and after iteration 4.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))  # the shared toy

import torch
from fsdp_worker import Mlp, RecordLoss
from toy import ToyDataset

from hooks_core import Hook, Runner
from hooks_core.checkpoint import weights_to_cpu

GLOBAL_BATCH = 8
MAX_ITERS = 8


class RecordOptimizer(Hook):
    """The whole optimizer state before the first iteration this run trains and after iter 4."""

    def __init__(self) -> None:
        self.states: dict[str, Any] = {}

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        if "start" not in self.states:
            self.states["start"] = self._whole(runner)

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if runner.iter + 1 == 4:
            self.states["iter4"] = self._whole(runner)

    @staticmethod
    def _whole(runner: Any) -> Any:
        state = runner.strategy.optim_state_dict(runner.model, runner.optim_wrapper)
        return weights_to_cpu(state, copy_tensors=True)  # on one rank it shares the live tensors


class ExitWhileSaving(Hook):
    """Rank 1 ends its process while the second checkpoint is being collected."""

    def __init__(self) -> None:
        self.saves = 0

    def before_save_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        self.saves += 1
        if self.saves == 2 and runner.rank == 1:
            os._exit(3)


def main(mode: str, work_dir: Path, checkpoint: str | None) -> None:
    world_size = int(os.environ["WORLD_SIZE"])
    interval = 2 if mode == "kill" else 4
    losses, optimizer = RecordLoss(), RecordOptimizer()
    hooks: list[Hook] = [losses, optimizer] + ([ExitWhileSaving()] if mode == "kill" else [])
    torch.manual_seed(0)
    runner = Runner(
        model=Mlp(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(2 * MAX_ITERS * GLOBAL_BATCH, seed=0),
            batch_size=GLOBAL_BATCH // world_size,
            sampler=dict(type="DefaultSampler", shuffle=False),
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=dict(by_epoch=False, max_iters=MAX_ITERS),
        optim_wrapper=dict(optimizer=dict(type="Adam", lr=0.02)),
        default_hooks=dict(
            checkpoint=dict(
                type="CheckpointHook",
                interval=interval,
                by_epoch=False,
                save_format="dcp",
                async_save=os.environ.get("DCP_ASYNC") == "1",
            ),
            logger=None,
        ),
        custom_hooks=hooks,
        strategy=dict(type="FSDPStrategy", wrap_policy=["Linear"]),
        launcher="pytorch",
        env_cfg=dict(dist_cfg=dict(backend="gloo", timeout=60)),
        randomness=dict(seed=0),
        log_level="WARNING",
        load_from=checkpoint,
        resume=checkpoint is not None,
    )
    runner.train()
    weights = runner.strategy.model_state_dict(runner.model)  # a collective
    if runner.rank == 0:
        result = {"losses": losses.losses, "weights": weights, "optimizer": optimizer.states}
        torch.save(result, work_dir / "result.pt")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
