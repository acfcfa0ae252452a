"""The Hook base class: points, signatures, generic fallbacks and helpers."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pytest

from hooks_core import Hook

MMENGINE_STAGES = (
    "before_run", "after_load_checkpoint", "before_train", "before_train_epoch",
    "before_train_iter", "after_train_iter", "after_train_epoch", "before_val",
    "before_val_epoch", "before_val_iter", "after_val_iter", "after_val_epoch", "after_val",
    "before_save_checkpoint", "after_train", "before_test", "before_test_epoch",
    "before_test_iter", "after_test_iter", "after_test_epoch", "after_test", "after_run",
)  # fmt: skip


def params(name: str) -> list[tuple[str, Any]]:
    sig = inspect.signature(getattr(Hook, name))
    return [(p.name, p.default) for p in sig.parameters.values()]


def test_stages_and_default_priority() -> None:
    assert Hook.stages == MMENGINE_STAGES
    assert Hook.priority == "NORMAL"


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("before_run", ["self", "runner"]),
        ("before_save_checkpoint", ["self", "runner", "checkpoint"]),
        ("after_load_checkpoint", ["self", "runner", "checkpoint"]),
        ("before_train_epoch", ["self", "runner"]),
        ("after_train_epoch", ["self", "runner"]),
        ("after_val_epoch", ["self", "runner", ("metrics", None)]),
        ("after_test_epoch", ["self", "runner", ("metrics", None)]),
        ("before_val_iter", ["self", "runner", "batch_idx", ("data_batch", None)]),
        ("after_test_iter", ["self", "runner", "batch_idx", ("data_batch", None),
                             ("outputs", None)]),
        ("_after_iter", ["self", "runner", "batch_idx", ("data_batch", None), ("outputs", None),
                         ("mode", "train")]),
    ],
)  # fmt: skip
def test_point_signatures_match_mmengine(point: str, expected: list[Any]) -> None:
    empty = inspect.Parameter.empty
    assert params(point) == [e if isinstance(e, tuple) else (e, empty) for e in expected]


class Recorder(Hook):
    """Overrides only the generic points, to see which modes reach them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def _before_epoch(self, runner: Any, mode: str = "train") -> None:
        self.calls.append(("before_epoch", mode, None))

    def _after_epoch(self, runner: Any, mode: str = "train") -> None:
        self.calls.append(("after_epoch", mode, None))

    def _before_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, mode: str = "train"
    ) -> None:
        self.calls.append(("before_iter", mode, (batch_idx, data_batch)))

    def _after_iter(
        self,
        runner: Any,
        batch_idx: int,
        data_batch: Any = None,
        outputs: Any = None,
        mode: str = "train",
    ) -> None:
        self.calls.append(("after_iter", mode, (batch_idx, data_batch, outputs)))


def test_mode_points_delegate_to_generic_points() -> None:
    hook = Recorder()
    for mode in ("train", "val", "test"):
        getattr(hook, f"before_{mode}_epoch")(None)
        getattr(hook, f"before_{mode}_iter")(None, batch_idx=1, data_batch="b")
        getattr(hook, f"after_{mode}_iter")(None, batch_idx=1, data_batch="b", outputs="o")
    hook.after_train_epoch(None)
    hook.after_val_epoch(None, metrics={"acc": 1.0})
    hook.after_test_epoch(None)
    assert hook.calls == [
        ("before_epoch", "train", None),
        ("before_iter", "train", (1, "b")),
        ("after_iter", "train", (1, "b", "o")),
        ("before_epoch", "val", None),
        ("before_iter", "val", (1, "b")),
        ("after_iter", "val", (1, "b", "o")),
        ("before_epoch", "test", None),
        ("before_iter", "test", (1, "b")),
        ("after_iter", "test", (1, "b", "o")),
        ("after_epoch", "train", None),
        ("after_epoch", "val", None),
        ("after_epoch", "test", None),
    ]


def test_triggered_stages_follow_overrides_in_stage_order() -> None:
    class Saver(Hook):
        def after_val_epoch(self, runner: Any, metrics: Any = None) -> None: ...
        def before_run(self, runner: Any) -> None: ...

    assert Saver().get_triggered_stages() == ["before_run", "after_val_epoch"]
    assert Hook().get_triggered_stages() == []
    assert Recorder().get_triggered_stages() == [
        s for s in MMENGINE_STAGES if s.endswith(("_epoch", "_iter"))
    ]


def test_an_instance_attribute_counts_as_an_override() -> None:
    hook = Hook()
    hook.after_run = lambda runner: None  # type: ignore[method-assign]
    assert hook.get_triggered_stages() == ["after_run"]


def runner(epoch: int = 0, it: int = 0, max_epochs: int = 3, max_iters: int = 30) -> Any:
    return SimpleNamespace(epoch=epoch, iter=it, max_epochs=max_epochs, max_iters=max_iters)


@pytest.mark.parametrize(
    ("epoch", "n", "start", "expected"),
    [(0, 1, 0, True), (1, 2, 0, True), (0, 2, 0, False), (3, 2, 5, False),
     (4, 2, 5, True), (6, 2, 5, True), (5, 2, 5, False), (3, 0, 0, False), (3, -1, 0, False)],
)  # fmt: skip
def test_every_n_epochs(epoch: int, n: int, start: int, expected: bool) -> None:
    assert Hook().every_n_epochs(runner(epoch=epoch), n, start) is expected


@pytest.mark.parametrize(
    ("it", "n", "start", "expected"),
    [(9, 10, 0, True), (10, 10, 0, False), (19, 10, 0, True), (3, 10, 5, False),
     (4, 10, 5, True), (14, 10, 5, True), (9, 0, 0, False)],
)  # fmt: skip
def test_every_n_train_iters(it: int, n: int, start: int, expected: bool) -> None:
    assert Hook().every_n_train_iters(runner(it=it), n, start) is expected


def test_inner_iter_epoch_end_and_last_helpers() -> None:
    hook = Hook()
    assert [hook.every_n_inner_iters(i, 3) for i in range(6)] == [False, False, True] * 2
    assert hook.every_n_inner_iters(2, 0) is False
    assert [hook.end_of_epoch(range(4), i) for i in range(4)] == [False, False, False, True]
    assert hook.is_last_train_epoch(runner(epoch=2)) is True
    assert hook.is_last_train_epoch(runner(epoch=1)) is False
    assert hook.is_last_train_iter(runner(it=29)) is True
    assert hook.is_last_train_iter(runner(it=28)) is False


def test_points_can_be_called_directly_with_positional_arguments_as_mmengines_tests_do() -> None:
    hook, stand_in = Hook(), runner()
    hook.before_run(stand_in)
    hook.after_load_checkpoint(stand_in, {})
    hook.before_save_checkpoint(stand_in, {})
    for mode in ("train", "val", "test"):
        getattr(hook, f"before_{mode}_epoch")(stand_in)
        getattr(hook, f"before_{mode}_iter")(stand_in, 0, {})
        getattr(hook, f"after_{mode}_iter")(stand_in, 0, {}, {})
    hook.after_train_epoch(stand_in)
    hook.after_val_epoch(stand_in, {})
    hook.after_test_epoch(stand_in, {})
    hook._before_iter(stand_in, {})  # MMEngine's own test passes the batch as batch_idx
    hook._after_iter(stand_in, {}, {})
    recorder = Recorder()
    recorder.after_val_iter(stand_in, 3, "batch", "out")
    assert recorder.calls == [("after_iter", "val", (3, "batch", "out"))]


def test_helpers_are_not_hook_points() -> None:
    class Helper(Hook):
        def is_last_train_epoch(self, runner: Any) -> bool:
            return True

    assert Helper().get_triggered_stages() == []
