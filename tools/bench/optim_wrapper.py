"""Benchmark: what `hooks_optim.OptimWrapper` adds to each optimizer update.

The same tiny model (an MLP 32->64->10, cross-entropy, SGD with momentum, batch
64, CPU, one thread, a fixed seed) is trained in the same process, the variants
interleaved, each on its own copy of the model:

* ``by hand``: ``zero_grad()``, forward, ``loss.backward()``, ``step()``;
* ``update_params``: forward, then ``wrapper.update_params(loss)``;
* ``context + update``: the forward inside ``wrapper.optim_context(model)``,
  then ``update_params``: what `BaseModel.train_step` does every iteration.

Whole iterations vary by microseconds from sample to sample, more than the
wrapper costs, so a second table times the wrapper's bookkeeping alone: the
same calls on a loss whose ``backward`` and an optimizer whose ``step`` and
``zero_grad`` do nothing. MMEngine's wrapper adds about 44 µs per iteration on
this kind of benchmark; the target here is a few µs.

Run it with ``python3 tools/dev.py bench optim-wrapper`` (``--number 100 --repeat 51``
for steadier medians).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import timeit
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from hooks_optim import OptimWrapper

SEED = 0
BATCH = 64
IN, HIDDEN, CLASSES = 32, 64, 10
LR, MOMENTUM = 0.01, 0.9


def no_op_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """An SGD whose step and zero_grad do nothing: only the calls themselves cost.

    They are set on the instance, so they also skip the profiling wrapper torch
    puts around every optimizer class's ``step`` (about as costly as the wrapper).
    """
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    optimizer.step = _no_op  # type: ignore[method-assign]
    optimizer.zero_grad = _no_op  # type: ignore[method-assign]
    return optimizer


def _no_op(*args: Any, **kwargs: Any) -> None:
    pass


class NoOpLoss:
    """Stands for a loss tensor whose backward pass costs nothing."""

    def backward(self) -> None:
        pass


def make_model() -> nn.Module:
    torch.manual_seed(SEED)
    return nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))


def measure(
    stmts: dict[str, str], env: dict[str, Any], number: int, repeat: int
) -> dict[str, float]:
    """Median microseconds per execution of each statement, the variants interleaved."""
    timers = {name: timeit.Timer(stmt, globals=env) for name, stmt in stmts.items()}
    for timer in timers.values():  # warm-up: allocator, autograd caches, momentum buffers
        timer.timeit(max(1, number // 4))
    samples: dict[str, list[float]] = {name: [] for name in stmts}
    for _ in range(repeat):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(number) / number * 1e6)
    return {name: statistics.median(times) for name, times in samples.items()}


def print_table(title: str, us: dict[str, float], baseline: str) -> None:
    print(title)
    header = f"{'variant':<20}{'µs/iter':>10}{'vs ' + baseline:>16}"
    print(header)
    print("-" * len(header))
    for name, value in us.items():
        delta = "" if name == baseline else f"{value - us[baseline]:+16.2f}"
        print(f"{name:<20}{value:10.2f}{delta}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=50, help="iterations per sample")
    parser.add_argument("--repeat", type=int, default=31, help="samples; the median is reported")
    args = parser.parse_args()
    torch.set_num_threads(1)

    generator = torch.Generator().manual_seed(SEED)
    inputs = torch.randn(BATCH, IN, generator=generator)
    labels = torch.randint(0, CLASSES, (BATCH,), generator=generator)
    hand, wrapped, context = make_model(), make_model(), make_model()
    env: dict[str, Any] = dict(
        F=F, x=inputs, y=labels, hand=hand, wrapped=wrapped, context=context,
        opt=torch.optim.SGD(hand.parameters(), lr=LR, momentum=MOMENTUM),
        wrapper=OptimWrapper(torch.optim.SGD(wrapped.parameters(), lr=LR, momentum=MOMENTUM)),
        ctx_wrapper=OptimWrapper(
            torch.optim.SGD(context.parameters(), lr=LR, momentum=MOMENTUM)),
    )  # fmt: skip
    real = measure(
        {
            "by hand": "opt.zero_grad()\nloss = F.cross_entropy(hand(x), y)\n"
            "loss.backward()\nopt.step()",
            "update_params": "wrapper.update_params(F.cross_entropy(wrapped(x), y))",
            "context + update": "with ctx_wrapper.optim_context(context):\n"
            "    loss = F.cross_entropy(context(x), y)\nctx_wrapper.update_params(loss)",
        },
        env,
        args.number,
        args.repeat,
    )
    noop = no_op_optimizer(copy.deepcopy(hand))
    dry_env: dict[str, Any] = dict(
        opt=noop, loss=NoOpLoss(), wrapper=OptimWrapper(noop), model=hand
    )
    dry = measure(
        {
            "by hand": "opt.zero_grad()\nloss.backward()\nopt.step()",
            "update_params": "wrapper.update_params(loss)",
            "context + update": "with wrapper.optim_context(model):\n    pass\n"
            "wrapper.update_params(loss)",
        },
        dry_env,
        args.number * 200,
        args.repeat,
    )
    print(
        f"OptimWrapper: MLP {IN}->{HIDDEN}->{CLASSES}, batch {BATCH}, CPU, 1 thread; "
        f"median of {args.repeat} interleaved samples\n"
    )
    print_table(f"whole iterations ({args.number} per sample)", real, "by hand")
    print_table(f"bookkeeping only ({args.number * 200} per sample)", dry, "by hand")
    print(
        "bookkeeping only: the same calls with a no-op loss.backward() and optimizer\n"
        "step/zero_grad, so the difference is what the wrapper's own code costs."
    )


if __name__ == "__main__":
    main()
