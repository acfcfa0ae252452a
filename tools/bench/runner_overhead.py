"""Benchmark: what `hooks_core.Runner` adds to each training iteration, beside its peers.

Each job of `overhead_workload.py` (a plain loop indexing tensors, a plain loop
over a DataLoader, the same with a checkpoint a crash cannot damage, MMEngine's
Runner, Lightning's Trainer, ours) trains the same model on the same data with
the same optimizer, scheduler, logging interval and per-epoch checkpoint, each
in its own process.

How it is measured, and why. This VM's speed drifts by a quarter within
seconds, so whole runs timed one after another differ by more than the effect.
Two measurements hold instead:

* CPU time, in lockstep: all jobs start, and the parent lets one job at a time
  run one block of 50 iterations (an epoch: one log record, one checkpoint)
  while the others wait, taking turns in a rotating order. Every job's block k
  runs within a second of the others', so they see the same machine; the
  overhead is the median over blocks of the paired difference to the
  DataLoader loop's block. CPU time (``time.process_time``) leaves out the time
  a job was not scheduled.
* Instructions (``--instructions``): each job runs alone under valgrind's
  callgrind, which counts the instructions of two blocks after two of warm-up.
  The count does not depend on the machine's load at all, so it shows a change
  of a few hundred instructions; it weighs every instruction the same, so it is
  a check of the CPU-time figure, not a replacement. Every job runs with
  ``PYTHONHASHSEED=0``: with a random seed each process lays out its sets and
  dicts of strings differently, which moved the runner's count by up to 9k
  between processes, against about 3k with the seed fixed.

``--invocations N`` repeats the whole measurement with new processes and prints
the spread of the headline. ``--scaling`` measures the runner again with 5, 20
and 50 custom hooks and with 1, 4 and 16 loss keys, each against a DataLoader
loop computing the same loss terms. ``--split`` measures the runner and the
DataLoader loop again without their per-epoch checkpoint, to tell what the
checkpoint costs from what the iterations cost. Jobs whose library is not
installed are left out (the benchmark environment installs MMEngine 0.10.7 and
Lightning).

Run it with ``python3 tools/dev.py bench runner-overhead`` (``--instructions --invocations 5``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callgrind_region import callgrind_command, read_total
from overhead_workload import BATCH, BLOCK, CLASSES, HIDDEN, IN, Spec

WORKLOAD = Path(__file__).with_name("overhead_workload.py")
WARMUP_BLOCKS = 2  # blocks left out of the CPU-time medians: imports, first epoch, caches
MEASURED_BLOCKS = (2, 4)  # instructions: from the end of block 2 to the end of block 4
NEEDS = {"mmengine": "mmengine", "lightning": "pytorch_lightning", "hooks": "hooks_core"}


@dataclass
class Job:
    """One training process and what it reported."""

    label: str
    spec: Spec
    cpu_us: list[float] = field(default_factory=list)  # per block, per iteration
    wall_us: list[float] = field(default_factory=list)
    setup_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    instructions: float = 0.0  # per iteration, under callgrind

    def command(self, fds: tuple[int, int], work_dir: Path, mode: str) -> list[str]:
        return [
            sys.executable, str(WORKLOAD), "--variant", self.spec.variant,
            "--iters", str(self.spec.iters), "--loss-keys", str(self.spec.loss_keys),
            "--extra-hooks", str(self.spec.extra_hooks), "--mode", mode,
            "--measure", *map(str, MEASURED_BLOCKS), "--fds", *map(str, fds),
            "--work-dir", str(work_dir),
        ] + ([] if self.spec.checkpoint else ["--no-checkpoint"])  # fmt: skip


# What every job's process adds to the environment: the workload's folder, and a fixed
# string hash seed, so sets and dicts of strings are laid out alike in every process.
JOB_ENVIRONMENT = {"PYTHONPATH": str(WORKLOAD.parent), "PYTHONHASHSEED": "0"}


class Process:
    """A running job, talked to over two pipes (its stdout is the framework's log)."""

    def __init__(self, job: Job, work_dir: Path, mode: str, prefix: list[str]) -> None:
        to_child, from_parent = os.pipe()
        from_child, to_parent = os.pipe()
        work_dir.mkdir(parents=True)
        self.log = work_dir / "process.log"
        command = prefix + job.command((to_child, to_parent), work_dir, mode)
        with open(self.log, "wb") as log:
            self.popen = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, pass_fds=(to_child, to_parent),
                cwd=work_dir, env={**os.environ, **JOB_ENVIRONMENT},
            )  # fmt: skip
        os.close(to_child)
        os.close(to_parent)
        self.writer = os.fdopen(from_parent, "w")
        self.reader = os.fdopen(from_child, "r")
        self.job = job

    def receive(self) -> dict[str, Any]:
        line = self.reader.readline()
        if not line:
            self.popen.wait()
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"job {self.job.label!r} exited ({self.popen.returncode}):\n{tail}")
        return dict(json.loads(line))

    def go(self) -> dict[str, Any]:
        self.writer.write("go\n")
        self.writer.flush()
        return self.receive()

    def finish(self, report: dict[str, Any]) -> None:
        self.job.peak_rss_mb = report["peak_rss_mb"]
        self.popen.wait()


def record_block(job: Job, report: dict[str, Any]) -> None:
    if report["block"] > WARMUP_BLOCKS:
        job.cpu_us.append(report["cpu_ns"] / BLOCK / 1e3)
        job.wall_us.append(report["wall_ns"] / BLOCK / 1e3)


def run_lockstep(jobs: list[Job], root: Path) -> None:
    """Start the jobs one by one (set-up alone), then run them one block at a time, in turn."""
    processes = []
    for index, job in enumerate(jobs):
        process = Process(job, root / f"{index}-{job.spec.variant}", "lockstep", [])
        first = process.receive()
        job.setup_seconds = first["setup_seconds"]
        processes.append(process)
    blocks = jobs[0].spec.iters // BLOCK
    for block in range(2, blocks + 1):
        shift = block % len(processes)
        for process in processes[shift:] + processes[:shift]:
            record_block(process.job, process.go())
    for process in processes:
        process.finish(process.go())


def count_instructions(jobs: list[Job], root: Path) -> None:
    """Run each job alone under callgrind; instructions per iteration of the measured blocks."""
    iters = (MEASURED_BLOCKS[1] + 1) * BLOCK
    for index, job in enumerate(jobs):
        short = Job(job.label, dataclasses.replace(job.spec, iters=iters))
        work_dir = root / f"callgrind-{index}-{job.spec.variant}"
        out_file = work_dir / "callgrind.out"
        process = Process(short, work_dir, "instructions", callgrind_command(out_file))
        process.finish(process.receive())
        blocks = MEASURED_BLOCKS[1] - MEASURED_BLOCKS[0]
        job.instructions = read_total(out_file) / (blocks * BLOCK)


# ---------------------------------------------------------------- what is measured
def version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def peer_jobs(iters: int) -> list[Job]:
    jobs = [
        Job("(a) plain loop, tensors indexed", Spec("indexed", iters)),
        Job("(b) plain loop, DataLoader", Spec("dataloader", iters)),
        Job("(b2) (b), checkpoint fsynced + renamed", Spec("durable", iters)),
        Job(f"(c) MMEngine {version('mmengine')} Runner", Spec("mmengine", iters)),
        Job(f"(d) Lightning {version('pytorch-lightning')} Trainer", Spec("lightning", iters)),
        Job("(e) hooks_core.Runner, default hooks", Spec("hooks", iters)),
    ]
    return [job for job in jobs if installed(job.spec.variant)]


def scaling_jobs(iters: int) -> list[Job]:
    jobs = [Job("plain loop, DataLoader, 1 loss key", Spec("dataloader", iters))]
    for hooks in (0, 5, 20, 50):
        jobs.append(Job(f"Runner + {hooks} custom hooks", Spec("hooks", iters, 1, hooks)))
    for keys in (4, 16):
        base = Job(f"plain loop, DataLoader, {keys} loss keys", Spec("dataloader", iters, keys))
        jobs += [base, Job(f"Runner, {keys} loss keys", Spec("hooks", iters, keys))]
    return jobs


def split_jobs(iters: int) -> list[Job]:
    """The runner and the DataLoader loop with and without their per-epoch checkpoint."""
    return [
        Job("plain loop, DataLoader", Spec("dataloader", iters)),
        Job("Runner, default hooks", Spec("hooks", iters)),
        Job("plain loop, DataLoader, no checkpoint", Spec("dataloader", iters, checkpoint=False)),
        Job("Runner, no CheckpointHook", Spec("hooks", iters, checkpoint=False)),
    ]


def installed(variant: str) -> bool:
    module = NEEDS.get(variant)
    return module is None or importlib.util.find_spec(module) is not None


# ---------------------------------------------------------------- reporting
def paired_overhead(job: Job, base: Job) -> list[float]:
    """Per block, the job's CPU µs per iteration minus its baseline's in the same round."""
    return [mine - theirs for mine, theirs in zip(job.cpu_us, base.cpu_us, strict=True)]


def quartiles(values: list[float]) -> tuple[float, float]:
    q1, _, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else (values * 3)
    return q1, q3


def baseline(job: Job, jobs: list[Job]) -> Job | None:
    """The DataLoader loop computing the same loss terms as `job` (None for the loops)."""
    if job.spec.variant in ("indexed", "dataloader"):
        return None
    keys, saves = job.spec.loss_keys, job.spec.checkpoint
    return next(
        (
            j
            for j in jobs
            if j.spec.variant == "dataloader"
            and j.spec.loss_keys == keys
            and j.spec.checkpoint == saves
        ),
        None,
    )


def print_table(jobs: list[Job], instructions: bool) -> None:
    header = (f"{'job':<40}{'CPU µs/it':>10}{'overhead':>10}{'IQR':>18}{'ratio':>7}"
              f"{'wall µs/it':>11}{'RSS MB':>8}{'set-up s':>9}")  # fmt: skip
    if instructions:
        header += f"{'instr/it':>10}{'over':>9}"
    print(header)
    print("-" * len(header))
    for job in jobs:
        base = baseline(job, jobs)
        cpu = statistics.median(job.cpu_us)
        if base is None:
            over = iqr = ratio = "-"
        else:
            diffs = paired_overhead(job, base)
            q1, q3 = quartiles(diffs)
            over, iqr = f"{statistics.median(diffs):+.1f}", f"{q1:+.1f}..{q3:+.1f}"
            ratio = f"{cpu / statistics.median(base.cpu_us):.2f}x"
        row = (f"{job.label:<40}{cpu:10.1f}{over:>10}{iqr:>18}{ratio:>7}"
               f"{statistics.median(job.wall_us):11.1f}{job.peak_rss_mb:8.0f}"
               f"{job.setup_seconds:9.2f}")  # fmt: skip
        if instructions:
            extra = "-" if base is None else f"{job.instructions - base.instructions:+9.0f}"
            row += f"{job.instructions:10.0f}{extra:>9}"
        print(row)


def headline(jobs: list[Job]) -> float | None:
    """The runner's median paired overhead over the DataLoader loop, µs per iteration."""
    ours = next((job for job in jobs if job.spec.variant == "hooks"), None)
    base = None if ours is None else baseline(ours, jobs)
    return None if base is None else statistics.median(paired_overhead(ours, base))


def measure(make_jobs: Any, args: argparse.Namespace, root: Path) -> list[Job]:
    jobs = make_jobs(args.iters)
    run_lockstep(jobs, root / "lockstep")
    if args.instructions:
        count_instructions(jobs, root)
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=3000, help="iterations per job (x50)")
    parser.add_argument("--invocations", type=int, default=1, help="repeat with new processes")
    parser.add_argument("--instructions", action="store_true", help="also count with callgrind")
    parser.add_argument("--scaling", action="store_true", help="custom hooks and loss keys")
    parser.add_argument("--split", action="store_true",
                        help="the overhead with and without the per-epoch checkpoint")  # fmt: skip
    args = parser.parse_args()
    if args.iters % BLOCK or args.iters < (WARMUP_BLOCKS + 2) * BLOCK:
        parser.error(
            f"--iters must be a multiple of {BLOCK} and at least {(WARMUP_BLOCKS + 2) * BLOCK}"
        )

    import torch

    print(
        f"runner overhead: MLP {IN}->{HIDDEN}->{CLASSES}, batch {BATCH}, SGD + MultiStepLR, "
        f"log every {BLOCK}, checkpoint every epoch ({BLOCK} iterations), CPU, 1 thread, "
        f"torch {torch.__version__}; {args.iters} iterations per job, CPU time per block of "
        f"{BLOCK} in lockstep, medians of {args.iters // BLOCK - WARMUP_BLOCKS} blocks"
    )
    skipped = [variant for variant in ("mmengine", "lightning") if not installed(variant)]
    if skipped:
        print(f"not installed, left out: {', '.join(skipped)} (the bench environment has them)")
    headlines = []
    for invocation in range(args.invocations):
        with tempfile.TemporaryDirectory(prefix="hooks-overhead-") as tmp:
            jobs = measure(peer_jobs, args, Path(tmp))
            if args.invocations > 1:
                print(f"invocation {invocation + 1} of {args.invocations}")
            print_table(jobs, args.instructions)
            headlines.append(headline(jobs))
            if args.scaling and invocation == 0:
                print(
                    "scaling: the runner with more custom hooks (3 act per iteration) and more "
                    "loss keys, each against a DataLoader loop with the same loss terms"
                )
                print_table(measure(scaling_jobs, args, Path(tmp) / "scaling"), args.instructions)
            if args.split and invocation == 0:
                print(
                    "split: the runner and the DataLoader loop with and without their "
                    "per-epoch checkpoint, each against the loop that saves alike"
                )
                print_table(measure(split_jobs, args, Path(tmp) / "split"), args.instructions)
    measured = [value for value in headlines if value is not None]
    if measured:
        spread = f"; over {len(measured)} invocations {min(measured):+.1f} to {max(measured):+.1f}"
        print(f"Runner overhead over the DataLoader loop: {statistics.median(measured):+.1f} "
              f"µs/iter (CPU time, target < 15){spread if len(measured) > 1 else ''}")  # fmt: skip


if __name__ == "__main__":
    main()
