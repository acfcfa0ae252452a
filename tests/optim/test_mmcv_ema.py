"""`EMAHook` with MMCV 1.x's arguments and on MMCV's runners: its formula, swaps and checkpoints.

`test_mmcv_measured_values` holds numbers printed by MMCV 1.7.2's own EMAHook
on the same model and updates (``/tmp/h14ema/measure_ema.py``); the others
check the formula ``m = min(momentum ** interval, (1 + i) / (warm_up + i))``,
``ema = (1 - m) * ema + m * param`` computed by hand in float64.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import torch
from stand_in import StandInRunner
from torch import nn

import hooks_optim._mmcv_optimizer_hooks  # noqa: F401  (registers OptimizerHook)
from hooks_core import EpochBasedRunner, Hook, IterBasedRunner, LogBuffer
from hooks_optim import EMAHook

if TYPE_CHECKING:
    from pathlib import Path


def linear() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(3, 2)


def mmcv_runner(tmp_path: Path, model: nn.Module, **attributes: Any) -> StandInRunner:
    """A stand-in for MMCV's runners: it has a log_buffer."""
    return StandInRunner(tmp_path, model=model, log_buffer=LogBuffer(), **attributes)


def step_and_update(hook: EMAHook, runner: Any, iters: int) -> list[torch.Tensor]:
    """Add 1 to every weight (the optimizer's stand-in), then the hook; the averages after each."""
    model = runner.model
    averages = []
    for index in range(iters):
        with torch.no_grad():
            model.weight.add_(1.0)
        runner.iter = index
        hook.after_train_iter(runner, batch_idx=index)
        assert hook.ema_model is not None
        averages.append(hook.ema_model.module.weight.detach().clone())
    return averages


def formula(
    start: torch.Tensor, momentum: float, interval: int, warm_up: int, iters: int
) -> list[torch.Tensor]:
    """MMCV's EMA by hand, in float64, for `step_and_update`'s weights."""
    average, weight, out = start.double(), start.double(), []
    for index in range(iters):
        weight = weight + 1.0
        if index % interval == 0:
            m = min(momentum**interval, (1 + index) / (warm_up + index))
            average = (1 - m) * average + m * weight
        out.append(average)
    return out


def test_mmcv_measured_values(tmp_path: Path) -> None:
    runner = mmcv_runner(tmp_path, linear())
    hook = EMAHook(momentum=0.3, interval=2, warm_up=4)
    hook.before_run(runner)
    averages = step_and_update(hook, runner, 5)
    measured = [  # MMCV 1.7.2, ema_weight[0] after iterations 0..4
        [0.08567748218774796, 0.3997158706188202, -0.3851853609085083],
        [0.08567748218774796, 0.3997158706188202, -0.3851853609085083],
        [0.3475774824619293, 0.6616159081459045, -0.12328535318374634],
        [0.3475774824619293, 0.6616159081459045, -0.12328535318374634],
        [0.7659065127372742, 1.0799449682235718, 0.2950436472892761],
    ]
    assert [a[0].tolist() for a in averages] == measured


@pytest.mark.parametrize(("momentum", "interval", "warm_up"), [(0.5, 1, 10), (0.3, 3, 2)])
def test_warm_up_momentum_and_interval_follow_mmcvs_formula(
    tmp_path: Path, momentum: float, interval: int, warm_up: int
) -> None:
    model = linear()
    start = model.weight.detach().clone()
    runner = StandInRunner(tmp_path, model=model)  # an MMEngine-style runner: warm_up decides
    hook = EMAHook(momentum=momentum, interval=interval, warm_up=warm_up)
    hook.before_run(runner)
    for mine, expected in zip(
        step_and_update(hook, runner, 8),
        formula(start, momentum, interval, warm_up, 8),
        strict=True,
    ):
        assert torch.allclose(mine.double(), expected, atol=1e-6)


def test_on_mmcv_runners_the_default_warm_up_is_100(tmp_path: Path) -> None:
    model = linear()
    start = model.weight.detach().clone()
    runner = mmcv_runner(tmp_path, model)
    hook = EMAHook(momentum=0.5)
    hook.before_run(runner)
    averages = step_and_update(hook, runner, 3)
    assert torch.allclose(averages[-1].double(), formula(start, 0.5, 1, 100, 3)[-1], atol=1e-6)
    # MMEngine's rule on MMEngine's runners: the first update copies, then lerp by 0.5
    plain = StandInRunner(tmp_path, model=linear())
    other = EMAHook(momentum=0.5)
    other.before_run(plain)
    first = step_and_update(other, plain, 1)[0]
    assert torch.equal(first, plain.model.weight.detach())


def test_warm_up_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive int"):
        EMAHook(warm_up=0)
    with pytest.raises(ValueError, match="ExponentialMovingAverage"):
        EMAHook(ema_type="StochasticWeightAverage", warm_up=10)


def test_on_mmcv_runners_the_average_is_swapped_in_after_each_train_epoch(tmp_path: Path) -> None:
    runner = mmcv_runner(tmp_path, linear())
    hook = EMAHook(momentum=0.5, warm_up=1)
    hook.before_run(runner)
    step_and_update(hook, runner, 2)
    assert hook.ema_model is not None
    training = runner.model.weight.detach().clone()
    average = hook.ema_model.module.weight.detach().clone()
    hook.before_train_epoch(runner)  # nothing to give back yet
    assert torch.equal(runner.model.weight, training)
    hook.after_train_epoch(runner)
    assert torch.equal(runner.model.weight, average)
    hook.before_val_epoch(runner)  # MMCV does not swap around validation
    hook.after_val_epoch(runner, {})
    assert torch.equal(runner.model.weight, average)
    hook.before_train_epoch(runner)
    assert torch.equal(runner.model.weight, training)
    assert torch.equal(hook.ema_model.module.weight, average)


def test_on_mmengine_runners_train_epochs_do_not_swap(tmp_path: Path) -> None:
    runner = StandInRunner(tmp_path, model=linear())
    hook = EMAHook(momentum=0.5, warm_up=1)
    hook.before_run(runner)
    step_and_update(hook, runner, 2)
    training = runner.model.weight.detach().clone()
    hook.after_train_epoch(runner)
    assert torch.equal(runner.model.weight, training)


# ------------------------------------------------------------ on MMCV's runners
class Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = linear()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)

    def train_step(self, batch: torch.Tensor, optimizer: Any) -> dict[str, Any]:
        loss = self(batch).pow(2).mean()
        return {"loss": loss, "log_vars": {"loss": loss.item()}, "num_samples": len(batch)}


def data() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    return [torch.randn(4, 3, generator=generator) for _ in range(3)]


class SaveEveryEpoch(Hook):
    """MMCV's CheckpointHook in short: save after each training epoch (NORMAL, after EMAHook)."""

    def after_train_epoch(self, runner: Any) -> None:
        runner.save_checkpoint(runner.work_dir)


def train(tmp_path: Path, epochs: int, **ema: Any) -> tuple[EpochBasedRunner, EMAHook]:
    model = Toy()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    runner = EpochBasedRunner(model, optimizer=optimizer, work_dir=tmp_path, max_epochs=epochs)
    runner.register_optimizer_hook(dict(grad_clip=None))
    hook = EMAHook(momentum=0.2, **ema)
    runner.register_hook(hook, priority=49)  # above CheckpointHook, as MMCV's docs ask
    runner.register_hook(SaveEveryEpoch())
    runner.run([data()], [("train", 1)])
    return runner, hook


def test_resume_from_continues_exactly_as_the_uninterrupted_run(tmp_path: Path) -> None:
    whole, whole_hook = train(tmp_path / "whole", 3)
    train(tmp_path / "first", 2)
    path = str(tmp_path / "first" / "epoch_2.pth")
    resumed, resumed_hook = train(tmp_path / "resumed", 3, resume_from=path)
    assert resumed.epoch == 3
    assert whole_hook.ema_model is not None and resumed_hook.ema_model is not None
    assert torch.equal(resumed.model.fc.weight, whole.model.fc.weight)  # the average, swapped in
    assert torch.equal(
        resumed_hook.ema_model.module.fc.weight, whole_hook.ema_model.module.fc.weight
    )


def mmcv_checkpoint(path: Path, model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """A checkpoint as MMCV's EMAHook leaves it: ``ema_<name>`` buffers beside the weights."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    saved = torch.full_like(state["fc.weight"], 1.0)
    buffer = torch.full_like(state["fc.weight"], 2.0)
    state["fc.weight"] = saved
    state["ema_fc_weight"] = buffer
    state["ema_fc_bias"] = state["fc.bias"].clone()
    torch.save({"meta": {"epoch": 1, "iter": 3}, "state_dict": state}, path)
    return saved, buffer


@pytest.mark.parametrize("runner_type", [EpochBasedRunner, IterBasedRunner])
def test_an_mmcv_checkpoint_resumes_as_mmcv_would(tmp_path: Path, runner_type: type) -> None:
    model = Toy()
    saved, buffer = mmcv_checkpoint(tmp_path / "mmcv.pth", model)
    length = {"max_epochs": 1} if runner_type is EpochBasedRunner else {"max_iters": 3}
    runner = runner_type(
        model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), work_dir=tmp_path, **length
    )
    hook = EMAHook(resume_from=str(tmp_path / "mmcv.pth"))
    runner.register_hook(hook)
    hook.before_run(runner)
    assert hook.ema_model is not None
    training, average = (buffer, saved) if runner_type is EpochBasedRunner else (saved, buffer)
    # MMCV exchanges the two at the start of every epoch, so its epoch runner trains the buffers
    assert torch.equal(model.fc.weight, training)
    assert torch.equal(hook.ema_model.module.fc.weight, average)
    assert not any(key.startswith("ema_") for key in model.state_dict())


def test_runner_resume_before_run_keeps_the_restored_average(tmp_path: Path) -> None:
    train(tmp_path / "first", 1)
    path = str(tmp_path / "first" / "epoch_1.pth")
    checkpoint = torch.load(path, weights_only=False)
    average = checkpoint["state_dict"]["fc.weight"]
    training = checkpoint["ema_state_dict"]["module.fc.weight"]
    model = Toy()
    runner = EpochBasedRunner(
        model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        work_dir=tmp_path / "second",
        max_epochs=1,
    )
    hook = EMAHook(momentum=0.2)
    runner.register_hook(hook)
    runner.resume(path)  # MMCV's order: resume, then run (before_run)
    hook.before_run(runner)
    assert hook.ema_model is not None
    assert torch.equal(hook.ema_model.module.fc.weight, average)
    assert torch.equal(model.fc.weight, training)
