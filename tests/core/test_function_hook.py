"""FunctionHook (MMCV's ClosureHook): functions at hook points, called directly and in a Runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from stand_in import StandInRunner
from toy import runner_kwargs

from hooks_core import HOOKS, FunctionHook, HookList, Runner

if TYPE_CHECKING:
    from pathlib import Path

ONE_EPOCH = dict(by_epoch=True, max_epochs=1)


def test_the_registry_builds_it_under_both_names() -> None:
    for name in ("FunctionHook", "ClosureHook"):
        hook = HOOKS.build(dict(type=name, fn_name="before_run", fn=print))
        assert isinstance(hook, FunctionHook) and hook.before_run is print


def test_called_directly_the_functions_get_the_points_arguments(tmp_path: Path) -> None:
    calls: list[tuple[Any, ...]] = []
    hook = FunctionHook(
        {
            "after_train_iter": lambda runner, batch_idx, data_batch=None, outputs=None:
                calls.append(("after_train_iter", runner.iter, batch_idx, outputs)),
            "_after_epoch": lambda runner, mode: calls.append(("_after_epoch", mode)),
            "_before_iter": lambda runner, batch_idx, data_batch=None, mode="train":
                calls.append(("_before_iter", batch_idx, mode)),
        }
    )  # fmt: skip
    runner = StandInRunner(tmp_path)
    runner.iter = 4
    hook.after_train_iter(runner, batch_idx=0)
    hook.after_train_iter(runner, 1, None, {"loss": 1.0})
    hook.after_val_epoch(runner, metrics={"acc": 1.0})  # through the generic point
    hook.before_test_iter(runner, 3)
    hook.before_train_epoch(runner)  # not set: the Hook default, which does nothing
    assert calls == [
        ("after_train_iter", 4, 0, None),
        ("after_train_iter", 4, 1, {"loss": 1.0}),
        ("_after_epoch", "val"),
        ("_before_iter", 3, "test"),
    ]


def test_in_a_runner_functions_are_called_at_their_points_with_their_arguments(
    tmp_path: Path,
) -> None:
    calls: list[tuple[Any, ...]] = []

    def after_iter(runner: Any, batch_idx: int, data_batch: Any = None,
                   outputs: Any = None) -> None:  # fmt: skip
        calls.append(("after_train_iter", runner.iter, batch_idx, sorted(data_batch),
                      sorted(outputs)))  # fmt: skip

    hook = FunctionHook(
        {
            "before_run": lambda runner: calls.append(("before_run", type(runner).__name__)),
            "after_train_iter": after_iter,
            "after_val_epoch": lambda runner, metrics: calls.append(("val", sorted(metrics))),
            "_before_epoch": lambda runner, mode: calls.append(("_before_epoch", mode)),
        }
    )
    assert sorted(hook.get_triggered_stages()) == sorted(
        ["before_run", "after_train_iter", "after_val_epoch", "before_train_epoch",
         "before_val_epoch", "before_test_epoch"]
    )  # fmt: skip
    train_cfg = dict(by_epoch=True, max_epochs=1)
    kwargs = runner_kwargs(tmp_path, train_cfg=train_cfg)
    kwargs["train_dataloader"]["dataset"] = kwargs["train_dataloader"]["dataset"].__class__(16)
    Runner(**kwargs, custom_hooks=[hook]).train()
    assert calls == [
        ("before_run", "Runner"),
        ("_before_epoch", "train"),
        ("after_train_iter", 0, 0, ["inputs", "targets"], ["loss"]),
        ("after_train_iter", 1, 1, ["inputs", "targets"], ["loss"]),
        ("_before_epoch", "val"),
        ("val", ["mse"]),
    ]


def test_in_a_runner_function_hooks_run_in_priority_order(tmp_path: Path) -> None:
    order: list[str] = []

    def record(name: str) -> Any:
        return lambda runner: order.append(name)

    runner = Runner(
        **runner_kwargs(tmp_path, train_cfg=ONE_EPOCH),
        custom_hooks=[
            FunctionHook("after_train", record("low"), priority="LOW"),
            FunctionHook({"after_train": record("normal")}),
            dict(type="ClosureHook", fn_name="after_train", fn=record("highest"),
                 priority="HIGHEST"),
            dict(type="FunctionHook", fn_name={"after_train": record("high")}, priority="HIGH"),
        ],
    )  # fmt: skip
    functions = [h for h in runner._hooks.hooks_at("after_train") if isinstance(h, FunctionHook)]
    assert [h.priority for h in functions] == ["HIGHEST", "HIGH", "NORMAL", "LOW"]
    runner.train()
    assert order == ["highest", "high", "normal", "low"]
    assert HOOKS.get("ClosureHook") is FunctionHook


def test_in_a_runner_custom_points(tmp_path: Path) -> None:
    seen: list[Any] = []
    hook = FunctionHook("after_train_step", lambda runner, **kwargs: seen.append(kwargs))
    runner = Runner(**runner_kwargs(tmp_path), custom_hooks=[hook])
    runner.call_hook("after_train_step", step=3)
    assert seen == [{"step": 3}]
    assert hook.get_triggered_stages() == []  # only built-in points are stages


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("after_trian_iter", "after_train_iter"),
        ("before_train_epoc", "before_train_epoch"),
        ("befor_run", "before_run"),
        ("After_Run", "after_run"),
    ],
)
def test_rejects_a_misspelt_point(name: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match=f"{name!r} is not a hook point; did you mean "
                                         f"{suggestion!r}"):  # fmt: skip
        FunctionHook(name, lambda runner: None)
    with pytest.raises(ValueError, match=f"did you mean {suggestion!r}"):
        FunctionHook({"before_run": lambda runner: None, name: lambda runner: None})


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("priority", print), ValueError, "'priority' is an attribute of FunctionHook"),
        (("every_n_epochs", print), ValueError, "not a hook point"),
        (("before_run",), TypeError, r"FunctionHook\('before_run'\) needs the function"),
        (({"before_run": print}, print), TypeError, "not both"),
        (({},), ValueError, "at least one function"),
        ((["before_run"], print), TypeError, "fn_name must be a hook point name or a dict"),
        (("before_run", "print"), TypeError, "the function for 'before_run' must be callable"),
        (({1: print},), TypeError, "hook point names must be str"),
    ],
)
def test_rejects_bad_arguments(args: tuple[Any, ...], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        FunctionHook(*args)


def test_rejects_an_unknown_priority() -> None:
    with pytest.raises(ValueError, match="unknown priority 'SOON'"):
        FunctionHook("before_run", print, priority="SOON")


def test_signatures_are_checked_at_registration() -> None:
    hooks = HookList(owner=None)
    with pytest.raises(TypeError, match=r"FunctionHook.after_train_iter\(runner, step\) cannot "
                                        r"be called at hook point 'after_train_iter'"):  # fmt: skip
        hooks.register(FunctionHook("after_train_iter", lambda runner, step: None))
    with pytest.raises(TypeError, match=r"_after_epoch\(runner, phase\) cannot be called"):
        hooks.register(FunctionHook("_after_epoch", lambda runner, phase: None))
    assert len(hooks) == 0
    hooks.register(FunctionHook("after_train_iter", lambda runner, **kwargs: None))
    hooks.register(FunctionHook("after_train_iter", lambda runner: None))  # MMCV's ClosureHook
    hooks.register(FunctionHook("after_epoch", lambda runner: None))
    assert len(hooks) == 3
