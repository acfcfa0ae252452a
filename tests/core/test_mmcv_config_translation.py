"""`from_mmcv_config`: an MMCV 1.x config's own keys as the `Runner` arguments they stand for."""

from __future__ import annotations

from typing import Any

import pytest

from hooks_core.runner import from_mmcv_config

OPTIMIZER = {"type": "SGD", "lr": 0.1, "momentum": 0.9}


def translate(**cfg: Any) -> dict[str, Any]:
    return from_mmcv_config(cfg, {key: cfg[key] for key in ("val_evaluator",) if key in cfg})


def test_runner_and_workflow_give_train_cfg() -> None:
    out = translate(
        runner={"type": "EpochBasedRunner", "max_epochs": 12}, workflow=[("train", 2), ("val", 1)]
    )
    assert out["train_cfg"] == {"by_epoch": True, "max_epochs": 12, "val_interval": 2}
    out = translate(runner={"type": "IterBasedRunner", "max_iters": 100})
    assert out["train_cfg"] == {"by_epoch": False, "max_iters": 100}
    assert translate(total_epochs=3)["train_cfg"] == {"by_epoch": True, "max_epochs": 3}


def test_optimizer_and_optimizer_config_give_the_optim_wrapper() -> None:
    out = translate(
        optimizer={**OPTIMIZER, "paramwise_cfg": {"bias_lr_mult": 2.0}},
        optimizer_config={"grad_clip": {"max_norm": 35, "norm_type": 2}},
    )
    assert out["optim_wrapper"] == {
        "type": "OptimWrapper",
        "optimizer": OPTIMIZER,
        "clip_grad": {"max_norm": 35, "norm_type": 2},
        "paramwise_cfg": {"bias_lr_mult": 2.0},
    }
    out = translate(
        optimizer=OPTIMIZER,
        optimizer_config={"type": "GradientCumulativeOptimizerHook", "cumulative_iters": 4},
    )
    assert out["optim_wrapper"]["accumulative_counts"] == 4
    out = translate(
        optimizer=OPTIMIZER, optimizer_config={"grad_clip": None}, fp16={"loss_scale": 512.0}
    )
    assert out["optim_wrapper"]["type"] == "AmpOptimWrapper"
    assert out["optim_wrapper"]["loss_scale"] == 512.0
    with pytest.warns(UserWarning, match="detect_anomalous_params is a debugging aid"):
        translate(optimizer=OPTIMIZER, optimizer_config={"detect_anomalous_params": True})


def test_lr_and_momentum_configs_become_mmcv_updater_hooks() -> None:
    out = translate(
        runner={"type": "IterBasedRunner", "max_iters": 10},
        lr_config={"policy": "step", "step": [5], "warmup": "linear", "warmup_iters": 2},
        momentum_config={"policy": "CosineAnnealing", "min_momentum_ratio": 0.5},
    )
    assert out["custom_hooks"] == [
        {"type": "StepLrUpdaterHook", "step": [5], "warmup": "linear", "warmup_iters": 2,
         "by_epoch": False, "priority": "VERY_HIGH"},
        {"type": "CosineAnnealingMomentumUpdaterHook", "min_momentum_ratio": 0.5,
         "by_epoch": False, "priority": "HIGH"},
    ]  # fmt: skip


def test_checkpoint_evaluation_and_resume() -> None:
    val_loader = {"batch_size": 2, "dataset": {"type": "Toy"}}
    out = from_mmcv_config(
        {
            "checkpoint_config": {"interval": 5, "max_keep_ckpts": 5},
            "evaluation": {"interval": 1, "save_best": "acc", "metric": "accuracy"},
            "resume_from": "work/epoch_3.pth",
            "load_from": "other.pth",
        },
        {"val_dataloader": val_loader, "load_from": "other.pth"},
    )
    assert out["default_hooks"]["checkpoint"] == {
        "type": "CheckpointHook", "by_epoch": True, "interval": 5, "max_keep_ckpts": 5,
    }  # fmt: skip
    assert out["custom_hooks"] == [
        {"type": "EvalHook", "by_epoch": True, "interval": 1, "save_best": "acc",
         "metric": "accuracy", "priority": "LOW", "dataloader": val_loader},
    ]  # fmt: skip
    assert "val_dataloader" not in out  # the EvalHook's alone, without a val_evaluator
    assert (out["load_from"], out["resume"]) == ("work/epoch_3.pth", True)


def test_data_gives_the_dataloaders() -> None:
    out = translate(
        data={
            "samples_per_gpu": 8,
            "workers_per_gpu": 2,
            "train": {"type": "A"},
            "val": {"type": "B"},
        }
    )
    assert out["train_dataloader"] == {
        "batch_size": 8, "num_workers": 2, "dataset": {"type": "A"},
        "sampler": {"type": "DefaultSampler", "shuffle": True},
        "collate_fn": {"type": "default_collate"},
    }  # fmt: skip
    assert out["val_dataloader"]["sampler"] == {"type": "DefaultSampler", "shuffle": False}
    assert "test_dataloader" not in out


@pytest.mark.parametrize(
    ("cfg", "kwargs", "message"),
    [
        ({"lr_config": {"policy": "step"}}, {"param_scheduler": [{}]},
         "lr_config and param_scheduler"),
        ({"optimizer": OPTIMIZER}, {"optim_wrapper": {"type": "OptimWrapper"}},
         "optimizer and optim_wrapper"),
        ({"runner": {"type": "EpochBasedRunner", "max_epochs": 1}},
         {"train_cfg": {"by_epoch": True}}, "and train_cfg; keep one"),
        ({"runner": {"type": "MyRunner"}}, {}, "'MyRunner' cannot be translated"),
        ({"runner": {"type": "EpochBasedRunner", "max_iters": 1}}, {},
         r"runner=dict\(type='EpochBasedRunner', max_epochs=N\) is expected"),
        ({"runner": {"type": "EpochBasedRunner", "max_epochs": 1},
          "workflow": [("val", 1), ("train", 1)]}, {}, r"workflow \[.*cannot be translated"),
        ({"optimizer_config": {"grad_clip": None}}, {}, "needs an optimizer"),
        ({"optimizer": OPTIMIZER, "optimizer_config": {"type": "MyHook"}}, {},
         "'MyHook' cannot be translated"),
        ({"optimizer": OPTIMIZER, "optimizer_config": {"grad_clp": None}}, {},
         r"\['grad_clp'\], which OptimizerHook does not take"),
        ({"evaluation": {"interval": 1}}, {}, "evaluation needs validation data"),
    ],
)  # fmt: skip
def test_mistakes_are_named(cfg: dict[str, Any], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_mmcv_config(cfg, kwargs)
