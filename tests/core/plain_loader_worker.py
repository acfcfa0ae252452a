"""A toy run over an ordinary dataloader, in its own process, killed and resumed by the tests.

Usage: ``WORK_DIR {epoch,iter} LOADER OUT [--resume] [--kill-at N] [--no-save]``.
It trains for 15 iterations (3 epochs of 5, or 15 iterations validating every 5)
on a dataloader made here, not from a config, saving a checkpoint after every
iteration unless ``--no-save``. With ``--kill-at N`` its process group is SIGKILLed once iteration N
and its checkpoint are done; otherwise it saves the final weights to OUT.

LOADER is one of:
    shuffle     DataLoader(shuffle=True); each sample draws noise from torch's
                and python's generators in the main process
    workers     DataLoader(shuffle=True, num_workers=2), samples without noise
    persistent  as workers, with persistent_workers=True
    generator   DataLoader(shuffle=True, generator=torch.Generator().manual_seed(7)),
                noisy samples
    stateful    torchdata's StatefulDataLoader(shuffle=True), noisy samples
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))

import torch
from killable_run import TRAIN_CFGS
from torch.utils.data import DataLoader
from toy import SaveEveryIter, ToyDataset, runner_kwargs

from hooks_core import Hook, Runner


class NoisyDataset(ToyDataset):
    """ToyDataset whose samples get fresh noise at every read, as a random augmentation would."""

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = super().__getitem__(index)
        noise = 0.1 * torch.randn(4) + random.uniform(-0.05, 0.05)
        return {"inputs": sample["inputs"] + noise, "targets": sample["targets"]}


class KillAt(Hook):
    """SIGKILL the run after iteration `at` and its checkpoint (after SaveEveryIter).

    The whole process group dies at once, dataloader workers included, as when a
    scheduler stops a job: the tests start the worker in a session of its own.
    """

    priority = "LOWEST"

    def __init__(self, at: int) -> None:
        self.at = at

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if runner.iter + 1 == self.at:
            os.killpg(os.getpgrp(), signal.SIGKILL)


def make_loader(kind: str) -> Any:
    if kind == "shuffle":
        return DataLoader(NoisyDataset(40), batch_size=8, shuffle=True)
    if kind in ("workers", "persistent"):
        return DataLoader(
            ToyDataset(40),
            batch_size=8,
            shuffle=True,
            num_workers=2,
            persistent_workers=kind == "persistent",
        )
    if kind == "generator":
        generator = torch.Generator().manual_seed(7)
        return DataLoader(NoisyDataset(40), batch_size=8, shuffle=True, generator=generator)
    if kind == "stateful":
        from torchdata.stateful_dataloader import StatefulDataLoader

        return StatefulDataLoader(NoisyDataset(40), batch_size=8, shuffle=True)
    raise ValueError(f"unknown loader {kind!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work_dir")
    parser.add_argument("mode", choices=["epoch", "iter"])
    parser.add_argument("loader", choices=["shuffle", "workers", "persistent", "generator",
                                           "stateful"])  # fmt: skip
    parser.add_argument("out")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--kill-at", type=int)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(1)  # the same reduction order in every process
    kwargs = runner_kwargs(args.work_dir, train_cfg=TRAIN_CFGS[args.mode], resume=args.resume)
    saving = [] if args.no_save else [SaveEveryIter()]
    kill = [] if args.kill_at is None else [KillAt(args.kill_at)]
    runner = Runner(
        **{**kwargs, "train_dataloader": make_loader(args.loader)},
        custom_hooks=[*saving, *kill],
    )
    runner.train()
    torch.save(runner.model.state_dict(), args.out)


if __name__ == "__main__":
    main()
