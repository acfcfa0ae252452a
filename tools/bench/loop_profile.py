"""Benchmark: where the Runner's time per iteration goes inside training, beside the hand loop.

`iteration_profile.py` times each part of an iteration hot, one call after
another. Inside training each part runs once between torch's forward,
backward and step, which leave the caches and branch predictors full of
their own work, so the same Python code costs several times more there.
This benchmark times the parts where they run, and measures the whole in one
process against the hand-written `DataLoader` loop of `runner_overhead.py`'s
job (b), so both see the same machine:

* whole epochs: the runner of `runner_overhead.py` (default hooks, a log
  record and a checkpoint per 50-iteration epoch) trains `--epochs` epochs;
  before each, a hook runs one epoch of the hand-written loop. The CPU time
  of each of our epochs is paired with that of the hand-written epoch just
  before it; the overhead is the median of the differences, per iteration,
  with its interquartile range. ``--no-checkpoint`` drops both loops' saves.
* parts: in a second run, each point of each default hook and the model's
  ``train_step`` are timed at every call (thread CPU), less what timing an
  empty call the same way costs. An iteration point has two rows, the
  epoch's last iteration (which logs a record) and its 49 others; a row's
  cost per iteration is its median per call times its calls per epoch, over 50.

Run it with ``python3 tools/dev.py bench loop-profile``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).parent))

from overhead_workload import (
    BLOCK,
    HandLoop,
    Spec,
    default_hook_overrides,
    make_net,
    runner_config,
    runner_model,
)  # fmt: skip

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

WARMUP_EPOCHS = 10  # left out of the medians: first epochs, imports, caches
ITERATION_POINTS = ("before_train_iter", "after_train_iter")
EPOCH_POINTS = ("before_train_epoch", "after_train_epoch")
LAST_BATCH = BLOCK - 1  # the iteration that logs a record
TRAIN_STEP = "model.train_step"
HAND_SAVE = "hand-written loop: torch.save"
RECORD = "LoggerHook.after_train_iter [record]"
SAVE = "CheckpointHook.after_train_epoch"


class Timings:
    """Thread CPU of wrapped calls, by part, once training is past its warm-up epochs."""

    def __init__(self) -> None:
        self.ns: dict[str, list[int]] = defaultdict(list)
        self.on = False

    def wrap(self, name: Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn`, timed under the part `name(*args, **kwargs)` names."""
        clock = time.thread_time_ns

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.on:
                return fn(*args, **kwargs)
            begin = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.ns[name(*args, **kwargs)].append(clock() - begin)

        return timed

    def median_us(self, name: str) -> float:
        return statistics.median(self.ns[name]) / 1e3


def default_hooks(spec: Spec) -> dict[str, Any | None]:
    """The benchmark's default hooks, built here so their classes can be timed first."""
    from hooks_core.registry import HOOKS
    from hooks_core.runner import default_hook_configs

    configs = {**default_hook_configs(), **default_hook_overrides(spec)}
    # None stays: the runner would otherwise add that default hook itself.
    return {key: None if cfg is None else HOOKS.build(cfg) for key, cfg in configs.items()}


@contextlib.contextmanager
def timed_points(hooks: list[Any], timings: Timings) -> Iterator[None]:
    """Time each point of `hooks` in their classes while inside, where the classes define them.

    A point the class inherits from `Hook` is timed through the generic method
    it forwards to (`IterTimerHook._before_iter`). The classes' own attributes
    are replaced, not the instances': a method set on an instance would be
    called even at a point the hook declares idle.
    """
    from hooks_core.engine import GENERIC_POINTS, Hook

    saved: list[tuple[type, str, Any]] = []
    for cls in dict.fromkeys(type(hook) for hook in hooks):
        for point in (*ITERATION_POINTS, *EPOCH_POINTS):
            for name in (point, GENERIC_POINTS.get(point)):
                owner = next((c for c in cls.__mro__ if name in vars(c)), None)
                if owner is None or owner is Hook:
                    continue  # `Hook`'s own: nothing runs there
                if any(done[:2] == (owner, name) for done in saved):
                    break  # a base two of the hooks share: timed once, under the first
                saved.append((owner, name, vars(owner)[name]))
                setattr(owner, name, timings.wrap(_part_name(cls, point), vars(owner)[name]))
                break
    try:
        yield
    finally:
        for owner, name, function in reversed(saved):
            setattr(owner, name, function)


def _part_name(cls: type, point: str) -> Callable[..., str]:
    """Names a call of `point` on `cls`: iterations apart from the one that logs a record."""
    label = f"{cls.__name__}.{point}"
    if point in EPOCH_POINTS:
        return lambda *args, **kwargs: label

    def name(hook: Any, runner: Any, batch_idx: int, *args: Any, **kwargs: Any) -> str:
        return f"{label} [{'record' if batch_idx == LAST_BATCH else 'other'}]"

    return name


def train(checkpoint: bool, epochs: int, work_dir: Path, timings: Timings | None) -> list[float]:
    """Our runner, a hand-written epoch before each of ours; their paired differences per iteration.

    With `timings`, the hooks' points, ``train_step`` and the hand-written
    loop's save are timed too (the differences then include the timing's cost).
    """
    from hooks_core import BaseModel, Hook, Runner

    spec = Spec("hooks", epochs * BLOCK, checkpoint=checkpoint)
    work_dir.mkdir(parents=True)
    hand = HandLoop(dataclasses.replace(spec, variant="dataloader"), work_dir)
    ours_ns: list[int] = []
    hand_ns: list[int] = []
    clock = time.process_time_ns

    class Alternate(Hook):
        """First at each epoch's start: closes our last epoch, then runs a hand-written one."""

        priority = "HIGHEST"

        def __init__(self) -> None:
            self.started: int | None = None

        def before_train_epoch(self, runner: Any) -> None:
            now = clock()
            if self.started is not None:
                ours_ns.append(now - self.started)
            if timings is not None:
                timings.on = runner.epoch >= WARMUP_EPOCHS
            begin = clock()
            hand.run_epoch(runner.epoch, _nothing)
            hand_ns.append(clock() - begin)
            self.started = clock()

        def after_train(self, runner: Any) -> None:
            ours_ns.append(clock() - (self.started or 0))

    model = runner_model(BaseModel, make_net())
    hooks = default_hooks(spec)
    if timings is not None:
        model.train_step = timings.wrap(lambda *a, **k: TRAIN_STEP, model.train_step)
        hand.save = timings.wrap(lambda *a, **k: HAND_SAVE, hand.save)
    config = runner_config(spec, model, work_dir)
    config["default_hooks"] = hooks
    timed = (
        contextlib.nullcontext()
        if timings is None
        else timed_points([h for h in hooks.values() if h is not None], timings)
    )
    with (
        timed,
        open(os.devnull, "w") as null,
        contextlib.redirect_stdout(null),  # the log's console
    ):
        Runner(**config, custom_hooks=[Alternate()]).train()
    hand.close()
    pairs = list(zip(ours_ns, hand_ns, strict=True))[WARMUP_EPOCHS:]
    return [(ours - by_hand) / BLOCK / 1e3 for ours, by_hand in pairs]


def _nothing() -> None:
    """The hand-written loop's tick: nothing to pace here."""


def calibration_us(timings: Timings) -> float:
    """What timing one call costs inside the measured time: an empty call, timed alike."""
    empty = timings.wrap(lambda: "empty", _nothing)
    timings.on = True
    for _ in range(20_000):
        empty()
    value = timings.median_us("empty")
    del timings.ns["empty"]
    return value


def per_iteration(timings: Timings, calibration: float) -> dict[str, tuple[int, float, float]]:
    """Each timed part: its calls per epoch, CPU µs per call and per iteration, calibrated."""
    rows = {}
    for name in timings.ns:
        calls = BLOCK - 1 if name.endswith("[other]") else BLOCK if name == TRAIN_STEP else 1
        per_call = timings.median_us(name) - calibration
        rows[name] = (calls, per_call, per_call * calls / BLOCK)
    return rows


def report_parts(rows: dict[str, tuple[int, float, float]], calibration: float) -> None:
    """Each hook point (and ``train_step``, the hand-written save) as it runs in the loop."""
    print(f"{'part, timed where it runs':<58}{'calls/epoch':>12}{'µs/call':>10}{'µs/iter':>10}")
    print("-" * 90)
    for name in sorted(rows, key=lambda n: (n in (TRAIN_STEP, HAND_SAVE), n)):
        calls, per_call, share = rows[name]
        print(f"{name:<58}{calls:>12}{per_call:10.1f}{share:10.2f}")
    print(f"(timing a call costs {calibration:.2f} µs, taken off each row)")


def report_shares(rows: dict[str, tuple[int, float, float]], overhead: float) -> None:
    """The overhead per iteration in its shares: hooks each iteration, the record, the save."""
    hooks = {
        name: share for name, (_, _, share) in rows.items() if name not in (TRAIN_STEP, HAND_SAVE)
    }
    record = hooks.pop(RECORD, 0.0)
    save = hooks.pop(SAVE, 0.0) - rows.get(HAND_SAVE, (0, 0.0, 0.0))[2]
    iterations = sum(share for name, share in hooks.items() if name.endswith("]"))
    epochs = sum(share for name, share in hooks.items() if not name.endswith("]"))
    shares = {
        "hook points at every iteration (the record's logging aside)": iterations,
        "the logger's record iteration (LoggerHook, once per epoch)": record,
        "the checkpoint, over the hand-written torch.save": save,
        "the other epoch points (schedulers, sampler seed, ...)": epochs,
    }
    shares["the rest: data, train_step, the loop (whole minus the above)"] = overhead - sum(
        shares.values()
    )
    print(f"{'where the overhead goes':<80}{'µs/iter':>10}")
    print("-" * 90)
    for name, share in shares.items():
        print(f"{name:<80}{share:+10.2f}")
    print(f"{'whole (untimed run)':<80}{overhead:+10.2f}")


def summary(label: str, differences: list[float]) -> float:
    """Print and return the median of `differences`, with their interquartile range."""
    ordered = sorted(differences)
    quartile = len(ordered) // 4
    middle = statistics.median(ordered)
    print(f"{label:<58}{middle:+10.1f}  IQR {ordered[quartile]:+.1f}..{ordered[-quartile - 1]:+.1f}"
          f"  ({len(ordered)} pairs)")  # fmt: skip
    return middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=300, help="epochs of the untimed run")
    parser.add_argument("--no-checkpoint", action="store_true", help="neither loop saves")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    checkpoint = not args.no_checkpoint
    with tempfile.TemporaryDirectory() as tmp:
        whole = train(checkpoint, args.epochs, Path(tmp, "whole"), None)
        timings = Timings()
        train(checkpoint, max(args.epochs // 3, 2 * WARMUP_EPOCHS), Path(tmp, "parts"), timings)
    calibration = calibration_us(timings)
    rows = per_iteration(timings, calibration)
    saves = "a checkpoint per epoch" if checkpoint else "no checkpoint"
    print(f"the runner inside training, beside the hand-written DataLoader loop in one process "
          f"({saves}); CPU µs per iteration; torch {torch.__version__}")  # fmt: skip
    overhead = summary("whole epochs: ours minus the hand-written loop", whole)
    print()
    report_shares(rows, overhead)
    print()
    report_parts(rows, calibration)


if __name__ == "__main__":
    main()
