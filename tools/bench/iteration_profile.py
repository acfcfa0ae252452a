"""Benchmark: where the Runner's time per training iteration goes, part by part.

Builds the runner of `runner_overhead.py` (the same model, data and default
hooks), trains it for one epoch so that everything is built, then times each
part of an iteration on its own against what a hand-written loop does instead,
in interleaved samples of CPU time (medians):

* the collate function against torch's ``default_collate``;
* ``train_step`` (data preprocessor, forward, loss parsing, optimizer wrapper)
  against the hand-written forward, ``zero_grad``, ``backward``, ``step``;
* each default hook's ``before_train_iter`` and ``after_train_iter`` on an
  iteration that does not log (the hand-written loop does nothing there), as
  training calls them: a point the hook does not override, or names in its
  ``idle_points``, is not called;
* the checkpoint at each epoch's end (``save_checkpoint``) against a bare
  ``torch.save`` of the model, optimizer and scheduler, per iteration of the epoch.

``--instructions`` also runs every part under valgrind's callgrind, one counted
region each, for a column of instructions that does not drift with the load.

Run it with ``python3 tools/dev.py bench iteration-profile`` (``--instructions``).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).parent))

from overhead_workload import (
    BATCH,
    BLOCK,
    Spec,
    make_net,
    make_optimizer,
    runner_config,
    runner_model,
)  # fmt: skip

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def sample_us(fn: Callable[[], Any], number: int) -> float:
    """CPU µs per call of `fn` over `number` calls."""
    start = time.process_time_ns()
    for _ in range(number):
        fn()
    return (time.process_time_ns() - start) / number / 1e3


def interleaved(cases: dict[str, Callable[[], Any]], number: int, rounds: int) -> dict[str, float]:
    """Median µs per call of each case, over `rounds` samples taken in turn."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            samples[name].append(sample_us(fn, number))
    return {name: statistics.median(values) for name, values in samples.items()}


def build(work_dir: Path) -> Any:
    """Our runner of the overhead benchmark, after one epoch of training."""
    from hooks_core import BaseModel, Runner

    model = runner_model(BaseModel, make_net())
    runner = Runner(
        **{**runner_config(Spec("hooks", BLOCK), model, work_dir), "log_level": "WARNING"}
    )
    runner.train()
    return runner


def quiet_batches() -> Iterator[int]:
    """Batch indices in training order, skipping the epoch's last (which logs)."""
    return itertools.cycle(range(BLOCK - 1))


ITERATION_POINTS = ("before_train_iter", "after_train_iter")


def points_in_training(hook: Any, runner: Any) -> list[str]:
    """The training-iteration points at which training calls `hook`."""
    idle = set(hook.idle_points(runner))
    triggered = hook.get_triggered_stages()
    return [point for point in ITERATION_POINTS if point in triggered and point not in idle]


def one_iteration(hook: Any, runner: Any, batch: Any, outputs: Any) -> Callable[[], None]:
    """A call of `hook`'s training-iteration points, one quiet batch further each time."""
    quiet = quiet_batches()
    points = points_in_training(hook, runner)
    before = hook.before_train_iter if "before_train_iter" in points else None
    after = hook.after_train_iter if "after_train_iter" in points else None

    def call() -> None:
        batch_idx = next(quiet)
        if before is not None:
            before(runner, batch_idx, batch)
        if after is not None:
            after(runner, batch_idx, batch, outputs)

    return call


def parts(runner: Any, tmp: str) -> tuple[dict[str, tuple[Callable[[], Any], ...]], list[str]]:
    """The timed parts: our call and the hand-written loop's (or ours alone), and the hooks."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import default_collate as torch_default_collate

    from hooks_core.dataset import default_collate

    model, wrapper = runner.model, runner.optim_wrapper
    dataset = runner.train_dataloader.dataset
    samples = [dataset[i] for i in range(BATCH)]
    batch = default_collate(samples)
    net = model.net
    optimizer = make_optimizer(net.parameters())
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [20], 0.1)

    def by_hand() -> None:
        loss = F.cross_entropy(net(batch[0]), batch[1])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def plain_save() -> None:
        state = {"model": net.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict()}  # fmt: skip
        torch.save(state, Path(tmp) / "plain.pth")

    outputs = model.train_step(batch, optim_wrapper=wrapper)
    table: dict[str, tuple[Callable[[], Any], ...]] = {
        "collate (hooks_core.dataset.default_collate)": (
            lambda: default_collate(samples), lambda: torch_default_collate(samples)),
        "train_step (forward, parse_losses, update_params)": (
            lambda: model.train_step(batch, optim_wrapper=wrapper), by_hand),
        f"checkpoint per epoch (save_checkpoint / {BLOCK})": (
            lambda: runner.save_checkpoint(tmp, "profile.pth"), plain_save),
    }  # fmt: skip
    hooks = []
    for hook in runner.hooks:
        if points_in_training(hook, runner):
            name = f"  hook {type(hook).__name__}"
            table[name] = (one_iteration(hook, runner, batch, outputs),)
            hooks.append(name)
    runner.call_hook("before_train")  # the runner's dispatch as in training: idle points out
    call, quiet = runner.call_hook, quiet_batches()
    table["hook points before/after_train_iter, all hooks"] = (
        lambda: (
            call("before_train_iter", batch_idx=(i := next(quiet)), data_batch=batch),
            call("after_train_iter", batch_idx=i, data_batch=batch, outputs=outputs),
        ),
    )
    return table, hooks


def cases(table: dict[str, tuple[Callable[[], Any], ...]]) -> dict[str, Callable[[], Any]]:
    """Every call to measure, by name: a part's own and, if any, the hand-written one's."""
    named = {}
    for name, calls in table.items():
        named[name] = calls[0]
        if len(calls) > 1:
            named[name + " by hand"] = calls[1]
    return named


def count_regions(named: dict[str, Callable[[], Any]], number: int) -> None:
    """Under callgrind: one counted region of `number` calls per case, in order."""
    from callgrind_region import start, stop

    for fn in named.values():
        for _ in range(3):
            fn()
        start()
        for _ in range(number):
            fn()
        stop()


def count_instructions(names: list[str], number: int) -> dict[str, float]:
    """Run this script under callgrind; instructions per call of each case."""
    import subprocess

    from callgrind_region import callgrind_command, read_totals

    with tempfile.TemporaryDirectory(prefix="hooks-profile-") as tmp:
        out_file = Path(tmp) / "callgrind.out"
        command = [*callgrind_command(out_file), sys.executable, __file__, "--count",
                   "--number", str(number)]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)
        totals = read_totals(out_file, len(names))
    return {name: total / number for name, total in zip(names, totals, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=200, help="calls per sample")
    parser.add_argument("--rounds", type=int, default=15, help="samples per part")
    parser.add_argument("--instructions", action="store_true",
                        help="also count each part's instructions under callgrind")  # fmt: skip
    parser.add_argument("--count", action="store_true", help=argparse.SUPPRESS)  # under callgrind
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        table, hooks = parts(build(Path(tmp)), tmp)
        named = cases(table)
        if args.count:
            count_regions(named, args.number)
            return
        medians = interleaved(named, args.number, args.rounds)
    counted = count_instructions(list(named), 20) if args.instructions else None

    print(f"where the Runner's time per iteration goes: CPU µs, median of {args.rounds} "
          f"interleaved samples x {args.number} calls; torch {torch.__version__}"
          + ("; instructions per call under callgrind" if counted else ""))  # fmt: skip
    header = f"{'part':<56}{'ours':>9}{'by hand':>9}{'extra':>9}"
    print(header + (f"{'instr extra':>13}" if counted else ""))
    print("-" * (len(header) + (13 if counted else 0)))
    total = instructions = 0.0
    for name, calls in table.items():
        scale = 1 / BLOCK if name.startswith("checkpoint") else 1.0
        ours = medians[name] * scale
        theirs = medians[name + " by hand"] * scale if len(calls) > 1 else None
        extra = ours - (theirs or 0.0)
        if name not in hooks:  # a hook's share is already in the hook points' row
            total += extra
        row = f"{name:<56}{ours:9.1f}{'-' if theirs is None else f'{theirs:.1f}':>9}{extra:+9.1f}"
        if counted:
            extra_count = (counted[name] - counted.get(name + " by hand", 0.0)) * scale
            instructions += 0.0 if name in hooks else extra_count
            row += f"{extra_count / 1e3:+12.1f}k"
        print(row)
    print(f"{'sum':<74}{total:+9.1f}" + (f"{instructions / 1e3:+12.1f}k" if counted else ""))


if __name__ == "__main__":
    main()
