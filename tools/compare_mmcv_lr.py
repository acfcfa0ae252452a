"""Measure hooks-optim's MMCV-style LR/momentum updater hooks against MMCV 1.x's own.

Both hooks of a case are driven on identical small runner objects, in the
order MMCV's runners call them: ``before_run``, then per epoch
``before_train_epoch`` and per iteration ``before_train_iter`` (the
epoch-based runner), or ``before_train_iter`` only (the iteration-based
runner). After each ``before_train_iter`` the value of every param group is
read, for one SGD with two groups and for a dict ``{sgd, adam}`` of
optimizers. 10 epochs of 20 iterations: 200 iterations.

Cases: every policy (with one or two argument sets) x every warm-up (none,
constant, linear, exp; for the LR also linear counted in epochs) x
``by_epoch`` True/False (Cyclic and OneCycle: False only, MMCV's rule) x the
two runners for ``by_epoch=False``. The table gives, per policy and
``by_epoch``, the largest absolute and relative difference over its cases.

It needs a Python where ``mmcv`` 1.x imports (``mmcv.runner`` needs
torchvision; without it the two hook files are loaded from mmcv's folder by
path, with their package ``__init__`` modules stubbed out, and the tool says so).

Usage::

    /tmp/mmcvenv/bin/python tools/compare_mmcv_lr.py          # the summary table
    /tmp/mmcvenv/bin/python tools/compare_mmcv_lr.py --full   # one row per case
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import types
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

EPOCHS, EPOCH_LENGTH = 10, 20
MAX_ITERS = EPOCHS * EPOCH_LENGTH
WARMUP_ITERS = 30


def load_mmcv() -> tuple[Any, Any, str]:
    """MMCV's ``lr_updater`` and ``momentum_updater`` modules, and how they were loaded."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mmcv  # ImportError: the caller says so in one line

        try:
            from mmcv.runner.hooks import lr_updater, momentum_updater
        except ImportError as err:
            # Bypass the package __init__ modules (they import the whole runner,
            # and with it torchvision); hook.py, lr_updater.py and
            # momentum_updater.py themselves are MMCV's, unchanged.
            root = os.path.dirname(mmcv.__file__)
            for name, folder in (("mmcv.runner", "runner"), ("mmcv.runner.hooks", "runner/hooks")):
                stub = types.ModuleType(name)
                stub.__path__ = [os.path.join(root, folder)]
                sys.modules[name] = stub
            mmcv.runner = sys.modules["mmcv.runner"]
            lr_updater = importlib.import_module("mmcv.runner.hooks.lr_updater")
            momentum_updater = importlib.import_module("mmcv.runner.hooks.momentum_updater")
            how = (
                f"`import mmcv.runner` failed ({err}): loaded mmcv/runner/hooks/lr_updater.py "
                "and momentum_updater.py by path, with mmcv.runner and mmcv.runner.hooks stubbed"
            )
        else:
            how = "imported from mmcv.runner.hooks"
    return lr_updater, momentum_updater, f"mmcv {mmcv.__version__}: {how}"


class Runner:
    """What the updater hooks read from a runner, and nothing else."""

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer
        self.epoch = 0
        self.iter = 0
        self.max_epochs = EPOCHS
        self.max_iters = MAX_ITERS
        self.data_loader = range(EPOCH_LENGTH)


def make_optimizers(kind: str) -> Any:
    """Fresh optimizers: one SGD with two groups, or a dict of an SGD and an Adam."""
    import torch

    torch.manual_seed(0)
    a, b, c = (torch.nn.Parameter(torch.randn(3)) for _ in range(3))
    groups: list[dict[str, Any]] = [{"params": [a]}, {"params": [b], "lr": 0.05}]
    sgd = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    if kind == "sgd":
        return sgd
    return {"sgd": sgd, "adam": torch.optim.Adam([c], lr=0.02, betas=(0.9, 0.999))}


def read(optimizer: Any, key: str) -> list[float]:
    """The `key` of every group (momentum: ``momentum`` or ``betas[0]``)."""
    optimizers = optimizer.values() if isinstance(optimizer, dict) else [optimizer]
    values = []
    for optim in optimizers:
        for group in optim.param_groups:
            if key == "lr":
                values.append(group["lr"])
            else:
                values.append(group["momentum"] if "momentum" in group else group["betas"][0])
    return values


def trajectory(hook: Any, optimizer: Any, key: str, runner_kind: str) -> list[list[float]]:
    """Drive `hook` as MMCV's epoch- or iteration-based runner would; `key` per iteration."""
    runner = Runner(optimizer)
    hook.before_run(runner)
    values = []
    for epoch in range(EPOCHS):
        runner.epoch = epoch if runner_kind == "epoch" else 0
        if runner_kind == "epoch":
            hook.before_train_epoch(runner)
        for inner in range(EPOCH_LENGTH):
            runner.iter = epoch * EPOCH_LENGTH + inner
            hook.before_train_iter(runner)
            values.append(read(optimizer, key))
    return values


def lr_policies(by_epoch: bool) -> dict[str, list[dict[str, Any]]]:
    """The LR cases: policy -> argument sets (lengths in epochs when `by_epoch`)."""
    unit = 1 if by_epoch else EPOCH_LENGTH
    return {
        "Fixed": [{}],
        "Step": [{"step": [3 * unit, 7 * unit], "min_lr": 0.002}, {"step": 2 * unit, "gamma": 0.5}],
        "Exp": [{"gamma": 0.8 if by_epoch else 0.99}],
        "Poly": [{"power": 2.0, "min_lr": 0.001}, {}],
        "Inv": [{"gamma": 0.1 / unit, "power": 0.75}],
        "CosineAnnealing": [{"min_lr_ratio": 0.01}, {"min_lr": 0.0}],
        "FlatCosineAnnealing": [{"start_percent": 0.5, "min_lr": 0.001}],
        "CosineRestart": [
            {"periods": [4 * unit, 6 * unit], "restart_weights": [1, 0.5], "min_lr_ratio": 0.1}
        ],
        "Cyclic": [
            {"target_ratio": (10, 1e-4), "cyclic_times": 2, "gamma": 0.8},
            {"target_ratio": 5.0, "step_ratio_up": 0.3, "anneal_strategy": "linear"},
        ],
        "OneCycle": [
            {"max_lr": 0.2},
            {"max_lr": 0.3, "three_phase": True, "anneal_strategy": "linear", "pct_start": 0.25},
        ],
        "LinearAnnealing": [{"min_lr": 0.001}],
    }


def momentum_policies(by_epoch: bool) -> dict[str, list[dict[str, Any]]]:
    """The momentum cases: policy -> argument sets."""
    unit = 1 if by_epoch else EPOCH_LENGTH
    return {
        "Step": [{"step": [3 * unit, 7 * unit], "min_momentum": 0.3}],
        "CosineAnnealing": [{"min_momentum_ratio": 0.5}],
        "LinearAnnealing": [{"min_momentum": 0.5}],
        "Cyclic": [{"cyclic_times": 2}, {"anneal_strategy": "linear", "gamma": 0.5}],
        "OneCycle": [{}, {"three_phase": True}],
    }


ITERATION_ONLY = ("Cyclic", "OneCycle")


def warmups(family: str) -> dict[str, dict[str, Any]]:
    """The warm-up variants: none, the three types, and (LR) linear counted in epochs."""
    variants: dict[str, dict[str, Any]] = {"none": {}}
    for kind in ("constant", "linear", "exp"):
        variants[kind] = {"warmup": kind, "warmup_iters": WARMUP_ITERS}
    if family == "Lr":
        variants["linear/2 epochs"] = {
            "warmup": "linear",
            "warmup_iters": 2,
            "warmup_by_epoch": True,
        }
    return variants


def cases() -> Iterator[tuple[str, str, bool, str, str, dict[str, Any]]]:
    """(family, policy, by_epoch, runner, warm-up, kwargs) for every case."""
    for family, policies in (("Lr", lr_policies), ("Momentum", momentum_policies)):
        for by_epoch in (True, False):
            for policy, variants in policies(by_epoch).items():
                if by_epoch and policy in ITERATION_ONLY:
                    continue
                for kwargs in variants:
                    for warmup, warmup_kwargs in warmups(family).items():
                        arguments = {**kwargs, **warmup_kwargs, "by_epoch": by_epoch}
                        for runner_kind in ("epoch",) if by_epoch else ("epoch", "iter"):
                            yield family, policy, by_epoch, runner_kind, warmup, arguments


def outcome(
    hook_type: Callable[..., Any], arguments: dict[str, Any], runner_kind: str, optimizer_kind: str
) -> Any:
    """The trajectory, or the exception's type if building or driving the hook raised."""
    key = "lr" if "Lr" in hook_type.__name__ else "momentum"
    try:
        hook = hook_type(**arguments)
        return trajectory(hook, make_optimizers(optimizer_kind), key, runner_kind)
    except Exception as err:  # both sides raising alike is a match
        return type(err).__name__


def differences(theirs: Any, ours: Any) -> tuple[float, float] | str:
    """The largest absolute and relative difference, or why the two cannot be compared."""
    if isinstance(theirs, str) or isinstance(ours, str):
        if isinstance(theirs, str) and isinstance(ours, str):
            return f"both raise ({theirs} / {ours})"
        mmcv_side = theirs if isinstance(theirs, str) else "runs"
        our_side = ours if isinstance(ours, str) else "runs"
        return f"MISMATCH: mmcv {mmcv_side}, ours {our_side}"
    worst_abs = worst_rel = 0.0
    for row_theirs, row_ours in zip(theirs, ours, strict=True):
        for a, b in zip(row_theirs, row_ours, strict=True):
            worst_abs = max(worst_abs, abs(a - b))
            if a:
                worst_rel = max(worst_rel, abs(a - b) / abs(a))
    return worst_abs, worst_rel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="one row per case")
    args = parser.parse_args(argv)
    try:
        mmcv_lr, mmcv_momentum, how = load_mmcv()
    except ImportError as err:
        print(
            f"compare_mmcv_lr: mmcv 1.x is not importable here ({err}); run this with the "
            "python of a venv holding mmcv==1.7.2 and hooks-optim, e.g. /tmp/mmcvenv/bin/python"
        )
        return 2
    from hooks_optim import _mmcv_lr_updater, _mmcv_momentum_updater

    print(how)
    summary: dict[tuple[str, bool], list[Any]] = {}
    rows = []
    for family, policy, by_epoch, runner_kind, warmup, arguments in cases():
        name = f"{policy}{family}UpdaterHook"
        mmcv_type = getattr(mmcv_lr if family == "Lr" else mmcv_momentum, name)
        our_type = getattr(_mmcv_lr_updater if family == "Lr" else _mmcv_momentum_updater, name)
        for optimizer_kind in ("sgd", "dict"):
            theirs = outcome(mmcv_type, arguments, runner_kind, optimizer_kind)
            ours = outcome(our_type, arguments, runner_kind, optimizer_kind)
            diff = differences(theirs, ours)
            rows.append((name, by_epoch, runner_kind, warmup, optimizer_kind, arguments, diff))
            summary.setdefault((name, by_epoch), []).append(diff)
    if args.full:
        for name, by_epoch, runner_kind, warmup, optimizer_kind, arguments, diff in rows:
            shown = diff if isinstance(diff, str) else f"{diff[0]:.3g} {diff[1]:.3g}"
            print(
                f"{name} by_epoch={by_epoch} {runner_kind}-runner warmup={warmup} "
                f"{optimizer_kind} {arguments}: {shown}"
            )
    print(f"\n{'hook':36} {'by_epoch':8} {'cases':>5} {'max abs diff':>13} {'max rel diff':>13}")
    mismatches = 0
    for (name, by_epoch), diffs in summary.items():
        numbers = [d for d in diffs if not isinstance(d, str)]
        bad = [d for d in diffs if isinstance(d, str) and d.startswith("MISMATCH")]
        mismatches += len(bad)
        worst_abs = max((d[0] for d in numbers), default=0.0)
        worst_rel = max((d[1] for d in numbers), default=0.0)
        note = f"  {len(bad)} mismatched" if bad else ""
        if len(numbers) + len(bad) < len(diffs):
            note += f"  {len(diffs) - len(numbers) - len(bad)} raise on both sides"
        print(f"{name:36} {by_epoch!s:8} {len(diffs):5} {worst_abs:13.3g} {worst_rel:13.3g}{note}")
    raising = sorted(
        {
            (warmup, runner_kind, d)
            for _, _, runner_kind, warmup, _, _, d in rows
            if isinstance(d, str)
        }
    )
    for warmup, runner_kind, diff in raising:
        print(f"{diff}: warm-up {warmup!r} on the {runner_kind}-based runner")
    print(f"\n{len(rows)} cases of {MAX_ITERS} iterations, {mismatches} mismatched")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
