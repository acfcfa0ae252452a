"""HookList: ordering, priority precedence, dispatch table, signature checks, hooks info."""

from __future__ import annotations

import traceback
from typing import Any

import pytest

from hooks_core import HOOKS, Hook, HookList, NotRegisteredError, Priority


class Named(Hook):
    """Logs its name at `before_run` into a shared list."""

    def __init__(self, name: str, log: list[str] | None = None) -> None:
        self.name = name
        self.log = log if log is not None else []

    def before_run(self, runner: Any) -> None:
        self.log.append(self.name)


def names(hooks: HookList) -> list[str]:
    return [h.name for h in hooks]  # type: ignore[attr-defined]


def test_hooks_are_sorted_by_priority_and_stable_within_a_priority() -> None:
    hooks = HookList(owner=None)
    hooks.register(Named("normal-1"))
    hooks.register(Named("lowest"), priority="LOWEST")
    hooks.register(Named("very-high"), priority=Priority.VERY_HIGH)
    hooks.register(Named("normal-2"), priority=50)
    hooks.register(Named("between"), priority=45)
    hooks.register(Named("highest"), priority="highest")
    assert names(hooks) == ["highest", "very-high", "between", "normal-1", "normal-2", "lowest"]


def test_priority_precedence_argument_then_config_then_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @HOOKS.register_module()
    class LowByDefault(Named):
        priority = "LOW"

    hooks = HookList(owner=None)
    cfg = {"type": "LowByDefault", "name": "cfg", "priority": "HIGH"}
    from_cfg = hooks.register(cfg)
    from_arg = hooks.register(dict(cfg, name="arg"), priority="VERY_LOW")
    from_class = hooks.register({"type": "LowByDefault", "name": "class"})
    assert (from_cfg.priority, from_arg.priority, from_class.priority) == (
        "HIGH",
        "VERY_LOW",
        "LOW",
    )
    assert names(hooks) == ["cfg", "class", "arg"]
    assert cfg == {"type": "LowByDefault", "name": "cfg", "priority": "HIGH"}  # not mutated


def test_bad_priority_and_bad_hook_are_rejected_clearly() -> None:
    hooks = HookList(owner=None)
    with pytest.raises(ValueError, match="unknown priority 'SOON'"):
        hooks.register(Named("x"), priority="SOON")
    with pytest.raises(TypeError, match="must be a Hook instance or a config dict, got int"):
        hooks.register(3)  # type: ignore[arg-type]
    with pytest.raises(NotRegisteredError, match="'NoSuchHook' is not in the hooks_core::hook"):
        hooks.register({"type": "NoSuchHook"})
    assert len(hooks) == 0


def test_call_hook_passes_owner_and_kwargs_in_priority_order() -> None:
    seen: list[tuple[str, Any, int, Any, Any]] = []

    class Spy(Hook):
        def __init__(self, tag: str) -> None:
            self.tag = tag

        def after_train_iter(
            self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
        ) -> None:
            seen.append((self.tag, runner, batch_idx, data_batch, outputs))

    owner = object()
    hooks = HookList(owner)
    hooks.register(Spy("late"), priority="LOW")
    hooks.register(Spy("early"), priority="HIGH")
    hooks.register(Named("unrelated"))
    hooks.call_hook("after_train_iter", batch_idx=4, data_batch=[1], outputs={"loss": 0})
    assert seen == [
        ("early", owner, 4, [1], {"loss": 0}),
        ("late", owner, 4, [1], {"loss": 0}),
    ]


def test_only_overriding_hooks_are_in_the_dispatch_table() -> None:
    class Epochs(Hook):
        def _after_epoch(self, runner: Any, mode: str = "train") -> None: ...

    hooks = HookList(owner=None)
    plain, runner_hook, epochs = Hook(), Named("n"), Epochs()
    for hook in (plain, runner_hook, epochs):
        hooks.register(hook)
    assert hooks.hooks_at("before_run") == (runner_hook,)
    assert hooks.hooks_at("after_val_epoch") == (epochs,)
    assert hooks.hooks_at("after_train_iter") == ()
    # A point no hook acts on has no dispatcher at all: calling it is a lookup.
    assert hooks._table["after_train_iter"] is None
    assert hooks._table["after_val_epoch"] is not None


class Counting(Hook):
    """Counts its calls after each training iteration; idle there when told so."""

    def __init__(self, idle: bool = True) -> None:
        self.idle = idle
        self.calls = 0
        self.asked: list[Any] = []

    def idle_points(self, runner: Any) -> tuple[str, ...]:
        self.asked.append(runner)
        return ("after_train_iter",) if self.idle else ()

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:  # fmt: skip
        self.calls += 1


def train_iterations(hooks: HookList, count: int) -> None:
    hooks.call_hook("before_train")
    for i in range(count):
        hooks.call_hook("after_train_iter", batch_idx=i, data_batch=None, outputs=None)
    hooks.call_hook("after_train")


def test_idle_points_are_skipped_from_before_train_to_after_train() -> None:
    hooks, idle, busy = HookList(owner="runner"), Counting(), Counting(idle=False)
    hooks.register(idle)
    hooks.register(busy)
    hooks.call_hook("after_train_iter", batch_idx=0)  # outside training: called
    assert (idle.calls, idle.asked) == (1, [])
    train_iterations(hooks, 3)
    assert (idle.calls, busy.calls) == (1, 4)
    assert idle.asked == ["runner"]  # asked once, with the owner, when training starts
    hooks.call_hook("after_train_iter", batch_idx=0)  # after training: called again
    assert idle.calls == 2


def test_a_hook_registered_while_training_is_asked_then() -> None:
    hooks, late = HookList(owner="runner"), Counting()
    hooks.call_hook("before_train")
    hooks.register(late)
    hooks.call_hook("after_train_iter", batch_idx=0)
    assert (late.calls, late.asked) == (0, ["runner"])


def test_a_subclass_overriding_an_idle_point_is_still_called() -> None:
    class Extended(Counting):
        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            super().after_train_iter(runner, batch_idx, data_batch, outputs)
            self.calls += 10

    class Generic(Counting):  # MMEngine's generic point behind every *_iter point
        def _after_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                        outputs: Any = None, mode: str = "train") -> None:  # fmt: skip
            self.calls += 100

    hooks, extended, generic = HookList(owner=None), Extended(), Generic()
    hooks.register(extended)
    hooks.register(generic)
    instance, seen = Counting(), []
    setattr(instance, "after_train_iter", lambda *args, **kwargs: seen.append(kwargs))  # noqa: B010
    hooks.register(instance)
    train_iterations(hooks, 2)
    assert extended.calls == 22
    assert generic.calls == 0  # Counting's after_train_iter, idle, runs there, not _after_iter
    assert len(seen) == 2  # set on the instance: not Counting's


def test_idle_points_that_are_not_hook_points_are_refused() -> None:
    class Typo(Hook):
        def idle_points(self, runner: Any) -> tuple[str, ...]:
            return ("after_train_itr",)

    hooks = HookList(owner=None)
    hooks.register(Typo())
    with pytest.raises(ValueError, match=r"Typo.idle_points returned \['after_train_itr'\]"):
        hooks.call_hook("before_train")


def test_hooks_taking_extra_keywords_receive_them_by_name() -> None:
    received: list[dict[str, Any]] = []

    class Flexible(Hook):
        def after_val_epoch(self, runner: Any, **kwargs: Any) -> None:
            received.append(kwargs)

        def before_save_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
            checkpoint["flexible"] = True

    hooks = HookList(owner=None)
    hooks.register(Flexible())
    checkpoint: dict[str, Any] = {}
    hooks.call_hook("after_val_epoch", metrics={"acc": 0.5})
    hooks.call_hook("before_save_checkpoint", checkpoint=checkpoint)
    assert received == [{"metrics": {"acc": 0.5}}]
    assert checkpoint == {"flexible": True}


def test_generic_override_runs_with_the_right_mode() -> None:
    modes: list[str] = []

    class Timer(Hook):
        def _before_iter(
            self, runner: Any, batch_idx: int, data_batch: Any = None, mode: str = "train"
        ) -> None:
            modes.append(mode)

    hooks = HookList(owner=None)
    hooks.register(Timer())
    for mode in ("train", "val", "test"):
        hooks.call_hook(f"before_{mode}_iter", batch_idx=0, data_batch=None)
    assert modes == ["train", "val", "test"]


def test_custom_points_work_and_follow_new_registrations() -> None:
    class Custom(Hook):
        def __init__(self) -> None:
            self.got: list[int] = []

        def after_data_prepared(self, runner: Any, size: int) -> None:
            self.got.append(size)

    hooks = HookList(owner=None)
    first = hooks.register(Custom())
    hooks.call_hook("after_data_prepared", size=3)
    second = hooks.register(Custom(), priority="HIGH")
    hooks.call_hook("after_data_prepared", size=5)
    hooks.call_hook("no_hook_has_this_point")
    assert (first.got, second.got) == ([3, 5], [5])


def test_bad_signature_is_reported_at_registration() -> None:
    class Unfit(Hook):
        def after_train_iter(self, runner, step):  # type: ignore[no-untyped-def, override]
            pass

    with pytest.raises(TypeError) as info:
        HookList(owner=None).register(Unfit())
    message = str(info.value)
    assert "Unfit.after_train_iter(runner, step)" in message
    assert "'after_train_iter'" in message
    assert "expected after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None)" in (
        message
    )
    assert "or, MMCV's style, (runner)" in message


def test_bad_generic_signature_names_the_generic_method() -> None:
    class NoMode(Hook):
        def _before_epoch(self, runner):  # type: ignore[no-untyped-def, override]
            pass

    with pytest.raises(TypeError, match=r"NoMode\._before_epoch\(runner\).*'before_train_epoch'"):
        HookList(owner=None).register(NoMode())


def test_type_error_inside_a_hook_body_propagates_untouched() -> None:
    class Buggy(Hook):
        def before_train(self, runner: Any) -> None:
            len(5)  # type: ignore[arg-type]

    hooks = HookList(owner=None)
    hooks.register(Buggy())
    with pytest.raises(TypeError) as info:
        hooks.call_hook("before_train")
    assert str(info.value) == "object of type 'int' has no len()"
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[-1].name == "before_train"
    assert frames[-1].line == "len(5)  # type: ignore[arg-type]"


def test_get_hooks_info_uses_mmengine_layout() -> None:
    class RuntimeInfo(Hook):
        priority = Priority.VERY_HIGH

        def before_run(self, runner: Any) -> None: ...
        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None: ...  # fmt: skip

    class Logger(Hook):
        priority = 60

        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None: ...  # fmt: skip

    hooks = HookList(owner=None)
    hooks.register(Logger())
    hooks.register(RuntimeInfo())
    hooks.register(Named("x"), priority=45)
    assert hooks.get_hooks_info() == (
        "before_run:\n"
        f"({'VERY_HIGH':<12}) {'RuntimeInfo':<35}\n"
        f"({'45':<12}) {'Named':<35}\n"
        " -------------------- \n"
        "after_train_iter:\n"
        f"({'VERY_HIGH':<12}) {'RuntimeInfo':<35}\n"
        f"({'BELOW_NORMAL':<12}) {'Logger':<35}\n"
        " -------------------- "
    )


def test_bad_function_on_an_instance_gets_an_expected_signature_without_self() -> None:
    hook = Hook()
    hook.after_val_epoch = lambda: None  # type: ignore[method-assign, assignment]
    with pytest.raises(TypeError, match=r"expected after_val_epoch\(runner, metrics=None\) or"):
        HookList(owner=None).register(hook)


def test_hooks_written_as_for_mmengine_are_dispatched() -> None:
    from hooks_core.config import ConfigDict

    calls: list[tuple[str, Any]] = []

    @HOOKS.register_module()
    class MMEngineStyleHook(Hook):
        """Points with MMEngine's parameter names and defaults, a generic one among them."""

        priority = "VERY_LOW"

        def __init__(self, interval: int = 1) -> None:
            self.interval = interval

        def before_train_epoch(self, runner: Any) -> None:
            calls.append(("before_train_epoch", runner))

        def after_train_iter(
            self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
        ) -> None:
            if self.every_n_inner_iters(batch_idx, self.interval):
                calls.append(("after_train_iter", (batch_idx, data_batch, outputs)))

        def after_val_epoch(self, runner: Any, metrics: dict[str, float] | None = None) -> None:
            calls.append(("after_val_epoch", metrics))

        def _after_iter(
            self,
            runner: Any,
            batch_idx: int,
            data_batch: Any = None,
            outputs: Any = None,
            mode: str = "train",
        ) -> None:
            calls.append((f"_after_iter[{mode}]", batch_idx))

        def before_save_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
            checkpoint["seen"] = True

    hooks = HookList(owner="runner")
    hook = hooks.register(ConfigDict(type="MMEngineStyleHook", interval=2, priority="HIGH"))
    assert hook.priority == "HIGH" and hook.interval == 2  # type: ignore[attr-defined]
    hooks.call_hook("before_train_epoch")
    for batch_idx in range(2):
        hooks.call_hook("after_train_iter", batch_idx=batch_idx, data_batch={"x": 1}, outputs={})
    hooks.call_hook("after_val_iter", batch_idx=5, data_batch=None, outputs=[])
    hooks.call_hook("after_val_epoch", metrics={"acc": 0.5})
    checkpoint: dict[str, Any] = {}
    hooks.call_hook("before_save_checkpoint", checkpoint=checkpoint)
    assert calls == [
        ("before_train_epoch", "runner"),
        ("after_train_iter", (1, {"x": 1}, {})),
        ("_after_iter[val]", 5),
        ("after_val_epoch", {"acc": 0.5}),
    ]
    assert checkpoint == {"seen": True}
