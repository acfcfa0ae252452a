"""EvalHook with MMCV's options, on the runner's validation loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from eval_parts import ScriptedMetric, epochs, eval_runner_kwargs, files, scripted_runner

from hooks_core import Hook, Runner
from hooks_eval import EvalHook

if TYPE_CHECKING:
    from pathlib import Path


class Validations(Hook):
    """Record the training position at each validation, and the model's mode when training."""

    def __init__(self) -> None:
        self.at: list[tuple[int, int]] = []
        self.train_modes: list[bool] = []

    def after_val_epoch(self, runner: Any, metrics: Any = None) -> None:
        self.at.append((runner.epoch, runner.iter))

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        self.train_modes.append(runner.model.training)


def validated(tmp_path: Path, train_cfg: dict[str, Any], **options: Any) -> Validations:
    record = Validations()
    runner = Runner(**eval_runner_kwargs(tmp_path, train_cfg=train_cfg),
                    default_hooks=dict(checkpoint=None),
                    custom_hooks=[dict(type="EvalHook", **options), record])  # fmt: skip
    runner.train()
    return record


def test_interval_by_epoch_replaces_the_loops_schedule(tmp_path: Path) -> None:
    # During after_train_epoch the epoch counter still names the epoch just trained.
    assert validated(tmp_path, epochs(5), interval=2).at == [(1, 10), (3, 20)]


def test_start_counts_the_interval_from_there(tmp_path: Path) -> None:
    assert validated(tmp_path, epochs(5), start=3).at == [(2, 15), (3, 20), (4, 25)]


def test_by_iteration_and_back_to_training_mode(tmp_path: Path) -> None:
    train_cfg = dict(by_epoch=False, max_iters=10, val_interval=3)
    record = validated(tmp_path, train_cfg, interval=4, by_epoch=False)
    assert record.at == [(0, 3), (0, 7)]
    assert record.train_modes == [True] * 10


def test_start_0_validates_before_training_as_mmcv(tmp_path: Path) -> None:
    assert validated(tmp_path, epochs(2), start=0).at == [(0, 0), (0, 5), (1, 10)]


def test_save_best_keeps_mmcv_named_best_checkpoints(tmp_path: Path) -> None:
    hook = EvalHook(interval=1, save_best="acc")
    runner = scripted_runner(tmp_path, [ScriptedMetric({0: 0.1, 1: 0.5, 2: 0.3}, "acc")], [hook],
                             checkpoint=None, train_cfg=epochs(3))  # fmt: skip
    runner.train()
    # The metric's clock reads runner.epoch, which during the hook's validation is one behind.
    assert files(tmp_path) == ["best_acc_epoch_2.pth"]
    assert runner.message_hub.get_info("eval_best_score") == 0.5
    assert runner.message_hub.get_info("eval_best_ckpt") == str(tmp_path / "best_acc_epoch_2.pth")


def test_mmcv_eval_kwargs_point_to_the_val_evaluator() -> None:
    with pytest.raises(ValueError, match=r"got \['metric'\].*put them there.*val_evaluator"):
        EvalHook(interval=1, metric="accuracy")


@pytest.mark.parametrize(
    ("options", "match"),
    [(dict(interval=0), "interval must be a positive int"), (dict(start=-1), "start must be")],
)
def test_bad_options(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EvalHook(**options)


def test_needs_a_validation_loop(tmp_path: Path) -> None:
    kwargs = eval_runner_kwargs(tmp_path, val_dataloader=None, val_cfg=None, val_evaluator=None)
    runner = Runner(**kwargs, default_hooks=dict(checkpoint=None), custom_hooks=[EvalHook()])
    with pytest.raises(RuntimeError, match="give the runner val_dataloader, val_cfg and"):
        runner.train()
