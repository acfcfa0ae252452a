"""Benchmark: where one checkpoint save goes, part by part, timed inside the training loop.

Trains the runner of `runner_overhead.py` (the same model, data and default
hooks, a checkpoint at each 50-iteration epoch's end) and the hand-written
`DataLoader` loop of its job (b), whose checkpoint is a bare ``torch.save``
of the model, optimizer and scheduler, for `--epochs` epochs each. Each part
of a save is timed where it runs, between epochs, with the caches as training
leaves them: timed hot, one call after another, the same parts cost about
half. The table gives the CPU time of each part (median over the saves) per
save and per iteration of the epoch:

* the whole save, ``CheckpointHook.after_train_epoch``;
* gathering the state (`hooks_core.runner`'s ``collect``): the meta, the
  model's, optimizer's and schedulers' states, the message hub's, the random
  states and the data position;
* the file: serializing, hashing and writing (``torch.save`` into memory,
  the SHA-256 of the archive, its write into the temporary file), then the
  rest of the write: opening the temporary file, its fsync and the rename;
* the ``last_checkpoint`` pointer; what is left (the log line, the hub's
  bookkeeping) is the whole minus the parts.

``--instructions`` also counts the save of epoch 3 under valgrind's callgrind.
Its regions cannot nest, so the whole save, its parts and the serialization
inside the file write are counted in runs of their own (three processes, and
one for the hand-written loop). Under valgrind, OpenSSL does not see the
CPU's SHA extensions: the hash runs in software there, several times the
instructions it takes natively.

Run it with ``python3 tools/dev.py bench save-profile`` (``--instructions``).
The parts are private functions of hooks-core and hooks-eval, wrapped by name:
this benchmark follows their layout and must change with it.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import overhead_workload
from overhead_workload import BLOCK, Spec, make_net, runner_config, runner_model, train_by_hand

COUNTED_EPOCH = 3  # the save counted under callgrind: the hub's windows are full of values by then
WHOLE = "whole save (CheckpointHook.after_train_epoch)"
SERIALIZE = "  file: serialize, SHA-256, write"
WRITE = "  file: open, fsync, rename"
REST = "  the rest (log line, bookkeeping)"
HAND = "(b) torch.save of model, optimizer, scheduler"
DURABLE = "(b2) the same, fsynced and renamed (durable_save)"
COLLECT = (
    "  collect: meta", "  collect: model state", "  collect: optimizer state",
    "  collect: parameter schedulers", "  collect: message hub", "  collect: RNG states",
    "  collect: data position",
)  # fmt: skip
WHOLE_WRITE = "  file: the whole write"  # shown as its two parts, SERIALIZE and WRITE
POINTER = "  the last_checkpoint pointer"
PARTS = (*COLLECT, WHOLE_WRITE, POINTER)
CALIBRATION = "an empty region"
# What each run under callgrind counts (the parts of a run must not nest); "parts": PARTS.
GROUPS = {
    "whole": (WHOLE,), "serialize": (SERIALIZE,), "dataloader": (HAND,), "durable": (DURABLE,),
}  # fmt: skip


class Parts:
    """Wraps callables so each call is timed (CPU) or, at the counted save, counted (callgrind)."""

    def __init__(self, counting: tuple[str, ...] = ()) -> None:
        self.cpu_ns: dict[str, list[int]] = defaultdict(list)
        self.counting = counting  # the parts this process counts under callgrind
        self.counted: list[str] = []  # the counted regions, in the order they ran
        self.epoch = 0  # the epoch whose end is being saved

    def wrap(self, name: str, fn: Any) -> Any:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if name in self.counting and self.epoch == COUNTED_EPOCH:
                from callgrind_region import start, stop

                start()
                try:
                    return fn(*args, **kwargs)
                finally:
                    stop()
                    self.counted.append(name)
            begin = time.process_time_ns()
            try:
                return fn(*args, **kwargs)
            finally:
                self.cpu_ns[name].append(time.process_time_ns() - begin)

        return timed

    def patch(self, owner: Any, attribute: str, name: str) -> None:
        setattr(owner, attribute, self.wrap(name, getattr(owner, attribute)))


def train_ours(parts: Parts, epochs: int, work_dir: Path) -> None:
    """Our runner, its save and the parts of the save wrapped."""
    import hooks_core.checkpoint._io as checkpoint_io
    import hooks_core.runner._checkpointing as checkpointing
    import hooks_eval._checkpoint_hook as checkpoint_hook
    import hooks_eval._writer as writer
    from hooks_core import BaseModel, Hook, Runner
    from hooks_eval import CheckpointHook

    class EpochMark(Hook):
        priority = "HIGHEST"

        def after_train_epoch(self, runner: Any) -> None:
            parts.epoch = runner.epoch + 1

    # Before the runner is built: its hooks' points are bound when they are registered.
    parts.patch(CheckpointHook, "after_train_epoch", WHOLE)
    config = runner_config(Spec("hooks", epochs * BLOCK), runner_model(BaseModel, make_net()),
                           work_dir)  # fmt: skip
    runner = Runner(**{**config, "log_level": "WARNING"}, custom_hooks=[EpochMark()])
    strategy, hub = runner.strategy, runner.message_hub
    wrapped = (
        (checkpointing, "_default_meta"), (strategy, "model_state_dict"),
        (strategy, "optim_state_dict"), (checkpointing, "_map_schedulers"), (hub, "state_dict"),
        (checkpointing, "get_rng_state"), (checkpointing, "data_state"),
        (writer, "save_checkpoint"), (checkpoint_hook, "update_last_checkpoint"),
    )  # fmt: skip
    for (owner, attribute), name in zip(wrapped, PARTS, strict=True):
        parts.patch(owner, attribute, name)
    parts.patch(checkpoint_io, "_write_checkpoint", SERIALIZE)
    runner.train()


def train_hand(parts: Parts, epochs: int, work_dir: Path, variant: str) -> None:
    """Job (b) or (b2) (`variant` ``'dataloader'`` or ``'durable'``), its save wrapped."""
    import torch

    class Epochs:  # the pacer's place: counts the epochs, so the saves know theirs
        done = 0

        def tick(self) -> None:
            self.done += 1
            parts.epoch = self.done // BLOCK

    owner, attribute, name = (
        (overhead_workload, "durable_save", DURABLE) if variant == "durable"
        else (torch, "save", HAND)
    )  # fmt: skip
    save = getattr(owner, attribute)
    parts.patch(owner, attribute, name)
    try:
        train_by_hand(Spec(variant, epochs * BLOCK), Epochs(), work_dir)  # type: ignore[arg-type]
    finally:
        setattr(owner, attribute, save)


def count(group: str, report: Path) -> None:
    """Under callgrind: train, counting the parts of `group` at the save of `COUNTED_EPOCH`.

    `report` gets the names of the regions in the order they were counted.
    """
    parts = Parts((*GROUPS.get(group, PARTS), CALIBRATION))
    parts.epoch = COUNTED_EPOCH
    empty = parts.wrap(CALIBRATION, lambda: None)
    for _ in range(2):  # what a region itself costs, to take off the others (the second: hot)
        empty()
    parts.epoch = 0
    with tempfile.TemporaryDirectory() as tmp:
        if group in ("dataloader", "durable"):  # the hand-written loops' own names
            train_hand(parts, COUNTED_EPOCH, Path(tmp), group)
        else:
            train_ours(parts, COUNTED_EPOCH, Path(tmp))
    report.write_text(json.dumps(parts.counted))


def count_instructions() -> dict[str, int]:
    """Instructions of each part at the counted save, from runs under callgrind, two at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from callgrind_region import callgrind_command, read_totals

    def run(group: str) -> dict[str, int]:
        out = Path(tmp) / f"{group}.out"
        command = [*callgrind_command(out), sys.executable, __file__, "--count", group,
                   "--report", str(out.with_suffix(".json"))]  # fmt: skip
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done.returncode:
            raise RuntimeError(f"the {group!r} run under callgrind failed:\n{done.stderr.decode()}")
        names = json.loads(out.with_suffix(".json").read_text())
        _, empty, *totals = read_totals(out, len(names))
        return dict(zip(names[2:], [total - empty for total in totals], strict=True))

    counts: dict[str, int] = {}
    with (
        tempfile.TemporaryDirectory(prefix="hooks-save-profile-") as tmp,
        ThreadPoolExecutor(2) as pool,  # two at a time: this machine has two cores
    ):
        for counted in pool.map(run, ("whole", "parts", "serialize", "dataloader", "durable")):
            counts.update(counted)
    return counts


def with_derived_rows(values: dict[str, float]) -> dict[str, float]:
    """`values` with the file write in its two parts, and the rest: the whole minus the parts."""
    values = dict(values)
    values[WRITE] = values.pop(WHOLE_WRITE) - values[SERIALIZE]
    values[REST] = values[WHOLE] - sum(
        values[name] for name in (*COLLECT, SERIALIZE, WRITE, POINTER)
    )
    return values


def report(parts: Parts, counts: dict[str, int] | None) -> None:
    """The table: each part per save and per iteration, then ours against (b)."""
    cpu_us = with_derived_rows(
        {name: statistics.median(ns) / 1e3 for name, ns in parts.cpu_ns.items()}
    )
    counted = with_derived_rows({**counts}) if counts else None
    header = f"{'part':<52}{'µs/save':>10}{'µs/iter':>10}"
    print(header + (f"{'instr/save':>13}{'instr/iter':>12}" if counted else ""))
    print("-" * (len(header) + (25 if counted else 0)))
    for name in (WHOLE, *COLLECT, SERIALIZE, WRITE, POINTER, REST, HAND, DURABLE):
        line = f"{name:<52}{cpu_us[name]:10.1f}{cpu_us[name] / BLOCK:10.2f}"
        if counted:
            line += f"{counted[name]:13,.0f}{counted[name] / BLOCK:12,.0f}"
        print(line)
    extra = cpu_us[WHOLE] - cpu_us[HAND]
    line = f"{'ours over (b)':<52}{extra:+10.1f}{extra / BLOCK:+10.2f}"
    if counted:
        more = counted[WHOLE] - counted[HAND]
        line += f"{more:+13,.0f}{more / BLOCK:+12,.0f}"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="epochs (saves) of each loop")
    parser.add_argument("--instructions", action="store_true",
                        help="also count the save of epoch 3 under callgrind")  # fmt: skip
    parser.add_argument("--count", help=argparse.SUPPRESS)  # under callgrind: which group
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    if args.count:
        count(args.count, args.report)
        return
    parts = Parts()
    with tempfile.TemporaryDirectory() as tmp:
        train_ours(parts, args.epochs, Path(tmp))
        train_hand(parts, args.epochs, Path(tmp), "dataloader")
        train_hand(parts, args.epochs, Path(tmp), "durable")
    counts = count_instructions() if args.instructions else None
    print(f"one checkpoint save inside the training loop (epochs of {BLOCK} iterations): CPU µs, "
          f"median of {args.epochs} saves; torch {torch.__version__}"
          + (f"; instructions of the save of epoch {COUNTED_EPOCH} under callgrind"
             if counts else ""))  # fmt: skip
    report(parts, counts)


if __name__ == "__main__":
    main()
