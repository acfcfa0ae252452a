"""A training run with `EMAHook` in its own process, for the test that kills and resumes it.

Usage: ema_resume_worker.py WORK_DIR {epoch,iter} OUT [--resume]

It trains the toy model for 15 iterations (3 epochs of 5 validating every
epoch, or 15 iterations validating every 5) with an EMA that begins at
iteration 3, saving a checkpoint after every iteration and printing ``iter N``
once iteration N and its checkpoint are done. At the end it writes the
training weights and the averaged model's state to OUT.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # toy_ema

from toy import SaveEveryIter
from toy_ema import runner_kwargs

from hooks_core import Hook, Runner
from hooks_optim._ema_hook import EMAHook


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
    args = parser.parse_args()

    torch.set_num_threads(1)  # the same reduction order in every process
    train_cfg = (
        dict(by_epoch=True, max_epochs=3, val_interval=1)
        if args.mode == "epoch"
        else dict(by_epoch=False, max_iters=15, val_interval=5)
    )
    ema = EMAHook(momentum=0.3, begin_iter=3, update_buffers=True)
    runner = Runner(
        **runner_kwargs(args.work_dir, train_cfg=train_cfg, resume=args.resume),
        custom_hooks=[ema, SaveEveryIter(), Progress()],
    )
    runner.train()
    assert ema.ema_model is not None
    torch.save({"model": runner.model.state_dict(), "ema": ema.ema_model.state_dict()}, args.out)


if __name__ == "__main__":
    main()
