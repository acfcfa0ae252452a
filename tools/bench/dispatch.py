"""Benchmark: the cost of hook dispatch for one training iteration.

Twenty hooks are registered, three of which act after and before each training
iteration, as a runner's default and custom hooks would. Three ways of calling
them are timed in the same process:

* ``HookList``: our precomputed dispatch table (`HookList.call_hook`);
* ``scan``: MMEngine's loop, which asks every hook with ``hasattr``/``getattr``
  and calls it, inside a ``try``/``except TypeError`` (written out below);
* ``direct``: the three methods called by hand, the floor any dispatcher pays.

Run it with ``python3 tools/dev.py bench`` (or ``python3 tools/dev.py bench dispatch``).
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from typing import Any

from hooks_core import Hook, HookList

N_HOOKS = 20
ACTIVE_POSITIONS = (2, 9, 16)  # registration slots of the hooks that act on the iteration
N_ACTIVE = len(ACTIVE_POSITIONS)


class Passive(Hook):
    """A hook that acts at points other than the training iteration."""

    def before_run(self, runner: Any) -> None:
        pass


class Active(Hook):
    """A hook that acts before and after every training iteration."""

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        pass

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        pass


def scan_call_hook(hooks: list[Hook], runner: Any, fn_name: str, **kwargs: Any) -> None:
    """MMEngine's `Runner.call_hook`: visit every hook at every point."""
    for hook in hooks:
        if hasattr(hook, fn_name):
            try:
                getattr(hook, fn_name)(runner, **kwargs)
            except TypeError as e:
                raise TypeError(f"{e} in {hook}") from None


def make_hooks() -> list[Hook]:
    return [Active() if i in ACTIVE_POSITIONS else Passive() for i in range(N_HOOKS)]


class EmptyCallee:
    """Something with a `call_hook` that does nothing: the price of the call itself."""

    def call_hook(self, point: str, **kwargs: Any) -> None:
        pass


def measure(
    stmts: dict[str, str], env: dict[str, Any], number: int, repeat: int
) -> dict[str, float]:
    """Median nanoseconds per execution of each statement, the variants interleaved."""
    timers = {name: timeit.Timer(stmt, globals=env) for name, stmt in stmts.items()}
    samples: dict[str, list[float]] = {name: [] for name in stmts}
    for _ in range(repeat):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(number) / number * 1e9)
    return {name: statistics.median(times) for name, times in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per sample")
    parser.add_argument("--repeat", type=int, default=15, help="samples; the median is reported")
    args = parser.parse_args()

    runner = object()
    hooks = make_hooks()
    table = HookList(runner)
    for hook in hooks:
        table.register(hook)
    assert len(table.hooks_at("after_train_iter")) == N_ACTIVE
    active = [h for h in hooks if isinstance(h, Active)]
    env = dict(
        table=table, scan=scan_call_hook, hooks=hooks, runner=runner, batch=[0],
        outputs={"loss": 0.0}, a=active[0], b=active[1], c=active[2], empty=EmptyCallee(),
    )  # fmt: skip
    before = "('before_train_iter', batch_idx=0, data_batch=batch)"
    after = "('after_train_iter', batch_idx=0, data_batch=batch, outputs=outputs)"
    idle = "('before_val_iter', batch_idx=0, data_batch=batch)"
    cases = {
        f"train iteration: 2 points, {N_ACTIVE} of {N_HOOKS} hooks act": {
            "HookList": f"table.call_hook{before}\ntable.call_hook{after}",
            "scan": f"scan(hooks, runner, {before[1:]}\nscan(hooks, runner, {after[1:]}",
            "direct": "\n".join(
                f"{h}.before_train_iter(runner, batch_idx=0, data_batch=batch)\n"
                f"{h}.after_train_iter(runner, batch_idx=0, data_batch=batch, outputs=outputs)"
                for h in "abc"
            ),
            "empty call": f"empty.call_hook{before}\nempty.call_hook{after}",
        },
        f"a point no hook acts on (0 of {N_HOOKS})": {
            "HookList": f"table.call_hook{idle}",
            "scan": f"scan(hooks, runner, {idle[1:]}",
            "empty call": f"empty.call_hook{idle}",
        },
    }
    print(f"hook dispatch: median of {args.repeat} samples x {args.number} calls, ns per case")
    columns = ("HookList", "scan", "direct", "empty call")
    header = f"{'case':<44}" + "".join(f"{c:>11}" for c in columns) + f"{'scan/HookList':>15}"
    print(header)
    print("-" * len(header))
    for label, stmts in cases.items():
        ns = measure(stmts, env, args.number, args.repeat)
        cells = "".join(f"{ns[c]:11.0f}" if c in ns else f"{'-':>11}" for c in columns)
        print(f"{label:<44}{cells}{ns['scan'] / ns['HookList']:14.1f}x")
    print(
        "direct: the acting methods called by hand; empty call: `call_hook` with the same\n"
        "arguments on an object whose method does nothing (what the call syntax alone costs)."
    )


if __name__ == "__main__":
    main()
