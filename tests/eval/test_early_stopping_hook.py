"""EarlyStoppingHook: direct calls as MMEngine's tests make them, real runs, and bad input.

The direct calls use a runner stand-in (a training loop with ``stop_training``,
a logger, a message hub) and skip before_run and before_train, as MMEngine's do.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import TYPE_CHECKING, Any

import pytest
import torch
from eval_parts import CheckpointingStandIn, ScriptedMetric, epochs, scripted_runner

from hooks_core import HOOKS
from hooks_eval import EarlyStoppingHook

if TYPE_CHECKING:
    from collections.abc import Iterable
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


def test_missing_monitor_warns_once_or_raises_when_strict(tmp_path: Path) -> None:
    """Three validations without the monitor: one warning, saying what it means and the fix."""
    flat = {1: 0.5, 2: 0.5, 3: 0.5}
    runner = scripted_runner(tmp_path / "a", [ScriptedMetric(flat, "acc")],
                             [EarlyStoppingHook("top1", rule="greater", patience=1)],
                             checkpoint=None, train_cfg=epochs(3))  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # a repeated warning would be recorded again
        runner.train()
    told = [str(w.message) for w in caught if "EarlyStoppingHook" in str(w.message)]
    assert told == [
        "EarlyStoppingHook monitor='top1' is not among the validation metrics ['acc'], so "
        "early stopping is inactive: validations without it are skipped (this warning is not "
        "repeated). Set monitor to one of them; strict=True makes this an error"
    ]
    assert runner.epoch == 3  # inactive: monitoring 'acc', the same run stops at epoch 2
    assert stopped_at(tmp_path / "c", flat, patience=1) == 2
    strict = scripted_runner(tmp_path / "b", [ScriptedMetric(RISING, "acc")],
                             [EarlyStoppingHook("top1", rule="greater", strict=True)],
                             checkpoint=None, train_cfg=epochs(1))  # fmt: skip
    with pytest.raises(RuntimeError, match="set monitor to one of them, or strict=False"):
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
    assert (hook.best_score, hook.wait_count) == (-math.inf, 0)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (dict(monitor="acc", rule="max"), r"unknown rule 'max'; valid rules are \('greater'"),
        (dict(monitor="f1"), "cannot infer whether 'f1' is better greater or less"),
        (dict(monitor="acc", patience=-1), "patience must be an int >= 0, got -1"),
        (dict(monitor="acc", patience=2.0), "patience must be an int >= 0, got 2.0"),
        (dict(monitor="acc", min_delta=-0.1), "min_delta must be >= 0, got -0.1"),
    ],
)  # fmt: skip
def test_bad_options(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EarlyStoppingHook(**options)


# ------------------------------------------------------------ MMEngine's cases, called directly
@pytest.mark.parametrize(
    ("monitor", "rule"),
    [("acc", "greater"), ("ACC", "greater"), ("mAP_50", "greater"), ("loss", "less"),
     ("Loss", "less"), ("ce_loss", "less")],
)  # fmt: skip
def test_the_rule_is_inferred_from_the_monitor(monitor: str, rule: str) -> None:
    hook = EarlyStoppingHook(monitor=monitor)
    assert hook.rule == rule
    assert hook.best_score == (-math.inf if rule == "greater" else math.inf)
    assert hook.min_delta == (0.1 if rule == "greater" else -0.1)  # MMEngine keeps it signed


def test_before_run_needs_a_stoppable_training_loop(tmp_path: Path) -> None:
    runner = CheckpointingStandIn(tmp_path)
    EarlyStoppingHook(monitor="accuracy/top1").before_run(runner)
    runner.train_loop = object()  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"train_loop\.stop_training, which object does not have"):
        EarlyStoppingHook(monitor="accuracy/top1", rule="greater").before_run(runner)


def feed(
    hook: EarlyStoppingHook, runner: CheckpointingStandIn, key: str, values: Iterable[Any]
) -> int:
    """Validate with each value until the hook stops training; return how many it saw."""
    seen = 0
    for value in values:
        hook.after_val_epoch(runner, {key: value})
        seen += 1
        if runner.train_loop.stop_training:
            break
    return seen


def test_a_missing_monitor_warns_or_raises_without_before_run(tmp_path: Path) -> None:
    runner = CheckpointingStandIn(tmp_path)
    metrics = {"accuracy/top1": 0.5, "loss": 0.23}
    with pytest.warns(UserWarning, match="EarlyStoppingHook monitor='acc' is not among"):
        EarlyStoppingHook(monitor="acc", rule="greater").after_val_epoch(runner, metrics)
    with pytest.raises(RuntimeError, match=r"monitor='acc' is not among .*'loss'\]"):
        EarlyStoppingHook(monitor="acc", rule="greater", strict=True).after_val_epoch(
            runner, metrics
        )
    assert not runner.train_loop.stop_training


def test_best_score_follows_the_largest_and_the_smallest(tmp_path: Path) -> None:
    greater = EarlyStoppingHook(monitor="accuracy/top1", rule="greater")
    feed(greater, CheckpointingStandIn(tmp_path), "accuracy/top1", [i / 9 for i in range(8)])
    assert greater.best_score == pytest.approx(7 / 9)
    less = EarlyStoppingHook(monitor="loss")
    feed(less, CheckpointingStandIn(tmp_path), "loss", [i / 9 for i in range(8, 0, -1)])
    assert less.best_score == pytest.approx(1 / 9)
    assert less.wait_count == 0


def test_stops_after_patience_and_logs_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = CheckpointingStandIn(tmp_path)
    hook = EarlyStoppingHook(monitor="accuracy/top1", rule="greater", min_delta=1)
    with caplog.at_level(logging.INFO, logger=runner.logger.name):
        seen = feed(hook, runner, "accuracy/top1", torch.linspace(98, 99, 8))
    assert (seen, hook.wait_count, runner.train_loop.stop_training) == (6, 5, True)
    assert hook.best_score == 98.0
    assert "accuracy/top1 did not improve by 1 in the last 5 validations; the best was " \
        "98.000" in caplog.text  # fmt: skip
    assert runner.message_hub.get_info(hook.info_key) == {"best_score": 98.0, "wait_count": 5}

    patient = EarlyStoppingHook(monitor="accuracy/top1", rule="greater", min_delta=1, patience=10)
    runner = CheckpointingStandIn(tmp_path)
    assert feed(patient, runner, "accuracy/top1", torch.linspace(98, 99, 8)) == 8
    assert not runner.train_loop.stop_training


def test_non_finite_and_threshold_stop_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = CheckpointingStandIn(tmp_path)
    hook = EarlyStoppingHook(monitor="accuracy/top1", rule="greater", min_delta=1)
    with caplog.at_level(logging.INFO, logger=runner.logger.name):
        assert feed(hook, runner, "accuracy/top1", [math.inf] * 5) == 1
    assert "accuracy/top1 = inf is not finite" in caplog.text

    runner = CheckpointingStandIn(tmp_path)
    hook = EarlyStoppingHook(monitor="accuracy/top1", rule="greater", stopping_threshold=98.5,
                             patience=0)  # fmt: skip
    with caplog.at_level(logging.INFO, logger=runner.logger.name):
        feed(hook, runner, "accuracy/top1", torch.linspace(98, 99, 8))
    assert runner.train_loop.stop_training
    assert hook.best_score == pytest.approx(98 + 4 / 7, abs=1e-5)
    assert "is greater than the stopping threshold 98.5" in caplog.text


def test_patience_0_stops_at_the_first_validation_without_improvement(tmp_path: Path) -> None:
    runner = CheckpointingStandIn(tmp_path)
    hook = EarlyStoppingHook(monitor="acc", patience=0, min_delta=0.0)
    assert feed(hook, runner, "acc", [0.5, 0.6, 0.55, 0.9]) == 3


def test_before_train_takes_the_resumed_state(tmp_path: Path) -> None:
    runner = CheckpointingStandIn(tmp_path)
    hook = EarlyStoppingHook(monitor="acc", patience=3, min_delta=0.0)
    runner.message_hub.update_info(hook.info_key, {"best_score": 0.7, "wait_count": 2})
    hook.before_train(runner)
    assert (hook.best_score, hook.wait_count) == (0.7, 2)
    assert feed(hook, runner, "acc", [0.6]) == 1
    assert runner.train_loop.stop_training  # the third validation without improvement


def test_mmengine_runner_case_stops_after_epoch_6(tmp_path: Path) -> None:
    """MMEngine's own run: 90, 91, 92, 88, 89, 90 with min_delta=1 and patience=3."""
    scores = dict(enumerate([90, 91, 92, 88, 89, 90] * 2, start=1))
    assert stopped_at(tmp_path, scores, name="test/acc", rule="greater", min_delta=1,
                      patience=3) == 6  # fmt: skip
