"""Benchmark: where the Runner's time per training iteration goes, part by part.

Builds the runner of `runner_overhead.py` (the same model, data and default
hooks), trains it for one epoch so that everything is built, then times each
part of an iteration on its own against what a hand-written loop does instead,
in interleaved samples of CPU time (medians):

* the collate function against torch's ``default_collate``;
* ``train_step`` (data preprocessor, forward, loss parsing, optimizer wrapper)
  against the hand-written forward, ``zero_grad``, ``backward``, ``step``;
* each default hook's ``before_train_iter`` and ``after_train_iter`` on an
  iteration that does not log (the hand-written loop does nothing there);
* the checkpoint at each epoch's end (``save_checkpoint``) against a bare
  ``torch.save`` of the model, optimizer and scheduler, per iteration of the epoch.

Run it with ``hatch run bench:iteration-profile``.
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


def one_iteration(hook: Any, runner: Any, batch: Any, outputs: Any) -> Callable[[], None]:
    """A call of `hook`'s two training-iteration points, one quiet batch further each time."""
    quiet = quiet_batches()

    def call() -> None:
        batch_idx = next(quiet)
        hook.before_train_iter(runner, batch_idx, batch)
        hook.after_train_iter(runner, batch_idx, batch, outputs)

    return call


def acts_per_iteration(hook: Any) -> bool:
    """Whether `hook` has its own training-iteration points (or the generic ones behind them)."""
    from hooks_core import Hook

    points = ("before_train_iter", "after_train_iter", "_before_iter", "_after_iter")
    return any(getattr(type(hook), point) is not getattr(Hook, point) for point in points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=200, help="calls per sample")
    parser.add_argument("--rounds", type=int, default=15, help="samples per part")
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F
    from torch.utils.data import default_collate as torch_default_collate

    from hooks_core.dataset import default_collate

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        runner = build(Path(tmp))
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

        outputs = model.train_step(batch, optim_wrapper=wrapper)
        hooks = {}
        for hook in filter(acts_per_iteration, runner.hooks):
            hooks[type(hook).__name__] = one_iteration(hook, runner, batch, outputs)

        def plain_save() -> None:
            state = {"model": net.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict()}  # fmt: skip
            torch.save(state, Path(tmp) / "plain.pth")

        pairs = {
            "collate (hooks_core.dataset.default_collate)": (
                lambda: default_collate(samples), lambda: torch_default_collate(samples)),
            "train_step (forward, parse_losses, update_params)": (
                lambda: model.train_step(batch, optim_wrapper=wrapper), by_hand),
            f"checkpoint per epoch (save_checkpoint / {BLOCK})": (
                lambda: runner.save_checkpoint(tmp, "profile.pth"), plain_save),
        }  # fmt: skip
        cases: dict[str, Callable[[], Any]] = {}
        for name, (ours, theirs) in pairs.items():
            cases[name], cases[name + " by hand"] = ours, theirs
        cases.update({f"hook {name}": fn for name, fn in hooks.items()})
        call, quiet = runner.call_hook, quiet_batches()
        cases["hook points, through the runner"] = lambda: (
            call("before_train_iter", batch_idx=(i := next(quiet)), data_batch=batch),
            call("after_train_iter", batch_idx=i, data_batch=batch, outputs=outputs),
        )
        medians = interleaved(cases, args.number, args.rounds)

    print(f"where the Runner's time per iteration goes: CPU µs, median of {args.rounds} "
          f"interleaved samples x {args.number} calls; torch {torch.__version__}")  # fmt: skip
    print(f"{'part':<56}{'ours':>9}{'by hand':>9}{'extra':>9}")
    print("-" * 83)
    total = 0.0
    for name in pairs:
        scale = 1 / BLOCK if name.startswith("checkpoint") else 1.0
        ours, theirs = medians[name] * scale, medians[name + " by hand"] * scale
        total += ours - theirs
        print(f"{name:<56}{ours:9.1f}{theirs:9.1f}{ours - theirs:+9.1f}")
    for name in hooks:
        ours = medians[f"hook {name}"]
        print(f"{'  hook ' + name:<56}{ours:9.1f}{'-':>9}{ours:+9.1f}")
    points = medians["hook points, through the runner"]
    total += points
    print(f"{'hook points before/after_train_iter, all hooks':<56}{points:9.1f}{'-':>9}"
          f"{points:+9.1f}")  # fmt: skip
    print(f"{'sum':<74}{total:+9.1f}")


if __name__ == "__main__":
    main()
