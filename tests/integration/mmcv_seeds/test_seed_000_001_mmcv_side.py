"""Seeds 000 and 001 (migrating MMCV hooks to MMEngine): their MMCV 1.x blocks, run as written.

"用法差异 - MMCV" / "Usage Comparison - MMCV" (001 gives the model and optimizer
that 000 leaves as ``xxx``), and the MMCV ``CheckpointHook`` outline of
"实现差异" / "Implementation Comparison".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from parts import LrRecorder, MMCVNet, WeightRecorder, loader, mmcv_runner

from hooks_core import HOOKS, EpochBasedRunner, Hook


@HOOKS.register_module()
class NumClassCheckHook(Hook):
    """mmdet's hook (``mmdet.datasets.utils``): the dataset's classes match the model's head."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    def _check_head(self, runner: Any) -> None:
        classes = runner.data_loader.dataset.label.unique().numel()
        assert runner.model.net.fc.out_features == classes, "num_classes mismatch"
        self.checked.append(runner.mode)

    def before_train_epoch(self, runner):  # type: ignore[no-untyped-def, override]
        self._check_head(runner)

    def before_val_epoch(self, runner):  # type: ignore[no-untyped-def, override]
        self._check_head(runner)


def trainloader() -> Any:
    from parts import Points

    return loader(Points(8, seed=1))


@pytest.mark.parametrize("seed", ["000", "001"])
def test_usage_comparison_mmcv(tmp_path: Path, seed: str) -> None:
    torch.manual_seed(0)
    model = MMCVNet()  # ResNet18()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    lr_config = dict(policy="step", step=[2, 3])
    optimizer_config = dict(grad_clip=None)
    checkpoint_config = dict(interval=5)
    log_config = dict(interval=100, hooks=[dict(type="TextLoggerHook")])
    custom_hooks = [dict(type="NumClassCheckHook")]
    runner = EpochBasedRunner(
        model=model,
        optimizer=optimizer,
        work_dir=str(tmp_path / 'work_dir'),
        max_epochs=3,
    )  # fmt: skip
    lrs, after = LrRecorder(), WeightRecorder()
    runner.register_hook(lrs)
    runner.register_hook(after, priority="LOWEST")
    if seed == "000":
        runner.register_training_hooks(
            lr_config=lr_config,
            optimizer_config=optimizer_config,
            checkpoint_config=checkpoint_config,
            log_config=log_config,
        )
        runner.register_custom_hooks(custom_config=custom_hooks)
    else:
        runner.register_training_hooks(
            lr_config=lr_config,
            optimizer_config=optimizer_config,
            checkpoint_config=checkpoint_config,
            log_config=log_config,
            custom_hooks_config=custom_hooks,
        )
    runner.run([trainloader()], [('train', 1)])  # fmt: skip

    assert lrs.lrs == pytest.approx([0.001] * 4 + [0.0001] * 2, rel=1e-12)  # epoch 2: x0.1
    assert len({str(w["fc.weight"].tolist()) for w in after.weights}) == 6  # every step moved
    check = next(h for h in runner.hooks if isinstance(h, NumClassCheckHook))
    assert check.checked == ["train"] * 3
    # interval 5 is past the end: MMCV's save_last keeps the last epoch only
    assert sorted(p.name for p in Path(runner.work_dir).glob("*.pth")) == [
        "epoch_3.pth", "latest.pth"]  # fmt: skip


def test_implementation_comparison_mmcv_checkpoint_hook_outline(tmp_path: Path) -> None:
    class CheckpointHook(Hook):
        def before_run(self, runner):  # type: ignore[no-untyped-def, override]
            """初始化 out_dir 和 file_client 属性"""

        def after_train_epoch(self, runner):  # type: ignore[no-untyped-def, override]
            """同步 buffer 和保存权重, 用于以 epoch 为单位训练的任务"""

        def after_train_iter(self, runner):  # type: ignore[no-untyped-def, override]
            """同步 buffer 和保存权重, 用于以 iteration 为单位训练的任务"""

    calls: list[tuple[str, int]] = []

    class Counted(CheckpointHook):  # the outline's points, observed
        def before_run(self, runner):  # type: ignore[no-untyped-def, override]
            super().before_run(runner)
            calls.append(("before_run", runner.iter))

        def after_train_epoch(self, runner):  # type: ignore[no-untyped-def, override]
            super().after_train_epoch(runner)
            calls.append(("after_train_epoch", runner.iter))

        def after_train_iter(self, runner):  # type: ignore[no-untyped-def, override]
            super().after_train_iter(runner)
            calls.append(("after_train_iter", runner.iter))

    runner = mmcv_runner(tmp_path, max_epochs=1, steps_itself=True)
    runner.register_hook(CheckpointHook())  # MMCV's runner-only methods are accepted
    runner.register_hook(Counted())
    runner.run([trainloader()], [("train", 1)])
    assert calls == [("before_run", 0), ("after_train_iter", 0), ("after_train_iter", 1),
                     ("after_train_epoch", 2)]  # fmt: skip
    info = runner.get_hook_info()
    for point in ("before_run", "after_train_epoch", "after_train_iter"):
        assert point in info
