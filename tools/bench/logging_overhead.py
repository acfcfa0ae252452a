"""Benchmark: what `hooks_logging.LoggerHook` costs a training run, even with a slow backend.

The same small model (an MLP 256->512->512->10, cross-entropy, SGD, batch 128,
CPU, one thread, a fixed seed) is trained for ``--iters`` iterations, in the
same process, in three ways:

* (a) ``plain``: a hand-written PyTorch loop over a DataLoader;
* (b) ``no logger``: `hooks_core.Runner` with the logger default hook removed;
* (c) ``slow backend``: the same runner with ``LoggerHook(interval=...)`` and,
  besides the always-on text and JSON logs, a backend whose every call
  (each record, flush, config) sleeps ``--write-ms`` (50 ms): a tracking
  server on a bad connection.

Each round runs (a), (b), (c), the order rotating from round to round (a
machine that slows down under sustained load would otherwise penalise the
variant that always runs last); the table shows medians over rounds.
The target is (c)/(b) < 1.02: the writes happen on the backend's own thread,
so training only pays for producing records (one host transfer and one line
every ``--interval`` iterations) and, at the end, for the last write still in
flight. The backend must keep up on average (here a record every ``interval``
iterations of several ms, against 50 ms per write); a backend slower than the
record rate fills its queue and is then skipped, with a report.

The second table times `LoggerHook.after_train_iter` on iterations that do not
log, called directly inside a live run, against an empty method call.

Run it with ``python3 tools/dev.py bench logging-overhead`` (or ``python3 tools/dev.py bench``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

import torch
from plain_loop import train_plain
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from hooks_core import BaseModel, Hook, Runner
from hooks_logging import LoggerBackend, LoggerHook

SEED = 0
BATCH = 128
SAMPLES = 32 * BATCH
IN, HIDDEN, CLASSES = 256, 512, 10


class MLP(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
            nn.Linear(HIDDEN, CLASSES),
        )  # fmt: skip

    def forward(self, inputs: torch.Tensor, labels: Any = None, mode: str = "tensor") -> Any:
        logits = self.net(inputs)
        return {"loss": F.cross_entropy(logits, labels)} if mode == "loss" else logits


class SGDWrapper:
    """zero_grad, backward, step (hooks-optim is not needed here)."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    def update_params(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def get_lr(self) -> dict[str, list[float]]:
        return {"lr": [group["lr"] for group in self.optimizer.param_groups]}


class SlowBackend(LoggerBackend):
    """Every call takes `seconds`, as a far-away tracking server would."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.records = 0

    def log_scalars(self, scalars: Any, step: int) -> None:
        time.sleep(self.seconds)
        self.records += 1

    def log_config(self, config: Any) -> None:
        time.sleep(self.seconds)

    def define_step_axes(self, axes: Any) -> None:
        time.sleep(self.seconds)

    def flush(self) -> None:
        time.sleep(self.seconds)


class TimedLoggerHook(LoggerHook):
    """`LoggerHook` that adds up the time its hook points take on the training thread."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seconds = 0.0

    def before_run(self, runner: Any) -> None:
        self._timed(super().before_run, runner)

    def after_run(self, runner: Any) -> None:
        self._timed(super().after_run, runner)

    def before_train(self, runner: Any) -> None:
        self._timed(super().before_train, runner)

    def before_train_epoch(self, runner: Any) -> None:
        self._timed(super().before_train_epoch, runner)

    def after_train_epoch(self, runner: Any) -> None:
        self._timed(super().after_train_epoch, runner)

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:  # fmt: skip
        start = time.perf_counter()
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        self.seconds += time.perf_counter() - start

    def _timed(self, method: Any, runner: Any) -> None:
        start = time.perf_counter()
        method(runner)
        self.seconds += time.perf_counter() - start


def make_dataset() -> TensorDataset:
    generator = torch.Generator().manual_seed(SEED)
    inputs = torch.randn(SAMPLES, IN, generator=generator)
    return TensorDataset(inputs, torch.randint(0, CLASSES, (SAMPLES,), generator=generator))


def make_model() -> tuple[MLP, torch.optim.Optimizer]:
    torch.manual_seed(SEED)
    model = MLP()
    return model, torch.optim.SGD(model.parameters(), lr=0.01)


def plain(dataset: TensorDataset, iters: int) -> float:
    """(a) A hand-written loop over a shuffling DataLoader."""
    model, optimizer = make_model()
    return train_plain(model, optimizer, dataset, BATCH, iters, SEED)


def run(dataset: TensorDataset, iters: int, logger: Any, probe: Hook | None = None) -> float:
    """(b) or (c): seconds of ``runner.train()`` including closing the logger's backends."""
    model, optimizer = make_model()
    with tempfile.TemporaryDirectory(prefix="hooks-bench-") as work_dir:
        runner = Runner(
            model=model,
            work_dir=work_dir,
            train_dataloader=dict(
                dataset=dataset, batch_size=BATCH, collate_fn=dict(type="default_collate")
            ),
            train_cfg=dict(by_epoch=False, max_iters=iters, val_interval=10**9),
            optim_wrapper=SGDWrapper(optimizer),
            default_hooks=dict(logger=logger, checkpoint=None, param_scheduler=None),
            custom_hooks=[probe] if probe is not None else None,
            randomness=dict(seed=SEED),
            log_level="WARNING",
        )
        start = time.perf_counter()
        runner.train()
        seconds = time.perf_counter() - start
        for handler in list(runner.logger.handlers):
            runner.logger.removeHandler(handler)
            handler.close()
    return seconds


class Probe(Hook):
    """Times the logger hook's `after_train_iter` on a non-logging iteration of a live run.

    The hook counts down to its next logging iteration, so each timed call
    starts from the same count (set, as in the empty baseline, by one
    attribute store); otherwise repeated calls would reach the logging path.
    """

    priority = "LOWEST"

    def __init__(self, at_iter: int, number: int, repeat: int) -> None:
        self.at_iter, self.number, self.repeat = at_iter, number, repeat
        self.logger_ns: list[float] = []
        self.empty_ns: list[float] = []

    def noop(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        return None

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:  # fmt: skip
        if runner.iter + 1 != self.at_iter:
            return
        (logger,) = [hook for hook in runner.hooks if isinstance(hook, LoggerHook)]

        # A quiet call moves the hook's quiet mark past its batch; resetting it keeps each
        # timed call a quiet one (one attribute store, in both timed functions).
        def timed(fn: Any) -> float:
            start = time.perf_counter()
            for _ in range(self.number):
                logger._quiet_from = batch_idx
                fn(runner, batch_idx, data_batch, outputs)
            return (time.perf_counter() - start) / self.number * 1e9

        for _ in range(self.repeat):
            self.logger_ns.append(timed(logger.after_train_iter))
            self.empty_ns.append(timed(self.noop))
        logger._quiet_from = batch_idx + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=1000, help="training iterations per run")
    parser.add_argument("--interval", type=int, default=20, help="LoggerHook interval")
    parser.add_argument("--write-ms", type=float, default=50.0, help="time of each backend call")
    parser.add_argument("--rounds", type=int, default=6, help="rounds; the median is reported")
    args = parser.parse_args()

    torch.set_num_threads(1)
    dataset = make_dataset()

    def slow_logger() -> TimedLoggerHook:
        backend = SlowBackend(args.write_ms / 1000)
        hook = TimedLoggerHook(interval=args.interval, backends=[backend], progress_bar=False)
        loggers.append(hook)
        return hook

    loggers: list[TimedLoggerHook] = []

    plain(dataset, 50)  # warm-up
    run(dataset, 50, None)
    seconds: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    variants = {
        "a": lambda: plain(dataset, args.iters),
        "b": lambda: run(dataset, args.iters, None),
        "c": lambda: run(dataset, args.iters, slow_logger()),
    }
    order = list(variants)
    for round_index in range(args.rounds):
        # Rotate the order: a machine that slows down under sustained load (clock
        # boost running out) would otherwise always penalise the variant that runs last.
        for key in order[round_index % 3 :] + order[: round_index % 3]:
            seconds[key].append(variants[key]())

    own_seconds = [hook.seconds for hook in loggers]  # one per run of (c)
    median = {key: statistics.median(values) for key, values in seconds.items()}
    ms = 1e3 / args.iters
    records = args.iters // args.interval
    print(
        f"logging overhead: MLP {IN}->{HIDDEN}->{HIDDEN}->{CLASSES}, batch {BATCH}, CPU, "
        f"1 thread, torch {torch.__version__}; median of {args.rounds} rounds x {args.iters} "
        f"iterations; (c) logs {records} records, each call to its backend sleeping "
        f"{args.write_ms:g} ms"
    )
    header = f"{'variant':<44}{'seconds':>9}{'ms/iter':>9}{'vs (a)':>9}{'vs (b)':>9}"
    print(header)
    print("-" * len(header))
    for key, label in {
        "a": "(a) plain PyTorch loop, DataLoader",
        "b": "(b) Runner, no logger",
        "c": f"(c) Runner, LoggerHook + {args.write_ms:g} ms backend",
    }.items():
        print(
            f"{label:<44}{median[key]:9.3f}{median[key] * ms:9.2f}"
            f"{median[key] / median['a']:8.3f}x{median[key] / median['b']:8.3f}x"
        )
    ratio = median["c"] / median["b"]
    paired = sorted(c / b for b, c in zip(seconds["b"], seconds["c"], strict=True))
    verdict = "met" if ratio < 1.02 else "NOT met"
    print(
        f"slow backend adds {(ratio - 1) * 100:+.2f}% to the run (target < 2%: {verdict}); "
        f"per round (c)/(b) from {paired[0]:.3f} to {paired[-1]:.3f}, "
        f"median {statistics.median(paired):.3f}"
    )

    probe = Probe(at_iter=args.interval // 2, number=20_000, repeat=15)
    run(dataset, args.interval, slow_logger(), probe)
    logger_ns = statistics.median(probe.logger_ns)
    empty_ns = statistics.median(probe.empty_ns)
    own = statistics.median(own_seconds)
    print(
        f"time the training thread spent in LoggerHook's hook points in (c), including the "
        f"wait for the last write at the end: {own * 1e3:.0f} ms = "
        f"{own / median['b'] * 100:.2f}% of (b) (median of {len(own_seconds)} runs)"
    )
    print("LoggerHook.after_train_iter on an iteration that does not log (median, ns/call):")
    print(f"  LoggerHook      {logger_ns:8.0f}")
    print(f"  empty method    {empty_ns:8.0f}")
    print(f"  difference      {logger_ns - empty_ns:8.0f}")


if __name__ == "__main__":
    main()
