"""Migrating an MMCV 1.x training to the MMEngine-style `Runner` keeps the weights and the lr.

The same `Net`, data and seed train (a) through `EpochBasedRunner` with MMCV's
``lr_config``/``optimizer_config``/``checkpoint_config``, (b) through `Runner`
with the ``param_scheduler`` and ``optim_wrapper`` that docs/migration.md maps
them to, and (c) through ``Runner.from_cfg`` of the MMCV config keys. All three
must match MMCV 1.7.2's own run of (a) and each other, iteration by iteration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from parts import EngineNet, LrRecorder, MMCVNet, Points, engine_cfg, loader, mmcv_runner, state

from hooks_core import Runner

EPOCHS = 3  # of 4 iterations
LR_CONFIG = dict(policy="step", step=[2], warmup="linear", warmup_iters=3, warmup_ratio=0.1)
OPTIMIZER_CONFIG = dict(grad_clip=dict(max_norm=1.0))

# MMCV 1.7.2's EpochBasedRunner on these parts (/tmp/h7/mmcv_measure.py in the MMCV venv):
# the lr of each iteration, and the final weights.
MMCV_LRS = [0.01, 0.04, 0.07, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01]
MMCV_WEIGHTS = {
    "fc.weight": torch.tensor(
        [[-0.24308590590953827, 0.13621118664741516], [-0.3441888689994812, -0.27727580070495605]]
    ),
    "fc.bias": torch.tensor([-0.18407051265239716, 0.10134115815162659]),
}


def data() -> Any:
    return loader(Points(16, seed=1))


def mmcv_lr(iteration: int, base: float = 0.1) -> float:
    """MMCV's step schedule by epoch, times the linear warm-up factor for the first 3 iterations."""
    regular = base * 0.1 ** int(iteration // 4 >= 2)
    if iteration >= 3:
        return regular
    return regular * (1 - (1 - iteration / 3) * (1 - 0.1))


def hand_trained() -> tuple[dict[str, torch.Tensor], int]:
    """SGD with MMCV's lrs and ``clip_grad_norm_(max_norm=1.0)``; also how many steps clipped."""
    torch.manual_seed(0)
    model = MMCVNet()
    clipped = 0
    batches = [batch for _ in range(EPOCHS) for batch in data()]
    for iteration, batch in enumerate(batches):
        model.zero_grad()
        model(**batch).backward()
        clipped += float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)) > 1.0
        with torch.no_grad():
            for p in model.parameters():
                p -= mmcv_lr(iteration) * p.grad
    return state(model), clipped


def test_the_hand_made_reference_is_mmcvs_run() -> None:
    assert [mmcv_lr(i) for i in range(12)] == pytest.approx(MMCV_LRS, rel=1e-12)
    weights, clipped = hand_trained()
    torch.testing.assert_close(weights, MMCV_WEIGHTS)
    assert clipped == 6  # clipping matters in this run


def test_a_epoch_based_runner_with_mmcv_configs(tmp_path: Path) -> None:
    runner = mmcv_runner(tmp_path, max_epochs=EPOCHS)
    recorder = LrRecorder()
    runner.register_hook(recorder)
    runner.register_training_hooks(
        lr_config=LR_CONFIG, optimizer_config=OPTIMIZER_CONFIG,
        checkpoint_config=dict(interval=1),
    )  # fmt: skip
    runner.run([data()], [("train", 1)])
    assert recorder.lrs == pytest.approx(MMCV_LRS, rel=1e-12)
    torch.testing.assert_close(state(runner.model), MMCV_WEIGHTS)
    assert sorted(p.name for p in Path(tmp_path).glob("epoch_*.pth")) == [
        "epoch_1.pth", "epoch_2.pth", "epoch_3.pth"]  # fmt: skip


def engine_runner(tmp_path: Path) -> tuple[Runner, LrRecorder]:
    """(b): the migrated config, per docs/migration.md's MMCV section."""
    torch.manual_seed(0)
    model = EngineNet()
    recorder = LrRecorder()
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        train_dataloader=dict(dataset=Points(16, seed=1), batch_size=4,
                              sampler=dict(type="DefaultSampler", shuffle=False),
                              collate_fn=dict(type="default_collate")),
        train_cfg=dict(by_epoch=True, max_epochs=EPOCHS),
        optim_wrapper=dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.1),
                           clip_grad=dict(max_norm=1.0)),
        param_scheduler=[
            # warmup_iters=3 is end=4: LinearLR reaches its end factor at step end - 1, while
            # MMCV's warm-up ends where the regular lr starts, at iteration 3 (with end=3 the
            # lrs of iterations 1 and 2 are 0.055 and 0.1 instead of MMCV's 0.04 and 0.07).
            dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=4),
            dict(type="MultiStepLR", milestones=[2], by_epoch=True),
        ],
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=1)),
        custom_hooks=[recorder],
        log_level="WARNING",
    )  # fmt: skip
    return runner, recorder


def test_b_runner_with_the_migrated_configs(tmp_path: Path) -> None:
    runner, recorder = engine_runner(tmp_path)
    runner.train()
    assert recorder.lrs == pytest.approx(MMCV_LRS, rel=1e-12)
    torch.testing.assert_close(state(runner.model), MMCV_WEIGHTS)


def test_c_runner_from_cfg_of_the_mmcv_config_keys(tmp_path: Path) -> None:
    recorder = LrRecorder()
    cfg = engine_cfg(
        tmp_path, max_epochs=EPOCHS, lr_config=LR_CONFIG, optimizer_config=OPTIMIZER_CONFIG,
        checkpoint_config=dict(interval=1), custom_hooks=[recorder],
        train_dataloader=dict(dataset=Points(16, seed=1), batch_size=4,
                              sampler=dict(type="DefaultSampler", shuffle=False),
                              collate_fn=dict(type="default_collate")),
    )  # fmt: skip
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert recorder.lrs == pytest.approx(MMCV_LRS, rel=1e-12)
    torch.testing.assert_close(state(runner.model), MMCV_WEIGHTS)
    assert sorted(p.name for p in Path(tmp_path).glob("epoch_*.pth")) == [
        "epoch_1.pth", "epoch_2.pth", "epoch_3.pth"]  # fmt: skip
