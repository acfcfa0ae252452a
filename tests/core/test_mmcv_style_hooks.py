"""Hooks written MMCV 1.x's way (methods taking only the runner) run beside MMEngine-style ones."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from hooks_core import Hook, HookList


class MmcvStyle(Hook):
    """Every point MMCV 1.x calls, each taking only the runner, recording what it saw."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def before_run(self, runner: Any) -> None:
        self.calls.append(("before_run", runner.tag))

    def after_train_iter(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append(("after_train_iter", runner.tag))

    def before_epoch(self, runner: Any) -> None:
        self.calls.append(("before_epoch", runner.tag))

    def after_iter(self, runner: Any) -> None:
        self.calls.append(("after_iter", runner.tag))

    def after_val_epoch(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append(("after_val_epoch", runner.tag))


def test_runner_only_methods_are_called_with_the_runner_alone() -> None:
    hook = MmcvStyle()
    hooks = HookList(owner=SimpleNamespace(tag="r"))
    hooks.register(hook)
    hooks.call_hook("after_train_iter", batch_idx=0, data_batch=None, outputs={"loss": 1})
    hooks.call_hook("after_val_epoch", metrics={"acc": 1.0})
    assert hook.calls == [("after_train_iter", "r"), ("after_val_epoch", "r")]


def test_mmcv_generic_points_run_for_train_and_val_but_not_test() -> None:
    hook = MmcvStyle()
    hooks = HookList(owner=SimpleNamespace(tag="r"))
    hooks.register(hook)
    for mode in ("train", "val", "test"):
        hooks.call_hook(f"before_{mode}_epoch")
        hooks.call_hook(f"after_{mode}_iter", batch_idx=0, data_batch=None, outputs=None)
    # after_train_iter is overridden, so the generic after_iter runs for val only.
    assert hook.calls == [
        ("before_epoch", "r"),
        ("after_train_iter", "r"),
        ("before_epoch", "r"),
        ("after_iter", "r"),
    ]
    assert hooks.hooks_at("before_val_epoch") == (hook,)
    assert hooks.hooks_at("before_test_epoch") == ()


def test_the_generic_point_called_on_its_own_reaches_only_hooks_defining_it() -> None:
    hook, other = MmcvStyle(), Hook()
    hooks = HookList(owner=SimpleNamespace(tag="r"))
    hooks.register(hook)
    hooks.register(other)
    hooks.call_hook("before_epoch")  # what IterBasedRunner calls, once
    assert hook.calls == [("before_epoch", "r")]


def test_both_styles_in_one_list_keep_priority_order() -> None:
    order: list[str] = []

    class New(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):  # type: ignore[no-untyped-def, override]
            order.append(f"new:{outputs}")

    class Old(Hook):
        def after_train_iter(self, runner):  # type: ignore[no-untyped-def, override]
            order.append("old")

    hooks = HookList(owner=None)
    hooks.register(New(), priority="LOW")
    hooks.register(Old(), priority="HIGH")
    hooks.call_hook("after_train_iter", batch_idx=3, data_batch=None, outputs=7)
    assert order == ["old", "new:7"]


@pytest.mark.parametrize("name", ["before_epoch", "after_epoch", "before_iter", "after_iter"])
def test_a_generic_point_needing_more_than_the_runner_is_refused(name: str) -> None:
    hook = type("Greedy", (Hook,), {name: lambda self, runner, batch: None})()
    with pytest.raises(TypeError) as info:
        HookList(owner=None).register(hook)
    message = str(info.value)
    assert f"Greedy.{name}(runner, batch) cannot be called" in message
    assert f"override _{name}(self, runner, ..., mode='train')" in message


def test_mmcv_helpers_read_the_runner() -> None:
    hook = Hook()
    runner = SimpleNamespace(
        epoch=3, iter=9, inner_iter=4, data_loader=[0] * 5, max_epochs=4, max_iters=10
    )
    assert hook.every_n_iters(runner, 5) and not hook.every_n_iters(runner, 4)
    assert hook.every_n_inner_iters(runner, 5) and not hook.every_n_inner_iters(runner, 2)
    assert hook.every_n_inner_iters(4, 5)  # MMEngine's form, with the batch index
    assert hook.end_of_epoch(runner)
    assert hook.end_of_epoch([0] * 5, 4) and not hook.end_of_epoch([0] * 5, 3)
    assert hook.every_n_epochs(runner, 2) and hook.every_n_epochs(runner, 4)
    assert hook.is_last_epoch(runner) and hook.is_last_iter(runner)
    runner.epoch, runner.iter = 2, 8
    assert not hook.is_last_epoch(runner) and not hook.is_last_iter(runner)
