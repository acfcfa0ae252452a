"""One rank of test_elastic.py: a short DDP run with ``resume=True`` that may fail once, on purpose.

Usage: ``torchrun ... elastic_worker.py OUT_DIR FAULT``. Every rank trains the
toy MLP (with dropout, so the random state matters) for 2 epochs of 6
iterations in the shared work dir ``OUT_DIR/work``; a `CheckpointHook` saves
every 2 iterations. The FAULT happens once per run, in whichever process first
reaches it (the file ``OUT_DIR/faulted`` marks it: the restart count cannot,
as each torchrun agent counts its own restarts):

- ``none``: nothing; the uninterrupted reference.
- ``kill-rank1``: rank 1 SIGKILLs itself after iteration 9; iter_8.pth is the newest
  checkpoint, and rank 0 may add interrupted_iter_9.pth when torchrun stops it.
- ``kill-rank0-saving``: rank 0, which holds the work dir's lock, SIGKILLs itself
  while writing iter_10.pth: the temporary file stays, ``last_checkpoint`` names iter_8.
- ``raise-rank1``: rank 1 raises `RuntimeError` (`RAISED`) after iteration 5.
- ``hang-rank1``: rank 1 hangs before training while rank 0 waits for it in a
  collective, until the process group's timeout (`HANG_TIMEOUT` seconds).

Each process writes ``OUT_DIR/rank<r>_pid<pid>.json`` when it starts (its restart
count) and again when it has trained (adding the iteration it resumed from), and
the final weights to ``OUT_DIR/rank<r>.pt``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))  # the shared toy

import torch
from toy import PlainOptimWrapper, ToyDataset, ToyModel

from hooks_core import Hook, Runner
from hooks_eval import CheckpointHook

BATCH_SIZE = 4  # per rank: 2 ranks take 8 of the 48 samples an iteration
ITERS_PER_EPOCH = 6
MAX_EPOCHS = 2
RAISED = "rank 1 fails on purpose after iteration 5"
HANG_TIMEOUT = 10  # seconds: env_cfg.dist_cfg.timeout of the hang-rank1 run


class _KillWhenPickled:
    """Put into a checkpoint, it SIGKILLs the process while the checkpoint is being written."""

    def __reduce__(self) -> Any:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable: SIGKILL cannot be caught")


class Fault(Hook):
    """Fail as `fault` says on its rank, once per run (the first process to get there)."""

    priority = "LOWEST"  # after the iteration's checkpoint

    def __init__(self, fault: str, rank: int, marker: Path) -> None:
        self.fault, self.rank, self.marker = fault, rank, marker

    def _first(self, fault: str, rank: int) -> bool:
        """Whether `fault` is this run's fault, on this rank, and has not happened yet."""
        if self.fault != fault or self.rank != rank:
            return False
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def before_run(self, runner: Any) -> None:
        if self._first("hang-rank1", 1):
            time.sleep(600)  # torchrun's SIGTERM ends it: no handler is installed yet

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        done = runner.iter + 1
        if done == 9 and self._first("kill-rank1", 1):
            os.kill(os.getpid(), signal.SIGKILL)
        if done == 5 and self._first("raise-rank1", 1):
            raise RuntimeError(RAISED)

    def before_save_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        if runner.iter + 1 == 10 and self._first("kill-rank0-saving", 0):
            checkpoint["kill"] = _KillWhenPickled()


def main(out_dir: Path, fault: str) -> None:
    rank = int(os.environ["RANK"])
    report = out_dir / f"rank{rank}_pid{os.getpid()}.json"
    state: dict[str, Any] = {"restart_count": int(os.environ["TORCHELASTIC_RESTART_COUNT"])}
    report.write_text(json.dumps(state))
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = ToyModel()
    timeout = HANG_TIMEOUT if fault == "hang-rank1" else 60
    runner = Runner(
        model=model,
        work_dir=str(out_dir / "work"),
        train_dataloader=dict(
            dataset=ToyDataset(2 * BATCH_SIZE * ITERS_PER_EPOCH),
            batch_size=BATCH_SIZE,
            sampler=dict(type="DefaultSampler", shuffle=True),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=MAX_EPOCHS),
        optim_wrapper=PlainOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)),
        default_hooks=dict(checkpoint=CheckpointHook(interval=2, by_epoch=False)),
        custom_hooks=[Fault(fault, rank, out_dir / "faulted")],
        resume=True,
        launcher="pytorch",
        env_cfg=dict(dist_cfg=dict(backend="gloo", timeout=timeout)),
        randomness=dict(seed=1234),
    )
    resumed = runner.resume_meta
    runner.train()
    torch.save(runner.model.module.state_dict(), out_dir / f"rank{rank}.pt")
    state["resumed_iter"] = None if resumed is None else resumed["iter"]
    report.write_text(json.dumps(state))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
