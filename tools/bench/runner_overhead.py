"""Benchmark: what `hooks_core.Runner` adds to each training iteration.

The same tiny model (an MLP 32->64->10, cross-entropy, SGD with momentum, batch
64, CPU, one thread, a fixed seed, 4096 samples in memory) is trained for
``--iters`` iterations in three ways, in the same process:

* (a) ``plain``: a hand-written loop that indexes batches out of the tensors
  (a new random order each epoch);
* (b) ``plain + DataLoader``: the same loop over a ``torch.utils.data.DataLoader``
  of a ``TensorDataset`` (``batch_size=64, shuffle=True``);
* (c) ``Runner``: `hooks_core.Runner` with its default hooks (RuntimeInfoHook,
  IterTimerHook, DistSamplerSeedHook, and ParamSchedulerHook from hooks-optim;
  the logger and checkpoint hooks have benchmarks of their own), the model a
  `BaseModel`, iteration-based training
  (``train_cfg=dict(by_epoch=False, max_iters=N, val_interval=10**9)``)
  and the dataloader given as a config dict, so it uses the core's
  `DefaultSampler`. The optimizer wrapper is the minimal one defined below.

Each round runs (a), (b) and (c) once, interleaved, after a short warm-up; the
table shows the median over rounds. For (c) the time is that of
``runner.train()`` (which builds the loop and the dataloader); constructing the
`Runner` is a one-off cost, reported on its own line. The runner's overhead is
its time per iteration minus (b)'s, the fair baseline since both use a
DataLoader (the target is under 15 µs), and minus (a)'s.

The breakdown then times apart, in short interleaved samples (steadier than
whole runs on a busy machine), what the runner does per iteration that the
plain loop does not: the two hook points (``before_train_iter`` and
``after_train_iter`` with the default hooks) and `BaseModel.train_step` against
the hand-written step. Their sum estimates the overhead; what it leaves out is
the loop's own bookkeeping and the sampler.

Run it with ``python tools/dev.py bench`` (all benchmarks, ``hatch run bench:all``)
or ``hatch run bench:runner-overhead -- --iters 500``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import timeit
from typing import Any

import torch
from plain_loop import train_plain
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from hooks_core import BaseModel, Runner

SEED = 0
BATCH = 64
SAMPLES = 64 * BATCH  # 64 iterations per epoch
IN, HIDDEN, CLASSES = 32, 64, 10
LR, MOMENTUM = 0.01, 0.9


class MLP(BaseModel):
    """Two linear layers; ``mode='loss'`` for the runner, plain logits for hand-written loops."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))

    def forward(
        self, inputs: torch.Tensor, labels: torch.Tensor | None = None, mode: str = "tensor"
    ) -> Any:
        logits = self.net(inputs)
        if mode == "loss":
            return {"loss": F.cross_entropy(logits, labels)}
        if mode == "predict":
            return logits.argmax(1)
        return logits


class BenchOptimWrapper:
    """zero_grad, backward, step: the least an optimizer wrapper does (hooks-optim is not here)."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self) -> None:
        self.optimizer.step()

    def update_params(self, loss: torch.Tensor) -> None:
        self.zero_grad()
        self.backward(loss)
        self.step()

    def get_lr(self) -> dict[str, list[float]]:
        return {"lr": [group["lr"] for group in self.optimizer.param_groups]}

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state)


def make_data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(SEED)
    inputs = torch.randn(SAMPLES, IN, generator=generator)
    labels = torch.randint(0, CLASSES, (SAMPLES,), generator=generator)
    return inputs, labels


def make_model() -> tuple[MLP, torch.optim.Optimizer]:
    torch.manual_seed(SEED)
    model = MLP()
    return model, torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)


# ---------------------------------------------------------------- the three variants
def plain(inputs: torch.Tensor, labels: torch.Tensor, iters: int) -> float:
    """(a) Index batches out of the tensors, a new permutation each epoch."""
    model, optimizer = make_model()
    model.train()
    generator = torch.Generator().manual_seed(SEED)
    start = time.perf_counter()
    done = 0
    while done < iters:
        order = torch.randperm(SAMPLES, generator=generator)
        for first in range(0, SAMPLES, BATCH):
            index = order[first : first + BATCH]
            x, y = inputs[index], labels[index]
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == iters:
                break
    return time.perf_counter() - start


def plain_dataloader(dataset: TensorDataset, iters: int) -> float:
    """(b) The same loop over a shuffling DataLoader, epoch after epoch."""
    model, optimizer = make_model()
    return train_plain(model, optimizer, dataset, BATCH, iters, SEED)


def make_runner(dataset: TensorDataset, iters: int, work_dir: str, name: str) -> Runner:
    model, optimizer = make_model()
    return Runner(
        model=model,
        work_dir=work_dir,
        # DefaultSampler(shuffle=True); stacked batches, as the plain loop's DataLoader gives
        train_dataloader=dict(
            dataset=dataset, batch_size=BATCH, collate_fn=dict(type="default_collate")
        ),
        train_cfg=dict(by_epoch=False, max_iters=iters, val_interval=10**9),
        optim_wrapper=BenchOptimWrapper(optimizer),
        default_hooks=dict(logger=None, checkpoint=None),  # logging_overhead.py measures those
        randomness=dict(seed=SEED),
        experiment_name=name,
        log_level="WARNING",
    )


def close(runner: Runner) -> None:
    """Close the runner's log file, so the temporary work_dir can go."""
    for handler in list(runner.logger.handlers):
        runner.logger.removeHandler(handler)
        handler.close()


def with_runner(dataset: TensorDataset, iters: int, name: str) -> tuple[float, float]:
    """(c) `Runner.train()`; returns (seconds of train(), seconds of Runner(...))."""
    with tempfile.TemporaryDirectory(prefix="hooks-bench-") as work_dir:
        start = time.perf_counter()
        runner = make_runner(dataset, iters, work_dir, name)
        built = time.perf_counter()
        runner.train()
        end = time.perf_counter()
        assert runner.iter == iters
        close(runner)
    return end - built, built - start


# ---------------------------------------------------------------- breakdown
def breakdown(dataset: TensorDataset, repeat: int) -> tuple[dict[str, float], list[str]]:
    """Median microseconds per call of the runner's extra work, in short interleaved samples.

    Short samples taken in turn see the same machine load, so their medians are
    steadier than those of whole training runs. Returns the medians and the
    names of the runner's hooks.
    """
    with tempfile.TemporaryDirectory(prefix="hooks-bench-") as work_dir:
        runner = make_runner(dataset, 10, work_dir, "bench-breakdown")
        runner.train()  # builds the loop and the dataloader, fires before_run/before_train
        model, wrapper = runner.model, runner.optim_wrapper
        data_batch = next(iter(runner.train_dataloader))
        outputs = model.train_step(data_batch, optim_wrapper=wrapper)
        x, y = data_batch
        optimizer = wrapper.optimizer
        call = runner.call_hook

        def hook_points() -> None:
            call("before_train_iter", batch_idx=0, data_batch=data_batch)
            call("after_train_iter", batch_idx=0, data_batch=data_batch, outputs=outputs)

        def train_step() -> None:
            model.train_step(data_batch, optim_wrapper=wrapper)

        def hand_step() -> None:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        cases = {  # name: (function, calls per sample)
            "hooks": (hook_points, 200),
            "train_step": (train_step, 40),
            "hand_step": (hand_step, 40),
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(repeat):
            for name, (fn, number) in cases.items():
                samples[name].append(timeit.timeit(fn, number=number) / number * 1e6)
        names = [type(hook).__name__ for hook in runner.hooks]
        close(runner)
    return {name: statistics.median(values) for name, values in samples.items()}, names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=2000, help="training iterations per run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the median is reported")
    parser.add_argument("--warmup", type=int, default=200, help="iterations of the warm-up run")
    args = parser.parse_args()

    torch.set_num_threads(1)
    inputs, labels = make_data()
    dataset = TensorDataset(inputs, labels)

    plain(inputs, labels, args.warmup)
    plain_dataloader(dataset, args.warmup)
    with_runner(dataset, args.warmup, "bench-warmup")

    seconds: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    setup: list[float] = []
    for round_index in range(args.rounds):
        seconds["a"].append(plain(inputs, labels, args.iters))
        seconds["b"].append(plain_dataloader(dataset, args.iters))
        train_seconds, build_seconds = with_runner(dataset, args.iters, f"bench-{round_index}")
        seconds["c"].append(train_seconds)
        setup.append(build_seconds)

    us = 1e6 / args.iters
    median = {key: statistics.median(values) for key, values in seconds.items()}
    best = {key: min(values) * us for key, values in seconds.items()}
    paired = [(c - b) * us for b, c in zip(seconds["b"], seconds["c"], strict=True)]

    print(
        f"runner overhead: MLP {IN}->{HIDDEN}->{CLASSES}, batch {BATCH}, CPU, "
        f"{torch.get_num_threads()} thread, torch {torch.__version__}; "
        f"median of {args.rounds} rounds x {args.iters} iterations"
    )
    header = f"{'variant':<38}{'seconds':>9}{'µs/iter':>10}{'best':>8}{'vs (a)':>9}{'vs (b)':>9}"
    print(header)
    print("-" * len(header))
    for key, label in {
        "a": "(a) plain loop, tensors indexed",
        "b": "(b) plain loop, DataLoader",
        "c": "(c) hooks_core.Runner, default hooks",
    }.items():
        print(
            f"{label:<38}{median[key]:9.3f}{median[key] * us:10.1f}{best[key]:8.1f}"
            f"{median[key] / median['a']:8.2f}x{median[key] / median['b']:8.2f}x"
        )
    over_b = (median["c"] - median["b"]) * us
    over_a = (median["c"] - median["a"]) * us
    print(
        f"Runner overhead: {over_b:+.1f} µs/iter vs (b) (target < 15; best runs "
        f"{best['c'] - best['b']:+.1f}, per round {min(paired):+.1f} to {max(paired):+.1f}), "
        f"{over_a:+.1f} µs/iter vs (a)"
    )
    print(f"Runner(...) construction, not counted above: {statistics.median(setup) * 1e3:.1f} ms")

    parts, hooks = breakdown(dataset, repeat=60)
    step_extra = parts["train_step"] - parts["hand_step"]
    rows = {
        f"2 hook points, before/after_train_iter ({', '.join(hooks)})": parts["hooks"],
        f"BaseModel.train_step ({parts['train_step']:.1f}) minus the hand-written step "
        f"({parts['hand_step']:.1f})": step_extra,
    }
    rows["sum"] = sum(rows.values())
    width = max(len(label) for label in rows)
    print("what the Runner adds per iteration, timed apart in short interleaved samples, µs:")
    for label, value in rows.items():
        print(f"  {label:<{width}}{value:8.1f}")


if __name__ == "__main__":
    main()
