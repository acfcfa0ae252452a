"""EarlyStoppingHook in real runs: patience, min_delta, threshold, non-finite, and bad input."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pytest
from eval_parts import ScriptedMetric, epochs, scripted_runner

from hooks_core import HOOKS
from hooks_eval import EarlyStoppingHook

if TYPE_CHECKING:
    from pathlib import Path


def stopped_at(tmp_path: Path, scores: dict[int, float], name: str = "acc", **options: Any) -> int:
    hook = {"type": "EarlyStoppingHook", "monitor": name, **options}
    runner = scripted_runner(tmp_path, [ScriptedMetric(scores, name)], [hook],
                             checkpoint=None, train_cfg=epochs(len(scores)))  # fmt: skip
    runner.train()
    return int(runner.epoch)


RISING = {1: 0.1, 2: 0.2, 3: 0.3, 4: 0.4, 5: 0.5, 6: 0.6}


def test_stops_after_patience_validations_without_improvement(tmp_path: Path) -> None:
    flat = {1: 0.5, 2: 0.9, 3: 0.8, 4: 0.85, 5: 0.88, 6: 1.0}
    assert stopped_at(tmp_path / "a", flat, patience=3, min_delta=0.0) == 5
    equal = {1: 0.5, 2: 0.9, 3: 0.8, 4: 0.9, 5: 0.8, 6: 0.8}  # reaching the best counts
    assert stopped_at(tmp_path / "c", equal, patience=2, min_delta=0.0) == 6
    assert stopped_at(tmp_path / "b", RISING, patience=1, min_delta=0.0) == 6  # never stalls


def test_min_delta_is_the_least_improvement(tmp_path: Path) -> None:
    slow = {epoch: 0.1 + 0.04 * (epoch - 1) for epoch in range(1, 7)}
    assert stopped_at(tmp_path / "a", slow, patience=2) == 3  # MMEngine's default 0.1
    assert stopped_at(tmp_path / "b", slow, patience=2, min_delta=0.03) == 6


def test_less_is_inferred_for_a_loss(tmp_path: Path) -> None:
    falling = {1: 1.0, 2: 0.5, 3: 0.6, 4: 0.55, 5: 0.1, 6: 0.1}
    assert stopped_at(tmp_path, falling, name="val_loss", patience=2, min_delta=0.0) == 4


def test_threshold_and_non_finite_stop_at_once(tmp_path: Path) -> None:
    assert stopped_at(tmp_path / "a", RISING, stopping_threshold=0.25) == 3
    with_nan = {1: 0.1, 2: math.nan, 3: 0.3}
    assert stopped_at(tmp_path / "b", with_nan) == 2
    assert stopped_at(tmp_path / "c", with_nan, check_finite=False) == 3


def test_missing_monitor_warns_or_raises_when_strict(tmp_path: Path) -> None:
    runner = scripted_runner(tmp_path / "a", [ScriptedMetric(RISING, "acc")],
                             [EarlyStoppingHook("top1", rule="greater")], checkpoint=None,
                             train_cfg=epochs(1))  # fmt: skip
    with pytest.warns(RuntimeWarning, match=r"monitors 'top1', which is not among .*\['acc'\]"):
        runner.train()
    strict = scripted_runner(tmp_path / "b", [ScriptedMetric(RISING, "acc")],
                             [EarlyStoppingHook("top1", rule="greater", strict=True)],
                             checkpoint=None, train_cfg=epochs(1))  # fmt: skip
    with pytest.raises(RuntimeError, match="set strict=False"):
        strict.train()


def test_validation_alone_does_not_stop_anything(tmp_path: Path) -> None:
    runner = scripted_runner(tmp_path, [ScriptedMetric({0: math.nan}, "acc")],
                             [EarlyStoppingHook("acc")], checkpoint=None)  # fmt: skip
    assert math.isnan(runner.val()["acc"])
    assert "early_stopping/acc" not in runner.message_hub.runtime_info


def test_builds_by_name_at_lowest_priority() -> None:
    hook = HOOKS.build(dict(type="EarlyStoppingHook", monitor="accuracy/top1"))
    assert isinstance(hook, EarlyStoppingHook)
    assert (hook.priority, hook.rule, hook.min_delta, hook.patience) == (
        "LOWEST",
        "greater",
        0.1,
        5,
    )


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (dict(monitor="acc", rule="max"), r"unknown rule 'max'; valid rules are \('greater'"),
        (dict(monitor="f1"), "cannot infer whether 'f1' is better greater or less"),
        (dict(monitor="acc", patience=0), "patience must be a positive int, got 0"),
        (dict(monitor="acc", min_delta=-0.1), "min_delta must be >= 0, got -0.1"),
    ],
)  # fmt: skip
def test_bad_options(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EarlyStoppingHook(**options)
