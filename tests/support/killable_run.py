"""A training run driven from the command line, for tests that kill a process and resume it.

Usage of a worker script built on it:
``WORK_DIR {epoch,iter} OUT [--resume] [--no-save] [--pause-at N]``.
It trains for 15 iterations (3 epochs of 5, or 15 iterations validating every 5),
saves a checkpoint after every iteration unless ``--no-save``, prints ``iter N``
once iteration N and its checkpoint are done, and finally saves its result to OUT.
With ``--pause-at N`` it waits for a line on its stdin after printing ``iter N``:
`signal_at` sends its signal then, so a fast run cannot finish before it arrives.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import torch
from toy import SaveEveryIter

from hooks_core import Hook, Runner

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


# 15 iterations either way: 3 epochs of 5, or 15 iterations validating every 5.
TRAIN_CFGS = {
    "epoch": dict(by_epoch=True, max_epochs=3, val_interval=1),
    "iter": dict(by_epoch=False, max_iters=15, val_interval=5),
}


class Progress(Hook):
    """Tell the parent process which iteration has finished (after the checkpoint hook)."""

    priority = "LOWEST"

    def __init__(self, pause_at: int | None = None) -> None:
        self.pause_at = pause_at

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        print(f"iter {runner.iter + 1}", flush=True)
        if runner.iter + 1 == self.pause_at:
            sys.stdin.readline()  # the parent's signal arrives while this waits


def signal_at(command: Sequence[str], at: int, sig: int) -> tuple[int, str, str]:
    """Run a worker `command`, send it `sig` once it reports iteration `at`, let it go on.

    Returns its exit status, the rest of its output and its error output.
    """
    proc = subprocess.Popen(
        [*command, "--pause-at", str(at)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == f"iter {at}":
            proc.send_signal(sig)
            break
    rest, stderr = proc.communicate("go\n", timeout=120)  # a killed worker's pipe is ignored
    return proc.returncode, rest, stderr


def train_from_command_line(
    runner_kwargs: Callable[..., dict[str, Any]],
    extra_hooks: Sequence[Hook] = (),
    result: Callable[[Runner], Any] = lambda runner: runner.model.state_dict(),
) -> None:
    """Parse the worker's arguments, train, and `torch.save` `result(runner)` to OUT."""
    parser = argparse.ArgumentParser()
    parser.add_argument("work_dir")
    parser.add_argument("mode", choices=["epoch", "iter"])
    parser.add_argument("out")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--pause-at", type=int)
    args = parser.parse_args()

    torch.set_num_threads(1)  # the same reduction order in every process
    saving = [] if args.no_save else [SaveEveryIter()]
    runner = Runner(
        **runner_kwargs(args.work_dir, train_cfg=TRAIN_CFGS[args.mode], resume=args.resume),
        custom_hooks=[*extra_hooks, *saving, Progress(args.pause_at)],
    )
    runner.train()
    torch.save(result(runner), args.out)
