"""A training run in its own process, for the tests that kill it and resume it.

Usage: resume_worker.py WORK_DIR {epoch,iter} OUT [--resume] [--no-save]

It trains the toy model for 15 iterations (3 epochs of 5, or 15 iterations
validating every 5), saving a checkpoint after every iteration unless
``--no-save``, printing ``iter N`` once iteration N and its checkpoint are
done, and finally writes the model's weights to OUT.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))

from toy import SaveEveryIter, runner_kwargs

from hooks_core import Hook, Runner


class Progress(Hook):
    """Tell the parent process which iteration has finished (after the checkpoint hook)."""

    priority = "LOWEST"

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        print(f"iter {runner.iter + 1}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work_dir")
    parser.add_argument("mode", choices=["epoch", "iter"])
    parser.add_argument("out")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(1)  # the same reduction order in every process
    train_cfg = (
        dict(by_epoch=True, max_epochs=3, val_interval=1)
        if args.mode == "epoch"
        else dict(by_epoch=False, max_iters=15, val_interval=5)
    )
    hooks: list[Hook] = [Progress()] if args.no_save else [SaveEveryIter(), Progress()]
    runner = Runner(
        **runner_kwargs(args.work_dir, train_cfg=train_cfg, resume=args.resume),
        custom_hooks=hooks,
    )
    runner.train()
    torch.save(runner.model.state_dict(), args.out)


if __name__ == "__main__":
    main()
