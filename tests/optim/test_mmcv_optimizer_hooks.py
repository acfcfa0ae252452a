"""MMCV 1.x's optimizer hooks against a plain torch loop, on a stand-in and on the MMCV runners.

Each hook is driven iteration by iteration as MMCV's runner drives it (the
loss in ``runner.outputs``, then ``after_train_iter``), and the parameters are
compared with a loop doing zero_grad/backward/clip_grad_norm_/step by hand;
the numbers of `test_the_numbers_are_mmcvs` were measured with MMCV 1.7.2's
own hooks on the same data (``/tmp/h14ema/compare.py``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
import torch
from stand_in import StandInRunner
from torch import nn

import hooks_optim._mmcv_optimizer_hooks as optimizer_hooks
from hooks_core import EpochBasedRunner, IterBasedRunner, LogBuffer
from hooks_optim._fp16_utils import auto_fp16
from hooks_optim._mmcv_optimizer_hooks import (
    Fp16OptimizerHook,
    GradientCumulativeFp16OptimizerHook,
    GradientCumulativeOptimizerHook,
    OptimizerHook,
)

if TYPE_CHECKING:
    from pathlib import Path

BATCHES = 7


def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [
        (torch.randn(4, 3, generator=generator), torch.randn(4, 1, generator=generator))
        for _ in range(BATCHES)
    ]


def linear() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(3, 1)


def sgd(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def loss_of(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def stand_in(tmp_path: Path, model: nn.Module, iters: int, **attributes: Any) -> StandInRunner:
    return StandInRunner(
        tmp_path,
        max_iters=iters,
        model=model,
        optimizer=sgd(model),
        **{"log_buffer": LogBuffer(), "outputs": {}, "meta": {}, **attributes},
    )


def drive(hook: Any, runner: StandInRunner, iters: int, start: int = 0) -> list[torch.Tensor]:
    """MMCV's runner, by hand: the loss in ``outputs``, then the hook; the weights after each."""
    runner.register_hook(hook)
    hook.before_run(runner)
    data, weights = batches(), []
    for index in range(start, iters):
        runner.iter = index
        runner.outputs = {"loss": loss_of(runner.model, data[index]), "num_samples": 4}
        hook.after_train_iter(runner)
        weights.append(next(runner.model.parameters()).detach().clone())
    return weights


def by_hand(iters: int, every: int = 1, max_norm: float | None = None) -> tuple[Any, list[float]]:
    """The plain torch loop: divide, backward, and every `every` (and at the end) clip and step."""
    model = linear()
    optimizer = sgd(model)
    remainder = iters % every
    norms, weights = [], []
    for index, batch in enumerate(batches()[:iters]):
        in_last_group = remainder and index >= iters - remainder
        (loss_of(model, batch) / (remainder if in_last_group else every)).backward()
        if (index + 1) % every == 0 or index + 1 == iters:
            if max_norm is not None:
                norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
            optimizer.step()
            optimizer.zero_grad()
        weights.append(model.weight.detach().clone())
    return weights, norms


# ------------------------------------------------------------ OptimizerHook
def test_optimizer_hook_equals_the_plain_loop_and_logs_the_norm_before_clipping(
    tmp_path: Path,
) -> None:
    runner = stand_in(tmp_path, linear(), 6)
    weights = drive(OptimizerHook(grad_clip=dict(max_norm=0.1)), runner, 6)
    expected, norms = by_hand(6, max_norm=0.1)
    for mine, theirs in zip(weights, expected, strict=True):
        assert torch.equal(mine, theirs)
    assert runner.log_buffer.val_history["grad_norm"] == norms
    assert runner.log_buffer.n_history["grad_norm"] == [4] * 6
    assert min(norms) > 0.1  # every step was clipped, so clipping is what is compared


def test_the_numbers_are_mmcvs(tmp_path: Path) -> None:
    runner = stand_in(tmp_path, linear(), 6)
    drive(OptimizerHook(grad_clip=dict(max_norm=0.1)), runner, 6)
    mmcv_weight = [-0.04460884630680084, 0.21127602458000183, -0.4251057505607605]
    assert runner.model.weight[0].tolist() == mmcv_weight
    assert runner.log_buffer.val_history["grad_norm"][-1] == 3.2591071128845215
    runner = stand_in(tmp_path, linear(), 7)
    drive(
        GradientCumulativeOptimizerHook(cumulative_iters=3, grad_clip=dict(max_norm=0.1)), runner, 7
    )
    mmcv_weight = [-0.008298138156533241, 0.27937501668930054, -0.4495285451412201]
    assert runner.model.weight[0].tolist() == mmcv_weight
    assert runner.log_buffer.val_history["grad_norm"] == [
        2.1734113693237305,
        1.9176712036132812,
        2.8651161193847656,
    ]


def test_without_grad_clip_nothing_is_clipped_or_logged(tmp_path: Path) -> None:
    runner = stand_in(tmp_path, linear(), 4)
    weights = drive(OptimizerHook(), runner, 4)
    expected, _ = by_hand(4)
    assert torch.equal(weights[-1], expected[-1])
    assert "grad_norm" not in runner.log_buffer.val_history


def test_gradients_stay_readable_after_the_step_as_in_mmcv(tmp_path: Path) -> None:
    runner = stand_in(tmp_path, linear(), 1)
    drive(OptimizerHook(), runner, 1)
    assert runner.model.weight.grad is not None and runner.model.weight.grad.abs().sum() > 0


def test_grad_clip_is_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="max_norm"):
        OptimizerHook(grad_clip=dict(norm_type=2))
    with pytest.raises(ValueError, match="does not accept max_value"):
        OptimizerHook(grad_clip=dict(max_norm=1.0, max_value=3))


def test_several_optimizers_name_the_fix(tmp_path: Path) -> None:
    model = linear()
    runner = stand_in(tmp_path, model, 1)
    runner.optimizer = {"a": sgd(model)}
    with pytest.raises(TypeError, match="optimizer_config=None"):
        OptimizerHook().before_run(runner)


def test_detect_anomalous_params_logs_the_parameters_outside_the_graph(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Partly(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(3, 1)
            self.unused = nn.Linear(3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    model = Partly()
    runner = stand_in(tmp_path, model, 1)
    runner.outputs = {"loss": model(torch.ones(2, 3)).sum(), "num_samples": 2}
    hook = OptimizerHook(detect_anomalous_params=True)
    with caplog.at_level(logging.ERROR):
        hook.after_train_iter(runner)
    flagged = {r.args[0] for r in caplog.records if r.levelno == logging.ERROR}  # type: ignore[index]
    assert flagged == {"unused.weight", "unused.bias"}


# ------------------------------------------------------------ GradientCumulativeOptimizerHook
def test_accumulation_steps_every_n_iterations_and_divides_the_remainder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = stand_in(tmp_path, linear(), 7)
    hook = GradientCumulativeOptimizerHook(cumulative_iters=3, grad_clip=dict(max_norm=0.1))
    with caplog.at_level(logging.WARNING):
        weights = drive(hook, runner, 7)
    expected, norms = by_hand(7, every=3, max_norm=0.1)
    for mine, theirs in zip(weights, expected, strict=True):
        assert torch.equal(mine, theirs)
    initial = linear().weight.detach()
    assert torch.equal(weights[0], initial) and torch.equal(weights[1], initial)
    assert not torch.equal(weights[2], initial) and torch.equal(weights[3], weights[2])
    assert runner.log_buffer.val_history["grad_norm"] == norms and len(norms) == 3
    assert [r.getMessage() for r in caplog.records] == [
        "the loss of the last 1 iterations is divided by 1: they are not enough for "
        "cumulative_iters=3"
    ]


def test_the_remainder_differs_from_dividing_by_cumulative_iters(tmp_path: Path) -> None:
    runner = stand_in(tmp_path, linear(), 7)
    weights = drive(GradientCumulativeOptimizerHook(cumulative_iters=3), runner, 7)
    expected, _ = by_hand(7, every=3)
    naive = linear()  # divides the last, single-iteration group's loss by 3 too
    optimizer = sgd(naive)
    for index, batch in enumerate(batches()):
        (loss_of(naive, batch) / 3).backward()
        if (index + 1) % 3 == 0 or index == 6:
            optimizer.step()
            optimizer.zero_grad()
    assert torch.equal(weights[-1], expected[-1])
    assert not torch.equal(weights[-1], naive.weight.detach())


def test_batchnorm_and_a_misaligned_resume_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = nn.Sequential(nn.Linear(3, 1), nn.BatchNorm1d(1))
    runner = stand_in(tmp_path, model, 6)
    runner.iter = 4
    runner.outputs = {"loss": model(torch.randn(4, 3)).pow(2).mean(), "num_samples": 4}
    with caplog.at_level(logging.WARNING):
        GradientCumulativeOptimizerHook(cumulative_iters=3).after_train_iter(runner)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "resumes at iteration 4" in text and "BatchNorm" in text


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_cumulative_iters_must_be_a_positive_int(value: Any) -> None:
    with pytest.raises((TypeError, ValueError), match="cumulative_iters"):
        GradientCumulativeOptimizerHook(cumulative_iters=value)


def test_two_optimizer_hooks_are_refused_naming_both_and_the_fix(tmp_path: Path) -> None:
    runner = stand_in(tmp_path, linear(), 2)
    first, second = OptimizerHook(), GradientCumulativeOptimizerHook(cumulative_iters=2)
    runner.register_hook(first)
    runner.register_hook(second)
    with pytest.raises(
        ValueError, match="OptimizerHook and GradientCumulativeOptimizerHook"
    ) as err:
        first.before_run(runner)
    assert "backward through the graph a second time" in str(err.value)
    assert "optimizer_config=dict(type='GradientCumulativeOptimizerHook'" in str(err.value)


# ------------------------------------------------------------ Fp16OptimizerHook
class HalfNet(nn.Module):
    """A linear model whose forward is `auto_fp16`; it records the activations' dtype."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(3, 1)
        self.fp16_enabled = False
        self.seen: list[torch.dtype] = []

    @auto_fp16(apply_to=("x",))
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc(x)
        self.seen.append(out.dtype)
        return out


def test_fp16_hook_on_cpu_trains_in_bfloat16_as_autocast_does(tmp_path: Path) -> None:
    model = HalfNet()
    runner = stand_in(tmp_path, model, 3)
    hook = Fp16OptimizerHook(grad_clip=dict(max_norm=0.1))
    drive(hook, runner, 3)
    assert model.fp16_enabled and model.seen == [torch.bfloat16] * 3
    assert hook.optim_wrapper is not None and hook.optim_wrapper.loss_scaler is None  # type: ignore[attr-defined]
    reference = HalfNet()
    optimizer = sgd(reference)
    for batch in batches()[:3]:
        optimizer.zero_grad()
        x, y = batch
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = reference.fc(x.to(torch.bfloat16))
        ((out - y) ** 2).mean().backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.1)
        optimizer.step()
    assert torch.equal(model.fc.weight, reference.fc.weight)
    assert model.fc.weight.dtype == torch.float32  # the weights stay float32, as in MMCV


@pytest.fixture
def float16(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the hooks use float16 (and so a loss scaler) on CPU, as they would on CUDA."""
    monkeypatch.setattr(optimizer_hooks, "half_dtype", lambda device_type: torch.float16)


@pytest.mark.usefixtures("float16")
def test_the_loss_scaler_goes_to_meta_at_save_and_comes_back_at_before_run(tmp_path: Path) -> None:
    runner = stand_in(tmp_path, linear(), 2)
    hook = Fp16OptimizerHook(loss_scale=512.0)
    drive(hook, runner, 2)
    checkpoint: dict[str, Any] = {"meta": {}}
    hook.before_save_checkpoint(runner, checkpoint)
    saved = checkpoint["meta"]["fp16"]["loss_scaler"]
    assert saved["scale"] == 512.0 and runner.meta["fp16"]["loss_scaler"] == saved
    expected, _ = by_hand(2)
    assert torch.allclose(runner.model.weight, expected[-1], atol=1e-7)  # unscaled gradients

    resumed = stand_in(
        tmp_path, linear(), 2, meta={"fp16": {"loss_scaler": {**saved, "scale": 64.0}}}
    )
    again = Fp16OptimizerHook(loss_scale="dynamic")
    again.before_run(resumed)
    assert again.optim_wrapper.loss_scaler.get_scale() == 64.0  # type: ignore[union-attr]
    again.after_load_checkpoint(
        resumed, {"meta": {"fp16": {"loss_scaler": {**saved, "scale": 8.0}}}}
    )
    assert again.optim_wrapper.loss_scaler.get_scale() == 8.0  # type: ignore[union-attr]


@pytest.mark.usefixtures("float16")
def test_cumulative_fp16_accumulates_scaled_gradients(tmp_path: Path) -> None:
    runner = stand_in(tmp_path, linear(), 7)
    hook = GradientCumulativeFp16OptimizerHook(cumulative_iters=3, loss_scale="dynamic")
    weights = drive(hook, runner, 7)
    expected, _ = by_hand(7, every=3)
    assert torch.equal(weights[1], linear().weight.detach())
    for mine, theirs in zip(weights, expected, strict=True):
        assert torch.allclose(mine, theirs, atol=1e-6)
    assert hook.optim_wrapper.loss_scaler is not None  # type: ignore[union-attr]


@pytest.mark.parametrize("loss_scale", ["static", -1.0])
def test_loss_scale_is_checked_at_construction(loss_scale: Any) -> None:
    with pytest.raises(ValueError, match="loss_scale"):
        Fp16OptimizerHook(loss_scale=loss_scale)


# ------------------------------------------------------------ on MMCV's runners
class Toy(nn.Module):
    """MMCV's model protocol: ``train_step`` returns the loss, the hook steps."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = linear()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)

    def train_step(self, batch: Any, optimizer: Any) -> dict[str, Any]:
        loss = loss_of(self, batch)
        return {"loss": loss, "log_vars": {"loss": loss.item()}, "num_samples": 4}


def test_epoch_runner_with_grad_clip_equals_the_plain_loop(tmp_path: Path) -> None:
    model = Toy()
    runner = EpochBasedRunner(model, optimizer=sgd(model), work_dir=tmp_path, max_epochs=1)
    runner.register_optimizer_hook(dict(grad_clip=dict(max_norm=0.1)))
    runner.run([batches()], [("train", 1)])
    expected, norms = by_hand(BATCHES, max_norm=0.1)
    assert torch.equal(model.fc.weight, expected[-1])
    assert runner.log_buffer.val_history["grad_norm"] == norms


def test_iter_runner_accumulates_through_register_training_hooks(tmp_path: Path) -> None:
    model = Toy()
    runner = IterBasedRunner(model, optimizer=sgd(model), work_dir=tmp_path, max_iters=BATCHES)
    config = dict(type="GradientCumulativeOptimizerHook", cumulative_iters=3)
    runner.register_training_hooks(lr_config=None, optimizer_config=config)
    runner.run([batches()], [("train", 1)])
    expected, _ = by_hand(BATCHES, every=3)
    assert torch.equal(model.fc.weight, expected[-1])


def test_a_runner_with_two_optimizer_hooks_stops_before_training(tmp_path: Path) -> None:
    model = Toy()
    runner = EpochBasedRunner(model, optimizer=sgd(model), work_dir=tmp_path, max_epochs=1)
    runner.register_optimizer_hook(dict(grad_clip=None))
    runner.register_hook(dict(type="GradientCumulativeOptimizerHook", cumulative_iters=2))
    with pytest.raises(ValueError, match="Trying to backward through the graph a second time"):
        runner.run([batches()], [("train", 1)])
    assert torch.equal(model.fc.weight, linear().weight)
