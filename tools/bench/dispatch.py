"""Benchmark: the cost of hook dispatch for one training iteration.

Twenty hooks are registered, three of which act after and before each training
iteration, as a runner's default and custom hooks would. Three ways of calling
them are timed in the same process:

* ``HookList``: our precomputed dispatch table (`HookList.call_hook`);
* ``scan``: MMEngine's loop, which asks every hook with ``hasattr``/``getattr``
  and calls it, inside a ``try``/``except TypeError`` (written out below);
* ``direct``: the three methods called by hand, the floor any dispatcher pays.

Run it with ``python tools/dev.py bench`` (or ``hatch run bench:dispatch``).
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


def measure(stmt: str, env: dict[str, Any], number: int, repeat: int) -> float:
    """Median nanoseconds per execution of `stmt`."""
    times = timeit.Timer(stmt, globals=env).repeat(repeat=repeat, number=number)
    return statistics.median(times) / number * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=200_000, help="calls per repeat")
    parser.add_argument("--repeat", type=int, default=15, help="repeats; the median is reported")
    args = parser.parse_args()

    runner = object()
    hooks = make_hooks()
    table = HookList(runner)
    for hook in hooks:
        table.register(hook)
    assert len(table.hooks_at("after_train_iter")) == N_ACTIVE
    active = [h for h in hooks if isinstance(h, Active)]
    batch, outputs = [0], {"loss": 0.0}
    env = dict(
        table=table, scan=scan_call_hook, hooks=hooks, runner=runner, batch=batch,
        outputs=outputs, a=active[0], b=active[1], c=active[2],
    )  # fmt: skip

    iteration = {
        "HookList": (
            "table.call_hook('before_train_iter', batch_idx=0, data_batch=batch)\n"
            "table.call_hook('after_train_iter', batch_idx=0, data_batch=batch, outputs=outputs)"
        ),
        "scan": (
            "scan(hooks, runner, 'before_train_iter', batch_idx=0, data_batch=batch)\n"
            "scan(hooks, runner, 'after_train_iter', batch_idx=0, data_batch=batch, "
            "outputs=outputs)"
        ),
        "direct": "\n".join(
            f"{h}.before_train_iter(runner, batch_idx=0, data_batch=batch)\n"
            f"{h}.after_train_iter(runner, batch_idx=0, data_batch=batch, outputs=outputs)"
            for h in "abc"
        ),
    }
    idle = {
        "HookList": "table.call_hook('before_val_iter', batch_idx=0, data_batch=batch)",
        "scan": "scan(hooks, runner, 'before_val_iter', batch_idx=0, data_batch=batch)",
    }
    rows = []
    for label, stmts in (
        (f"train iteration (2 points, {N_ACTIVE} of {N_HOOKS} hooks act)", iteration),
        (f"point no hook overrides (0 of {N_HOOKS} act)", idle),
    ):
        ns = {name: measure(stmt, env, args.number, args.repeat) for name, stmt in stmts.items()}
        rows.append((label, ns))

    print(f"hook dispatch, median of {args.repeat} x {args.number} calls, ns per call")
    header = f"{'case':<46} {'HookList':>9} {'scan':>9} {'direct':>9} {'scan/HookList':>14}"
    print(header)
    print("-" * len(header))
    for label, ns in rows:
        direct = f"{ns['direct']:9.0f}" if "direct" in ns else f"{'-':>9}"
        ratio = ns["scan"] / ns["HookList"]
        print(f"{label:<46} {ns['HookList']:9.0f} {ns['scan']:9.0f} {direct} {ratio:13.1f}x")


if __name__ == "__main__":
    main()
