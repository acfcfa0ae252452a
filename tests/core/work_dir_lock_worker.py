"""A toy training run in its own process, for test_work_dir_lock.py.

Usage: ``WORK_DIR OUT [--resume] [--hold-at N --release FILE] [--fail-at N]
[--launcher pytorch] [--workers N]`` (under torchrun for --launcher).
It trains 15 iterations (3 epochs of 5), saves ``iter_5/10/15.pth``, prints
``iter N`` after each iteration, and saves its final weights to OUT. With
``--hold-at N`` it prints ``holding`` after iteration N and waits until FILE
exists; with ``--fail-at N`` a hook raises after iteration N; with ``--workers N``
the data comes from N persistent dataloader worker processes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))

import torch
from toy import SaveEveryIter, runner_kwargs

from hooks_core import Hook, Runner


class Script(Hook):
    """Report progress, wait for the test's go-ahead, or fail, as the arguments say."""

    priority = "LOWEST"  # after the checkpoint of the iteration

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        done = runner.iter + 1
        print(f"iter {done}", flush=True)
        if done == self.args.fail_at:
            raise ValueError(f"a hook failed on purpose at iteration {done}")
        if done == self.args.hold_at:
            print("holding", flush=True)
            deadline = time.monotonic() + 60
            while not os.path.exists(self.args.release):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.args.release} did not appear within 60 s")
                time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work_dir")
    parser.add_argument("out")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--hold-at", type=int)
    parser.add_argument("--release")
    parser.add_argument("--fail-at", type=int)
    parser.add_argument("--launcher", default="none")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loader = {"num_workers": args.workers, "persistent_workers": True} if args.workers else {}
    kwargs = runner_kwargs(
        args.work_dir, resume=args.resume, log_level="INFO", launcher=args.launcher
    )
    kwargs["train_dataloader"] = {**kwargs["train_dataloader"], **loader}
    runner = Runner(
        **kwargs,
        custom_hooks=[SaveEveryIter(5), Script(args)],
    )
    print(f"log {runner.log_dir}", flush=True)
    runner.train()
    torch.save(runner.model.state_dict(), args.out)


if __name__ == "__main__":
    main()
