"""Seed 003 (MMCV's hook tutorial): every code block, with ``mmcv.runner`` imports changed.

Each test names the block's heading, runs the block with ``EpochBasedRunner(...)``
filled in by `parts.mmcv_runner` (a tiny real model, SGD, a temporary work dir)
and ``val_dataloader = ...`` by a real DataLoader over `parts.Points`, and
checks what the block is for against MMCV 1.7's behaviour.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from parts import (
    LrRecorder,
    MMCVNet,
    Points,
    WeightRecorder,
    cosine,
    loader,
    mmcv_runner,
    state,
    train_loader,
)
from run_logs import json_records
from tensorboard.backend.event_processing import event_accumulator as ea
from torch import nn

from hooks_core import HOOKS, Config, Hook, IterBasedRunner


def run_train(runner: Any, data: Any = None, workflow: Any = None) -> Any:
    runner.run([train_loader() if data is None else data], workflow or [("train", 1)])
    return runner


def files(folder: Path | str) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir() if p.name.endswith(".pth"))


class Messages(logging.Handler):
    """Keeps the messages logged to the runner's logger."""

    def __init__(self, runner: Any) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        runner.logger.addHandler(self)
        runner.logger.setLevel(logging.DEBUG)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# ------------------------------------------------------------ 钩子是什么: the ten points
class Points10(Hook):
    """Records MMCV's ten points and the generic ones, taking only the runner (MMCV style)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def before_run(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append("before_run")

    def after_run(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append("after_run")

    def before_train_epoch(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append("before_train_epoch")

    def after_train_epoch(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append("after_train_epoch")

    def before_train_iter(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append("before_train_iter")

    def after_train_iter(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append("after_train_iter")

    def before_val_epoch(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append("before_val_epoch")

    def after_val_epoch(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append("after_val_epoch")

    def before_val_iter(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append("before_val_iter")

    def after_val_iter(self, runner):  # type: ignore[no-untyped-def, override]
        self.calls.append("after_val_iter")


class GenericPoints(Hook):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def before_epoch(self, runner: Any) -> None:
        self.calls.append("before_epoch")

    def after_epoch(self, runner: Any) -> None:
        self.calls.append("after_epoch")


def test_runner_flow_block_epoch_based_calls_the_ten_points_in_the_documented_order(
    tmp_path: Path,
) -> None:
    runner = mmcv_runner(tmp_path, max_epochs=1, steps_itself=True)
    hook = Points10()
    runner.register_hook(hook)
    runner.run([train_loader(), loader(Points(8))], [("train", 1), ("val", 1)])
    train = ["before_train_iter", "after_train_iter"] * 2
    val = ["before_val_iter", "after_val_iter"] * 2
    assert hook.calls == [
        "before_run",
        "before_train_epoch", *train, "after_train_epoch",
        "before_val_epoch", *val, "after_val_epoch",
        "after_run",
    ]  # fmt: skip


def test_runner_flow_block_iter_based_calls_before_epoch_once(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MMCVNet(steps_itself=True)
    runner = IterBasedRunner(
        model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        work_dir=str(tmp_path), max_iters=3,
    )  # fmt: skip
    ten, generic = Points10(), GenericPoints()
    runner.register_hook(ten)
    runner.register_hook(generic)
    runner.run([train_loader(), loader(Points(8))], [("train", 1), ("val", 1)])
    step = ["before_train_iter", "after_train_iter", "before_val_iter", "after_val_iter"]
    assert ten.calls == ["before_run", *step * 3, "after_run"]  # no *_train_epoch, as in MMCV
    assert generic.calls == ["before_epoch", "after_epoch"]


# ------------------------------------------------------------ EvalHook
def evaluated(tmp_path: Path, max_epochs: int, hook_kwargs: dict[str, Any], **points: Any) -> Any:
    """Run the EvalHook block: ``runner.register_hook(EvalHook(val_dataloader, ...))``."""
    from hooks_eval import EvalHook  # from mmcv.runner.hooks import EvalHook

    dataset = Points(8, seed=2, **points)
    val_dataloader = loader(dataset)
    runner = mmcv_runner(tmp_path, max_epochs=max_epochs, steps_itself=True)
    dataset.clock = lambda: runner.iter
    runner.register_hook(EvalHook(val_dataloader, **hook_kwargs))
    run_train(runner)
    return runner, dataset


def test_eval_hook_simplest_use_evaluates_after_every_epoch(tmp_path: Path) -> None:
    runner, dataset = evaluated(tmp_path, 3, {})
    assert [call["at"] for call in dataset.calls] == [2, 4, 6]  # after each 2-iteration epoch
    model = runner.model
    expected = float((model.net(dataset.img).argmax(1) == dataset.label).float().mean())
    assert dataset.calls[-1]["acc"] == expected
    assert runner.message_hub.get_scalar("val/acc").current() == expected


def test_eval_hook_every_5_epochs(tmp_path: Path) -> None:
    _, dataset = evaluated(tmp_path, 10, dict(interval=5))
    assert [call["at"] for call in dataset.calls] == [10, 20]  # after epochs 5 and 10


def test_eval_hook_start_5_evaluates_a_resumed_run_before_training(tmp_path: Path) -> None:
    from hooks_eval import EvalHook  # from mmcv.runner.hooks import EvalHook

    first = mmcv_runner(tmp_path / "first", max_epochs=5, steps_itself=True)
    first.register_checkpoint_hook(dict(interval=5))
    run_train(first)
    checkpoint = str(tmp_path / "first" / "epoch_5.pth")
    # 假设从第 5 个 epoch 恢复训练, 将 start 设置小于等于 5 即可.
    dataset = Points(8, seed=2)
    val_dataloader = loader(dataset)
    runner = mmcv_runner(tmp_path / "resumed", max_epochs=7, steps_itself=True)
    runner.resume(checkpoint)
    dataset.clock = lambda: runner.iter
    runner.register_hook(EvalHook(val_dataloader, start=5))
    run_train(runner)
    # once before training (epoch 5's weights), then after epochs 6 and 7
    assert [call["at"] for call in dataset.calls] == [10, 12, 14]
    weights = first.model.net(dataset.img).argmax(1)
    assert dataset.calls[0]["acc"] == float((weights == dataset.label).float().mean())


def test_eval_hook_save_best_acc_keeps_best_acc_epoch_n(tmp_path: Path) -> None:
    scores = [0.25, 0.75, 0.5, 0.75, 0.625]  # the best is epoch 2: a tie does not replace it
    runner, dataset = evaluated(tmp_path, 5, dict(save_best="acc"), scores=scores)
    assert len(dataset.calls) == 5
    best = [name for name in files(runner.work_dir) if name.startswith("best_")]
    assert best == ["best_acc_epoch_2.pth"]
    assert runner.meta["hook_msgs"]["best_score"] == 0.75  # where MMCV keeps it
    assert runner.meta["hook_msgs"]["best_ckpt"].endswith("best_acc_epoch_2.pth")


def test_eval_hook_save_best_auto_uses_the_first_metric(tmp_path: Path) -> None:
    scores = [0.5, 0.25, 0.875]
    runner, _ = evaluated(tmp_path, 3, dict(save_best="auto"), scores=scores)
    assert [n for n in files(runner.work_dir) if n.startswith("best_")] == ["best_acc_epoch_3.pth"]
    saved = torch.load(Path(runner.work_dir) / "best_acc_epoch_3.pth", weights_only=False)
    torch.testing.assert_close(
        {k.removeprefix("net."): v for k, v in saved["state_dict"].items()}, state(runner.model)
    )  # epoch 3 is the last: the best file holds the final weights


# ------------------------------------------------------------ CheckPointHook
def checkpointed(tmp_path: Path, checkpoint_config: dict[str, Any], epochs: int, **kw: Any) -> Any:
    runner = mmcv_runner(tmp_path / "work", max_epochs=epochs, steps_itself=True, **kw)
    runner.register_checkpoint_hook(checkpoint_config)
    return run_train(runner, train_loader(4))  # one iteration per epoch


def test_checkpoint_hook_simplest_use_saves_every_5_epochs(tmp_path: Path) -> None:
    checkpoint_config = {
        "interval": 5,  # 每训练 5 个 epoch 保存一次 checkpoint
    }
    runner = checkpointed(tmp_path, checkpoint_config, 12)
    # every 5 epochs, and the last one (MMCV's save_last=True)
    assert files(runner.work_dir) == ["epoch_10.pth", "epoch_12.pth", "epoch_5.pth", "latest.pth"]
    saved = torch.load(Path(runner.work_dir) / "epoch_10.pth", weights_only=False)
    assert (saved["meta"]["epoch"], saved["meta"]["iter"]) == (10, 10)
    assert "optimizer" in saved
    assert Path(runner.work_dir, "latest.pth").resolve().name == "epoch_12.pth"


def test_checkpoint_hook_keeps_the_latest_5(tmp_path: Path) -> None:
    checkpoint_config = {
        "interval": 5,  # 每训练 5 个 epoch 保存一次 checkpoint
        "max_keep_ckpts": 5,  # 只保留最新的 5 个 checkpoint
    }
    runner = checkpointed(tmp_path, checkpoint_config, 30)
    assert files(runner.work_dir) == [
        "epoch_10.pth", "epoch_15.pth", "epoch_20.pth", "epoch_25.pth", "epoch_30.pth",
        "latest.pth",
    ]  # fmt: skip


def test_checkpoint_hook_out_dir(tmp_path: Path) -> None:
    expected_directory = tmp_path / "expected_directory"
    checkpoint_config = {
        "interval": 5,  # 每训练 5 个 epoch 保存一次 checkpoint
        "out_dir": str(expected_directory),  # 保存至 /path/of/expected_directory
    }
    runner = checkpointed(tmp_path, checkpoint_config, 5)
    # MMCV saves to out_dir/<work dir name>, and not in the work dir
    assert files(expected_directory / "work") == ["epoch_5.pth", "latest.pth"]
    assert files(runner.work_dir) == []


class BatchNormNet(MMCVNet):
    """`MMCVNet` with a BatchNorm in front, so the model has buffers to synchronise."""

    def __init__(self) -> None:
        super().__init__(steps_itself=True)
        self.norm = nn.BatchNorm1d(2)

    def forward(self, img: Any, label: Any = None, index: Any = None, return_loss: bool = True):  # type: ignore[no-untyped-def, override]
        return super().forward(self.norm(img), label, index, return_loss)


def test_checkpoint_hook_sync_buffer_saves_the_buffers(tmp_path: Path) -> None:
    checkpoint_config = {
        "interval": 5,  # 每训练 5 个 epoch 保存一次 checkpoint
        "sync_buffer": True,  # 同步 buffer
    }
    torch.manual_seed(0)
    runner = checkpointed(tmp_path, checkpoint_config, 5, model=BatchNormNet())
    saved = torch.load(Path(runner.work_dir) / "epoch_5.pth", weights_only=False)["state_dict"]
    # one process: nothing to average, the running statistics are saved as they are
    assert int(saved["norm.num_batches_tracked"]) == 5
    torch.testing.assert_close(saved["norm.running_mean"], runner.model.norm.running_mean)


# ------------------------------------------------------------ OptimizerHook
class Stepped:
    """Records, around an MMCV optimizer hook, the weights before and after each step."""

    def __init__(self, runner: Any) -> None:
        self.before, self.after = WeightRecorder(), WeightRecorder()
        self.batches: list[Any] = []
        runner.register_hook(self.before, priority="HIGHEST")
        runner.register_hook(self.after, priority="LOWEST")
        runner.register_hook(_Batches(self.batches), priority="HIGHEST")


class _Batches(Hook):
    def __init__(self, batches: list[Any]) -> None:
        self.batches = batches

    def after_train_iter(self, runner: Any) -> None:
        self.batches.append(runner.data_batch)


def hand_step(weights: dict[str, torch.Tensor], batch: Any, lr: float, clip: Any = None) -> Any:
    """One SGD step of `Net` from `weights` on `batch`, clipped as ``clip_grad_norm_(**clip)``."""
    model = MMCVNet()
    model.net.load_state_dict(weights)
    model(**batch).backward()
    norm = None
    if clip is not None:
        norm = float(nn.utils.clip_grad_norm_(model.parameters(), **clip))
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    return state(model), norm


def optimized(tmp_path: Path, optimizer_config: dict[str, Any], epochs: int = 2) -> Any:
    runner = mmcv_runner(tmp_path, max_epochs=epochs)
    runner.register_optimizer_hook(optimizer_config)
    stepped = Stepped(runner)
    run_train(runner)
    return runner, stepped


def test_optimizer_hook_simplest_use_backward_and_step(tmp_path: Path) -> None:
    optimizer_config = dict(grad_clip=None)
    runner, stepped = optimized(tmp_path, optimizer_config)
    assert len(stepped.after.weights) == 4
    for before, after, batch in zip(stepped.before.weights, stepped.after.weights,
                                    stepped.batches, strict=True):  # fmt: skip
        torch.testing.assert_close(after, hand_step(before, batch, 0.1)[0])
    assert "grad_norm" not in runner.log_buffer.val_history


@pytest.mark.parametrize("max_norm", [35, 0.05])
def test_optimizer_hook_grad_clip(tmp_path: Path, max_norm: float) -> None:
    optimizer_config = dict(grad_clip=dict(max_norm=max_norm, norm_type=2))  # the seed: 35
    runner, stepped = optimized(tmp_path, optimizer_config)
    norms = []
    for before, after, batch in zip(stepped.before.weights, stepped.after.weights,
                                    stepped.batches, strict=True):  # fmt: skip
        expected, norm = hand_step(before, batch, 0.1, dict(max_norm=max_norm, norm_type=2))
        torch.testing.assert_close(after, expected)
        norms.append(norm)
    # MMCV logs the norm before clipping; 35 never clips here, 0.05 always does
    assert runner.log_buffer.val_history["grad_norm"] == pytest.approx(norms)
    assert all((norm > max_norm) == (max_norm < 1) for norm in norms)


class WithUnused(MMCVNet):
    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Linear(2, 2)


def test_optimizer_hook_detect_anomalous_params_logs_the_unused_ones(tmp_path: Path) -> None:
    optimizer_config = dict(grad_clip=None, detect_anomalous_params=True)
    runner = mmcv_runner(tmp_path, max_epochs=1, model=WithUnused())
    messages = Messages(runner)
    runner.register_optimizer_hook(optimizer_config)
    run_train(runner)
    errors = [r.getMessage() for r in messages.records if r.levelno == logging.ERROR]
    assert len(errors) == 4  # each of the two iterations: unused.weight and unused.bias
    assert all(m.startswith(("unused.weight", "unused.bias")) for m in errors)
    assert "is not in the computational graph" in errors[0]


def test_gradient_cumulative_optimizer_hook_steps_every_4_iterations(tmp_path: Path) -> None:
    optimizer_config = dict(type="GradientCumulativeOptimizerHook", cumulative_iters=4)
    _, stepped = optimized(tmp_path, optimizer_config, epochs=4)  # 8 iterations
    after = stepped.after.weights
    start = stepped.before.weights[0]
    for i in range(3):
        torch.testing.assert_close(after[i], start)  # no step yet
    # the step at iteration 4: the mean gradient of the 4 batches, from the start weights
    model = MMCVNet()
    model.net.load_state_dict(start)
    for batch in stepped.batches[:4]:
        (model(**batch) / 4).backward()
    grads = [p.grad for p in model.net.parameters()]
    expected = {k: v - 0.1 * g for (k, v), g in zip(start.items(), grads, strict=True)}
    torch.testing.assert_close(after[3], expected)
    for i in range(4, 7):
        torch.testing.assert_close(after[i], after[3])
    assert not torch.equal(after[7]["fc.weight"], after[3]["fc.weight"])


def test_optimizer_hook_and_gradient_cumulative_hook_together_are_an_error(tmp_path: Path) -> None:
    # 切记不能同时使用 OptimizerHook 和 GradientCumulativeOptimizerHook
    runner = mmcv_runner(tmp_path, max_epochs=1)
    runner.register_optimizer_hook(dict(grad_clip=None))
    runner.register_hook(dict(type="GradientCumulativeOptimizerHook", cumulative_iters=4))
    with pytest.raises((RuntimeError, ValueError), match=r"GradientCumulativeOptimizerHook|second"):
        run_train(runner)
    assert runner.iter == 0  # stopped at the first iteration (or before it)


# ------------------------------------------------------------ 混合精度训练
def test_mixed_precision_blocks_fp16_optimizer_hook_auto_fp16_force_fp32(tmp_path: Path) -> None:
    from hooks_optim import Fp16OptimizerHook, auto_fp16, force_fp32

    seen: dict[str, list[torch.dtype]] = {"forward": [], "loss": []}

    # 1 作用到 forward 函数中 / 5 可选
    class ExampleModule(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.fp16_enabled = False

        @auto_fp16()
        def forward(self, img, label, index=None):  # type: ignore[no-untyped-def]
            seen["forward"].append(img.dtype)
            features = self._forward(img)
            return self._loss(features, label)

        def _forward(self, img):  # type: ignore[no-untyped-def]
            return self.fc(img)

        @force_fp32(apply_to=("features",))
        def _loss(self, features, labels):  # type: ignore[no-untyped-def]
            seen["loss"].append(features.dtype)
            return nn.functional.cross_entropy(features, labels)

        def train_step(self, data_batch, optimizer):  # type: ignore[no-untyped-def]
            loss = self(**data_batch)
            return {"loss": loss, "log_vars": {"loss": loss.item()}, "num_samples": 4}

    torch.manual_seed(0)
    model = ExampleModule()
    model(**next(iter(train_loader())))
    assert seen == {"forward": [torch.float32], "loss": [torch.float32]}  # fp16 not enabled

    # 2 如果开启 AMP, 则需要加入开启标志
    model.fp16_enabled = True
    runner = mmcv_runner(tmp_path, max_epochs=2, model=model)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = Config(dict(
        optimizer_config=dict(grad_clip=None), fp16=dict(loss_scale=512.0), lr_config=None,
        checkpoint_config=dict(interval=1), log_config=dict(interval=1, hooks=[]),
    ))  # fmt: skip
    fp16_cfg, distributed = cfg.fp16, False
    # 3 配置 Fp16OptimizerHook
    optimizer_config = Fp16OptimizerHook(
        **cfg.optimizer_config, **fp16_cfg, distributed=distributed
    )
    # 4 传递给 runner
    runner.register_training_hooks(cfg.lr_config, optimizer_config,
                                   cfg.checkpoint_config, cfg.log_config,
                                   cfg.get('momentum_config', None))  # fmt: skip
    run_train(runner)

    half = {torch.float16, torch.bfloat16}  # bfloat16 where the CPU has no float16 autocast
    assert len(seen["forward"]) == 5 and set(seen["forward"][1:]) <= half
    assert seen["loss"][1:] == [torch.float32] * 4  # force_fp32
    assert model.fc.weight.dtype == torch.float32  # the fp32 master weights
    assert not torch.equal(model.fc.weight, initial["fc.weight"])
    saved = torch.load(Path(runner.work_dir) / "epoch_2.pth", weights_only=False)
    # bfloat16 needs no loss scale, so there is no scaler to keep (on CUDA, float16's is in
    # meta['fp16']['loss_scaler'], as in MMCV: tests/optim/test_mmcv_optimizer_hooks.py).
    assert "fp16" not in saved["meta"]


# ------------------------------------------------------------ EMAHook
def mmcv_ema(
    start: dict[str, torch.Tensor],
    trained: list[dict[str, torch.Tensor]],
    momentum: float = 0.0002,
    interval: int = 1,
    warm_up: int = 100,
    first_iter: int = 0,
) -> dict[str, torch.Tensor]:
    """MMCV 1.7's EMA of the weights after each iteration (``ema.py``'s formula)."""
    ema = {k: v.clone() for k, v in start.items()}
    momentum = momentum**interval  # as MMCV stores it
    for step, weights in enumerate(trained, start=first_iter):
        m = min(momentum, (1 + step) / (warm_up + step))
        if step % interval == 0:
            ema = {k: (1 - m) * ema[k] + m * weights[k] for k in ema}
    return ema


class EvalSees(Hook):
    """The weights an evaluation (or checkpoint) after each epoch sees."""

    priority = "LOWEST"

    def __init__(self) -> None:
        self.weights: list[dict[str, torch.Tensor]] = []

    def after_train_epoch(self, runner: Any) -> None:
        self.weights.append(state(runner.model))


def ema_run(tmp_path: Path, ema_config: dict[str, Any], epochs: int = 3, **kw: Any) -> Any:
    runner = mmcv_runner(tmp_path, max_epochs=epochs, steps_itself=True)
    start = state(runner.model)
    trained, sees = WeightRecorder(), EvalSees()
    runner.register_hook(trained, priority="HIGHEST")
    runner.register_hook(ema_config, priority="NORMAL")
    runner.register_hook(sees)
    run_train(runner, **kw)
    return runner, start, trained.weights, sees.weights


@pytest.mark.parametrize(
    "ema_config",
    [
        dict(type="EMAHook"),
        dict(type="EMAHook", interval=4),
        dict(type="EMAHook", interval=4, momentum=0.5, warm_up=1),
    ],
    ids=["simplest", "interval_4", "interval_4_visible"],
)
def test_ema_hook_evaluation_sees_mmcvs_average(tmp_path: Path, ema_config: Any) -> None:
    _, start, trained, sees = ema_run(tmp_path, ema_config)
    options = {k: v for k, v in ema_config.items() if k != "type"}
    for epoch, seen in enumerate(sees, start=1):
        expected = mmcv_ema(start, trained[: 2 * epoch], **options)
        torch.testing.assert_close(seen, expected, rtol=0, atol=1e-7)


def test_ema_hook_resume_from_continues_the_average(tmp_path: Path) -> None:
    whole = mmcv_runner(tmp_path / "whole", max_epochs=4, steps_itself=True)
    sees = EvalSees()
    whole.register_hook(dict(type="EMAHook"), priority="NORMAL")
    whole.register_checkpoint_hook(dict(interval=1))
    whole.register_hook(sees)
    run_train(whole)

    checkpoint = str(Path(whole.work_dir) / "epoch_2.pth")
    ema_config = dict(type="EMAHook", resume_from=checkpoint)
    runner = mmcv_runner(tmp_path / "resumed", max_epochs=4, steps_itself=True)
    resumed = EvalSees()
    runner.register_hook(ema_config, priority="NORMAL")
    runner.register_hook(resumed)
    run_train(runner)
    assert runner.iter == 8 and len(resumed.weights) == 2  # epochs 3 and 4
    for mine, uninterrupted in zip(resumed.weights, sees.weights[2:], strict=True):
        torch.testing.assert_close(mine, uninterrupted, rtol=0, atol=1e-7)


# ------------------------------------------------------------ LrUpdaterHook
def lr_trajectory(tmp_path: Path, lr_config: dict[str, Any], epochs: int) -> list[float]:
    runner = mmcv_runner(tmp_path, max_epochs=epochs, steps_itself=True)
    recorder = LrRecorder()
    runner.register_hook(recorder)
    runner.register_lr_hook(lr_config)
    run_train(runner)
    return recorder.lrs


def test_lr_updater_step_16_19(tmp_path: Path) -> None:
    lr_config = dict(
        policy='step',  # 对应 StepLrUpdaterHook
        step=[16, 19])  # fmt: skip
    lrs = lr_trajectory(tmp_path, lr_config, 20)

    def mmcv_step(epoch: int) -> float:  # StepLrUpdaterHook.get_lr: gamma ** (steps passed)
        return 0.1 * 0.1 ** sum(epoch >= s for s in (16, 19))

    assert lrs == pytest.approx([mmcv_step(i // 2) for i in range(40)], rel=1e-12)
    assert lrs[31:34] == pytest.approx([0.1, 0.01, 0.01])


def test_lr_updater_cosine_annealing_min_lr(tmp_path: Path) -> None:
    lr_config = dict(
        policy='CosineAnnealing',  # 对应 CosineAnnealingLrUpdaterHook
        min_lr=0.01,
        )  # fmt: skip
    lrs = lr_trajectory(tmp_path, lr_config, 5)
    expected = [cosine(0.1, 0.01, (i // 2) / 5) for i in range(10)]  # by epoch, of 5
    assert lrs == pytest.approx(expected, rel=1e-12)
    assert math.isclose(lrs[-1], 0.01 + 0.045 * (math.cos(math.pi * 0.8) + 1))


# ------------------------------------------------------------ LoggerHook
def logged(tmp_path: Path, log_config: dict[str, Any], size: int = 250) -> Any:
    runner = mmcv_runner(tmp_path / "work", max_epochs=1, steps_itself=True)
    runner.register_logger_hooks(log_config)
    run_train(runner, loader(Points(size, seed=1), batch_size=1))
    return runner


def test_text_logger_hook_every_100_iterations(tmp_path: Path) -> None:
    log_config = {
        'interval': 100,
        'hooks': [
            {
                'type': 'TextLoggerHook',
            },
         ]
    }  # fmt: skip
    runner = logged(tmp_path, log_config)
    assert [r["step"] for r in json_records(runner) if "loss" in r] == [100, 200]
    text = (Path(runner.log_dir) / f"{runner.timestamp}.log").read_text()
    assert "Epoch(train) [1][100/250]" in text and "Epoch(train) [1][200/250]" in text
    assert "[1][150/250]" not in text and "[1][250/250]" not in text  # MMCV's ignore_last


def test_text_logger_hook_copies_the_logs_to_out_dir(tmp_path: Path) -> None:
    expected_directory = tmp_path / "expected_directory"
    log_config = {
        'hooks': [
            {
                'type': 'TextLoggerHook',
                'out_dir': str(expected_directory),
                'out_suffix': ('.log.json', '.log'),  # 可以指定拷贝的文件后缀
            },
         ]
    }  # fmt: skip
    runner = logged(tmp_path, log_config, size=20)
    copied = sorted(p.name for p in (expected_directory / "work").rglob("*") if p.is_file())
    stamp = runner.timestamp
    assert copied == [f"{stamp}.json", f"{stamp}.log", "scalars.json"]
    original = (Path(runner.log_dir) / f"{stamp}.log").read_text()
    assert (expected_directory / "work" / stamp / f"{stamp}.log").read_text() in original


def test_tensorboard_logger_hook_every_100_iterations_read_back(tmp_path: Path) -> None:
    log_config = {
        'interval': 100,
        'hooks': [
            {
                'type': 'TensorboardLoggerHook',
            },
         ]
    }  # fmt: skip
    runner = logged(tmp_path, log_config)
    events = ea.EventAccumulator(str(Path(runner.work_dir) / "tf_logs"),
                                 size_guidance={ea.SCALARS: 0})  # fmt: skip
    events.Reload()
    # MMEngine's tags (MMCV 1.7 wrote train/loss and learning_rate)
    assert [e.step for e in events.Scalars("loss")] == [100, 200]
    assert [e.value for e in events.Scalars("lr")] == pytest.approx([0.1, 0.1])


# ------------------------------------------------------------ 实现自己的钩子
# https://github.com/open-mmlab/mmdetection/blob/master/mmdet/core/hook/checkloss_hook.py
@HOOKS.register_module()
class CheckInvalidLossHook(Hook):
    """Check invalid loss hook.

    This hook will regularly check whether the loss is valid
    during training.

    Args:
        interval (int): Checking interval (every k iterations).
            Default: 50.
    """

    def __init__(self, interval=50):  # type: ignore[no-untyped-def]
        self.interval = interval

    def after_train_iter(self, runner):  # type: ignore[no-untyped-def, override]
        if self.every_n_iters(runner, self.interval):
            assert torch.isfinite(runner.outputs["loss"]), runner.logger.info(
                "loss become infinite or NaN!"
            )


def test_check_invalid_loss_hook_fires_at_the_first_checked_nan(tmp_path: Path) -> None:
    dataset = Points(16, seed=1)
    dataset.img[9] = float("nan")  # in the third batch (iteration 2)
    runner = mmcv_runner(tmp_path, max_epochs=1, steps_itself=True)
    messages = Messages(runner)
    runner.register_hook(dict(type="CheckInvalidLossHook", interval=2))
    with pytest.raises(AssertionError):
        run_train(runner, loader(dataset))
    assert runner.iter == 3  # iteration 2 is not checked (interval 2); NaN weights by 3
    assert "loss become infinite or NaN!" in [r.getMessage() for r in messages.records]
