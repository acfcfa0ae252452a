"""Benchmark: how long one checkpoint save stalls training, for each way `CheckpointHook` saves.

A model of about 100 MB of float32 parameters (6 linear layers of 2048x2048,
25M parameters) trains with SGD and momentum (so the checkpoint, with the
optimizer's state, is about 200 MB) under a real `Runner`, with a
`CheckpointHook` saving every `--interval` iterations, in four ways:

* ``pth``: the default, a ``.pth`` file rank 0 writes before training goes on;
* ``pth async``: ``async_save=True``, the state copied to CPU memory on the
  training thread and written on a background thread;
* ``dcp``: ``save_format='dcp'``, a sharded folder every rank writes with
  ``torch.distributed.checkpoint.save``;
* ``dcp async``: both, ``dcp.async_save`` (only its staging copy blocks).

Each runs in this process (1 rank, no strategy) and under torchrun on 2 ranks
(gloo; DDP, the runner's default, for ``pth``; FSDP2, ``FSDPStrategy`` with
every Linear sharded, for ``dcp``), all into temporary folders. The stall of
a save is the wall time of the iteration that holds it (from the first
``before_train_iter`` hook to the last ``after_train_iter`` hook, on rank 0,
which writes the ``.pth`` files) minus the median iteration before the first
save (later ones are slowed by a background write still going): unlike the
hook's own time (``CheckpointHook._save``, shown beside it) it also counts a
background writer taking the cores from that iteration. The cost of a save is
what the whole interval that starts with it lost against clean iterations,
background writing included. The references are a plain ``torch.save`` of the
same model and optimizer state, timed in the same run, and the same with an
``os.fsync`` (the hook's writes and DCP's are fsynced). Medians over
`--saves` saves; the 1-rank runs use one thread, as each of the 2 ranks does
on this 2-core machine, so a background write competes with training there.

Run it with ``python3 tools/dev.py bench checkpoint-save`` (``--saves 9`` for steadier
medians, ``-- --ranks 1`` to skip torchrun).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hooks_core import BaseModel, Hook, Runner
from hooks_eval import CheckpointHook

WIDTH, LAYERS, BATCH = 2048, 6, 4
WARMUP = 6  # iterations before the interval that ends in the first save
SKIPPED = 4  # first iterations left out of the baseline: allocations, gloo's first buffers
VARIANTS: dict[str, dict[str, Any]] = {
    "pth": {},
    "pth async": {"async_save": True},
    "dcp": {"save_format": "dcp"},
    "dcp async": {"save_format": "dcp", "async_save": True},
}


class Wide(BaseModel):
    """A stack of wide linear layers: about 100 MB of parameters, cheap to train on a tiny batch."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(*(nn.Linear(WIDTH, WIDTH) for _ in range(LAYERS)))

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor, mode: str = "tensor") -> Any:
        return {"loss": nn.functional.mse_loss(self.layers(inputs), targets)}


class TimedCheckpointHook(CheckpointHook):
    """A CheckpointHook that records how long each of its saves takes on the training thread."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seconds: list[float] = []

    def _save(self, runner: Any, step: int, meta: dict[str, int]) -> None:
        start = time.perf_counter()
        super()._save(runner, step, meta)
        self.seconds.append(time.perf_counter() - start)


class IterationStart(Hook):
    """Stamps the start of each training iteration, before every other hook."""

    priority = "HIGHEST"

    def __init__(self) -> None:
        self.start = 0.0

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        self.start = time.perf_counter()


class IterationEnd(Hook):
    """Records each training iteration's wall time, after every other hook (the save's too)."""

    priority = "LOWEST"

    def __init__(self, start: IterationStart) -> None:
        self.clock = start
        self.seconds: list[float] = []

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        self.seconds.append(time.perf_counter() - self.clock.start)


def measure(options: dict[str, Any], saves: int, interval: int, ranks: int) -> dict[str, Any]:
    """Train with `saves` saves made with `options`; rank 0's stalls, costs and hook times.

    The baseline is the median iteration before the first save: later
    iterations without a save are slowed by a background write still going.
    """
    torch.manual_seed(0)
    model = Wide()
    data = [{"inputs": torch.randn(WIDTH), "targets": torch.randn(WIDTH)} for _ in range(BATCH)]
    first = WARMUP + interval  # saves after iterations first, first + interval, ...
    hook = TimedCheckpointHook(
        interval=interval, by_epoch=False, save_begin=first, save_last=False, **options
    )
    start = IterationStart()
    end = IterationEnd(start)
    distributed: dict[str, Any] = {}
    if ranks > 1:
        distributed = dict(launcher="pytorch", env_cfg=dict(dist_cfg=dict(backend="gloo")))
        if options.get("save_format") == "dcp":
            distributed["strategy"] = dict(type="FSDPStrategy", wrap_policy=["Linear"])
    with tempfile.TemporaryDirectory() as work_dir:
        runner = Runner(
            model=model,
            work_dir=work_dir,
            train_dataloader=dict(
                dataset=data,
                batch_size=BATCH // ranks,
                sampler=dict(type="DefaultSampler", shuffle=False),
                collate_fn=dict(type="default_collate"),
            ),
            # after the last save, as many iterations as after the others
            train_cfg=dict(by_epoch=False, max_iters=first + saves * interval - 1),
            optim_wrapper=dict(optimizer=dict(type="SGD", lr=1e-3, momentum=0.9)),
            default_hooks=dict(checkpoint=hook, logger=None),  # only the saves in the way
            custom_hooks=[start, end],
            log_level="WARNING",
            **distributed,
        )
        runner.train()
    times = end.seconds
    baseline = statistics.median(times[SKIPPED : first - 1])
    windows = [times[s - 1 : s - 1 + interval] for s in range(first, len(times) + 1, interval)]
    return {
        "stalls": [window[0] - baseline for window in windows],
        "costs": [sum(window) - interval * baseline for window in windows],
        "hook": hook.seconds,
        "iteration": baseline,
    }


def reference(saves: int) -> dict[str, list[float]]:
    """The seconds of each plain ``torch.save`` of the model's and the optimizer's state.

    Also with an ``os.fsync`` of the file, as `CheckpointHook`'s atomic writes
    and DCP's files have before they count as written.
    """
    torch.manual_seed(0)
    model = Wide()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    model(torch.randn(BATCH, WIDTH), torch.randn(BATCH, WIDTH))["loss"].backward()
    optimizer.step()  # the momentum buffers exist, as in the runs' checkpoints
    state = {"state_dict": model.state_dict(), "optimizer": optimizer.state_dict()}
    results: dict[str, list[float]] = {"torch.save": [], "+ fsync": []}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "plain.pth")
        for _ in range(saves):
            for name, synced in (("torch.save", False), ("+ fsync", True)):
                start = time.perf_counter()
                with open(path, "wb") as file:
                    torch.save(state, file)
                    if synced:
                        file.flush()
                        os.fsync(file.fileno())
                results[name].append(time.perf_counter() - start)
    return results


def measure_all(saves: int, interval: int, ranks: int) -> dict[str, dict[str, Any]]:
    """`measure` every one of `VARIANTS`, in order."""
    return {name: measure(options, saves, interval, ranks) for name, options in VARIANTS.items()}


def on_two_ranks(saves: int, interval: int) -> dict[str, dict[str, Any]]:
    """Run every variant under torchrun on 2 ranks (this script's ``--worker`` mode)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "results.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc_per_node=2", __file__, "--worker", str(out),
                   "--saves", str(saves), "--interval", str(interval)]  # fmt: skip
        subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        results: dict[str, dict[str, Any]] = json.loads(out.read_text())
    return results


def worker(out: Path, saves: int, interval: int) -> None:
    """One rank of `on_two_ranks`: rank 0 writes the results to `out`."""
    results = measure_all(saves, interval, ranks=2)
    if os.environ.get("RANK") == "0":
        out.write_text(json.dumps(results))


def report(
    results: dict[str, dict[str, dict[str, Any]]], plain: dict[str, list[float]], args: Any
) -> None:
    megabytes = sum(p.numel() * p.element_size() for p in Wide().parameters()) / 1e6
    unit = statistics.median(plain["torch.save"])
    print(
        f"Training stall per checkpoint save: {megabytes:.0f} MB of parameters (+ momentum), "
        f"median of {args.saves} saves every {args.interval} iterations"
    )
    print(f"{'save':<11}{'ranks':>6}{'iteration':>10}{'stall':>8}{'min':>8}{'max':>8}"
          f"{'cost':>8}{'in hook':>9}{'x torch.save':>14}")  # fmt: skip
    for name, seconds in plain.items():
        ratio = statistics.median(seconds) / unit
        print(f"{name:<11}{1:>6}{'':>10}{_ms(seconds)}{'':>33}{ratio:>14.2f}")
    for ranks, variants in results.items():
        for name, run in variants.items():
            stall = statistics.median(run["stalls"])
            print(f"{name:<11}{ranks:>6}{_ms([run['iteration']]):>10}{_ms(run['stalls'])}"
                  f"{_ms([min(run['stalls'])])}{_ms([max(run['stalls'])])}{_ms(run['costs'])}"
                  f"{_ms(run['hook']):>9}{stall / unit:>14.2f}")  # fmt: skip
    print(
        "stall: the save's iteration minus a clean one; cost: what its whole interval lost "
        "(a background write slows the next iterations); in hook: CheckpointHook._save"
    )


def _ms(seconds: list[float]) -> str:
    """The median of `seconds` in milliseconds, right-aligned in 8 characters."""
    return f"{1000 * statistics.median(seconds):>5.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--saves", type=int, default=5, help="saves per variant")
    parser.add_argument("--interval", type=int, default=8, help="iterations between saves")
    parser.add_argument("--ranks", type=int, nargs="+", choices=(1, 2), default=[1, 2])
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # one rank of 2
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.saves, args.interval)
        return
    results: dict[str, dict[str, dict[str, Any]]] = {}
    if 1 in args.ranks:
        torch.set_num_threads(1)  # as each of the 2 ranks: a core is left for a background write
        results["1"] = measure_all(args.saves, args.interval, ranks=1)
    plain = reference(args.saves)
    if 2 in args.ranks:
        results["2"] = on_two_ranks(args.saves, args.interval)
    report(results, plain, args)


if __name__ == "__main__":
    main()
