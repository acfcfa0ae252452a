"""On a GPU: how often the Runner makes the host wait for the device, and its cost per iteration.

Trains an MLP on ``cuda`` with `hooks_core.Runner` and its default hooks (logger
every 50 iterations, a checkpoint per epoch) for ``--iters`` iterations under
``torch.cuda.set_sync_debug_mode('warn')``, counting the synchronising calls
in each iteration between the first ``before_train_iter`` hook and the last
``after_train_iter`` one, apart for logging iterations and the others (which
should have none). Then it times the same training against a plain loop over a
``DataLoader`` with the same model, in interleaved rounds, synchronising only
at the ends of each run, and prints medians.

Without CUDA it says so and exits with status 2. Run it with
``python3 tools/dev.py bench cuda-sync`` on a machine with a GPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from overhead_workload import runner_model

BATCH, IN, HIDDEN, CLASSES, BLOCK = 256, 512, 1024, 10, 50


def make_net() -> Any:
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))


def make_dataset() -> Any:
    import torch
    from torch.utils.data import TensorDataset

    generator = torch.Generator().manual_seed(0)
    samples = BLOCK * BATCH
    return TensorDataset(
        torch.randn(samples, IN, generator=generator),
        torch.randint(0, CLASSES, (samples,), generator=generator),
    )


def plain_loop(iters: int) -> float:
    """Seconds for `iters` iterations of a hand-written loop over a DataLoader on the GPU."""
    import torch
    from torch.nn import functional as F
    from torch.utils.data import DataLoader

    net = make_net().cuda()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader(make_dataset(), BATCH, shuffle=True)  # one epoch is BLOCK iterations
    logged: list[float] = []
    with tempfile.TemporaryDirectory() as work_dir:
        torch.cuda.synchronize()
        start = time.perf_counter()
        for epoch in range(iters // BLOCK):
            for done, (x, y) in enumerate(loader, 1):
                loss = F.cross_entropy(net(x.cuda(non_blocking=True)), y.cuda(non_blocking=True))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if done == BLOCK:
                    logged.append(loss.item())  # the host read of a log line, as the runner's
            state = {"model": net.state_dict(), "optimizer": optimizer.state_dict()}
            torch.save(state, f"{work_dir}/epoch_{epoch + 1}.pth")
        torch.cuda.synchronize()
        return time.perf_counter() - start


def runner(iters: int, work_dir: str, hooks: list[Any]) -> Any:
    from hooks_core import BaseModel, Runner

    return Runner(
        model=runner_model(BaseModel, make_net()),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=make_dataset(),
            batch_size=BATCH,
            sampler=dict(type="DefaultSampler", shuffle=True),
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=iters // BLOCK),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01, momentum=0.9)),
        default_hooks=dict(
            logger=dict(type="LoggerHook", interval=BLOCK),
            checkpoint=dict(type="CheckpointHook", interval=1),
        ),
        custom_hooks=hooks,
        log_level="WARNING",
    )


def count_syncs(iters: int) -> tuple[list[int], list[int]]:
    """Synchronising calls per iteration: (logging iterations, the others)."""
    import torch

    from hooks_core import Hook

    counts: dict[int, int] = {}

    class Start(Hook):
        priority = "HIGHEST"

        def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
            self.caught = warnings.catch_warnings(record=True)
            self.records = self.caught.__enter__()
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")

    start = Start()

    class Stop(Hook):
        priority = "LOWEST"

        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            torch.cuda.set_sync_debug_mode("default")
            counts[runner.iter] = sum("synchroniz" in str(w.message) for w in start.records)
            start.caught.__exit__(None, None, None)

    with tempfile.TemporaryDirectory() as work_dir:
        runner(iters, work_dir, [start, Stop()]).train()
    logging = [n for i, n in counts.items() if (i + 1) % BLOCK == 0]
    quiet = [n for i, n in counts.items() if (i + 1) % BLOCK]
    return logging, quiet


def timed_runner(iters: int) -> float:
    import torch

    with tempfile.TemporaryDirectory() as work_dir:
        built = runner(iters, work_dir, [])
        torch.cuda.synchronize()
        start = time.perf_counter()
        built.train()
        torch.cuda.synchronize()
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=200, help="a multiple of 50")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("cuda_sync: needs a CUDA device, and torch sees none; run it on a GPU machine")
        return 2
    logging, quiet = count_syncs(args.iters)
    print(f"synchronisations per iteration over {args.iters} iterations on "
          f"{torch.cuda.get_device_name()}: logging iterations {statistics.median(logging):.0f} "
          f"(max {max(logging)}), others {sum(quiet)} in all (max {max(quiet)})")  # fmt: skip
    plain, ours = [], []
    for _ in range(args.rounds):
        plain.append(plain_loop(args.iters) / args.iters * 1e6)
        ours.append(timed_runner(args.iters) / args.iters * 1e6)
    p, o = statistics.median(plain), statistics.median(ours)
    print(f"{'job':<36}{'µs/iter':>10}")
    print(f"{'plain loop, DataLoader':<36}{p:10.1f}")
    print(f"{'hooks_core.Runner, default hooks':<36}{o:10.1f}")
    print(f"Runner overhead: {o - p:+.1f} µs/iter ({o / p:.2f}x), median of {args.rounds} rounds")
    return 1 if sum(quiet) else 0


if __name__ == "__main__":
    sys.exit(main())
