"""Benchmark: how long a checkpoint save stalls training, synchronous vs ``async_save=True``.

A model of about 100 MB of float32 parameters (6 linear layers of 2048x2048)
trains with SGD and momentum (so the checkpoint, with the optimizer's state,
is about 200 MB) under a real `Runner`, with a `CheckpointHook` saving every
`--interval` iterations. Both variants run in the same process, one after the
other, into temporary folders. The stall of a save is the time the training
thread spends in it: collecting the state and writing it (synchronous), or
collecting it and copying it to CPU memory (asynchronous; the write itself
overlaps the following iterations, and a save waits if the previous write is
still going). The table gives the median over the saves of each run.

Run it with ``hatch run bench:checkpoint-save`` (``-- --saves 9`` for steadier medians).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

import torch
from torch import nn

from hooks_core import BaseModel, Runner
from hooks_eval import CheckpointHook
from hooks_optim import OptimWrapper

WIDTH, LAYERS, BATCH = 2048, 6, 4


class Wide(BaseModel):
    """A stack of wide linear layers: about 100 MB of parameters, cheap to train on a tiny batch."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(*(nn.Linear(WIDTH, WIDTH) for _ in range(LAYERS)))

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor, mode: str = "tensor") -> Any:
        return {"loss": nn.functional.mse_loss(self.layers(inputs), targets)}


class TimedCheckpointHook(CheckpointHook):
    """A CheckpointHook that records how long each save holds up the training thread."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stalls: list[float] = []

    def _save(self, runner: Any, step: int, meta: dict[str, int]) -> None:
        start = time.perf_counter()
        super()._save(runner, step, meta)
        self.stalls.append(time.perf_counter() - start)


def stalls(async_save: bool, saves: int, interval: int) -> list[float]:
    """Train for `saves` intervals with one variant; return the stall of each save."""
    torch.manual_seed(0)
    model = Wide()
    data = [{"inputs": torch.randn(WIDTH), "targets": torch.randn(WIDTH)} for _ in range(BATCH)]
    hook = TimedCheckpointHook(interval=interval, by_epoch=False, async_save=async_save)
    with tempfile.TemporaryDirectory() as work_dir:
        runner = Runner(
            model=model,
            work_dir=work_dir,
            train_dataloader=dict(
                dataset=data, batch_size=BATCH, collate_fn=dict(type="default_collate")
            ),
            train_cfg=dict(by_epoch=False, max_iters=saves * interval),
            optim_wrapper=OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)),
            default_hooks=dict(checkpoint=hook, logger=None),  # only the saves in the way
            log_level="WARNING",
        )
        runner.train()
    return hook.stalls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--saves", type=int, default=5, help="saves per variant")
    parser.add_argument("--interval", type=int, default=20, help="iterations between saves")
    args = parser.parse_args()
    megabytes = sum(p.numel() * p.element_size() for p in Wide().parameters()) / 1e6
    results = {
        "synchronous": stalls(False, args.saves, args.interval),
        "async_save=True": stalls(True, args.saves, args.interval),
    }
    print(
        f"Training stall per checkpoint save: {megabytes:.0f} MB of parameters (+ momentum), "
        f"median of {args.saves} saves every {args.interval} iterations"
    )
    print(f"{'save':<18}{'median stall':>14}{'min':>10}{'max':>10}")
    for name, times in results.items():
        median, low, high = (1000 * t for t in (statistics.median(times), min(times), max(times)))
        print(f"{name:<18}{median:>11.1f} ms{low:>7.1f} ms{high:>7.1f} ms")
    ratio = statistics.median(results["synchronous"]) / statistics.median(
        results["async_save=True"]
    )
    print(f"async_save=True stalls training {ratio:.1f}x less")


if __name__ == "__main__":
    main()
