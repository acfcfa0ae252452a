"""Averaged models and `EMAHook`: the averaging math, evaluation on the average, checkpoints.

The math is checked on one- and two-element tensors against values computed by
hand (chosen so float32 represents every step exactly). The hook is checked in
real runs: validation sees the averaged weights, training never notices the
hook, checkpoints carry the average as their weights, and a run killed with
SIGKILL and resumed in a new process ends bit-identical, both the training
weights and the average.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn
from toy import SaveEveryIter, ToyDataset, ToyModel
from toy_ema import RecordTrainWeights, WeightRecordingEvaluator, runner_kwargs

from hooks_core import HOOKS, MODELS, Hook, NotRegisteredError, Runner
from hooks_optim._averaged_model import (
    BaseAveragedModel,
    ExponentialMovingAverage,
    MomentumAnnealingEMA,
    StochasticWeightAverage,
)
from hooks_optim._ema_hook import EMAHook

WORKER = Path(__file__).with_name("ema_resume_worker.py")


class Tiny(nn.Module):
    """One parameter, one float buffer, one integer buffer."""

    def __init__(self, *values: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(values))
        self.register_buffer("stat", torch.tensor(values))
        self.register_buffer("count", torch.tensor(0))

    def set(self, *values: float, stat: float | None = None, count: int | None = None) -> Tiny:
        with torch.no_grad():
            self.w.copy_(torch.tensor(values))
            if stat is not None:
                self.stat.fill_(stat)
            if count is not None:
                self.count.fill_(count)
        return self


def weights(averaged: BaseAveragedModel) -> list[float]:
    return averaged.module.w.tolist()  # type: ignore[no-any-return]


def feed(
    averaged: BaseAveragedModel, model: Tiny, *sources: tuple[float, ...]
) -> list[list[float]]:
    """Update from each source in turn; return the averaged weights after each update."""
    seen = []
    for values in sources:
        averaged.update_parameters(model.set(*values))
        seen.append(weights(averaged))
    return seen


# ------------------------------------------------------------ the averaged models
def test_ema_follows_the_documented_formula() -> None:
    model = Tiny(1.0, 2.0)
    ema = ExponentialMovingAverage(model, momentum=0.25)
    # First update copies; then averaged = 0.75 * averaged + 0.25 * source.
    assert feed(ema, model, (1.0, 2.0), (5.0, 6.0), (10.0, 3.0)) == [
        [1.0, 2.0],
        [2.0, 3.0],
        [4.0, 3.0],
    ]
    assert int(ema.steps) == 3


def test_ema_averages_only_every_interval_updates() -> None:
    model = Tiny(0.0)
    ema = ExponentialMovingAverage(model, momentum=0.5, interval=2)
    sources = [(0.0,), (8.0,), (4.0,), (100.0,), (6.0,)]
    assert feed(ema, model, *sources) == [[0.0], [0.0], [2.0], [2.0], [4.0]]


def test_momentum_annealing_starts_high_and_decays_to_momentum() -> None:
    model = Tiny(1.0)
    ema = MomentumAnnealingEMA(model, momentum=0.25, gamma=1)
    seen = feed(ema, model, (1.0,), (3.0,), (5.0,), (7.0,), (11.0,))
    # momentum = max(0.25, 1 / (1 + steps)): 1/2, 1/3, then 1/4 (1/4 and 1/5 floored).
    assert seen[:2] == [[1.0], [2.0]]
    assert seen[2] == pytest.approx([2.0 * 2 / 3 + 5.0 / 3], abs=1e-6)  # 3.0
    assert seen[3] == pytest.approx([3.0 * 0.75 + 7.0 * 0.25], abs=1e-6)  # 4.0
    assert seen[4] == pytest.approx([4.0 * 0.75 + 11.0 * 0.25], abs=1e-6)  # 5.75


def test_stochastic_weight_average_is_the_running_mean() -> None:
    model = Tiny(0.0, 0.0)
    swa = StochasticWeightAverage(model)
    seen = feed(swa, model, (1.0, 2.0), (3.0, 6.0), (5.0, 1.0), (7.0, 3.0))
    assert seen == [[1.0, 2.0], [2.0, 4.0], [3.0, 3.0], [4.0, 3.0]]


def test_stochastic_weight_average_samples_every_interval() -> None:
    model = Tiny(0.0)
    swa = StochasticWeightAverage(model, interval=2)
    seen = feed(swa, model, (1.0,), (100.0,), (3.0,), (100.0,), (5.0,))
    assert seen == [[1.0], [1.0], [2.0], [2.0], [3.0]]


def test_buffers_are_copied_unless_update_buffers() -> None:
    model = Tiny(0.0)
    copied = ExponentialMovingAverage(model, momentum=0.5)
    averaged = ExponentialMovingAverage(model, momentum=0.5, update_buffers=True)
    for stat, count in ((2.0, 1), (6.0, 2), (10.0, 3)):
        model.set(0.0, stat=stat, count=count)
        copied.update_parameters(model)
        averaged.update_parameters(model)
    assert copied.module.stat.tolist() == [10.0]  # the source's, as it is now
    assert averaged.module.stat.tolist() == [7.0]  # 2 -> (2 + 6) / 2 = 4 -> (4 + 10) / 2 = 7
    assert int(copied.module.count) == int(averaged.module.count) == 3  # integers: copied


def test_the_copy_is_independent_frozen_and_saves_its_steps() -> None:
    model = Tiny(1.0)
    ema = ExponentialMovingAverage(model, momentum=0.5)
    assert not any(p.requires_grad for p in ema.parameters())
    model.set(9.0)
    assert weights(ema) == [1.0]  # a deep copy, not a view
    feed(ema, model, (2.0,), (4.0,))
    state = ema.state_dict()
    assert set(state) == {"steps", "module.w", "module.stat", "module.count"}
    restored = ExponentialMovingAverage(Tiny(0.0), momentum=0.5)
    restored.load_state_dict(state)
    assert int(restored.steps) == 2 and weights(restored) == [3.0]
    restored.update_parameters(model.set(5.0))  # averages: the loaded steps count
    assert weights(restored) == [4.0]


def test_averaged_models_build_by_name_and_check_their_arguments() -> None:
    model = Tiny(1.0)
    for name in ("ExponentialMovingAverage", "MomentumAnnealingEMA", "StochasticWeightAverage"):
        built = MODELS.build(dict(type=name, model=model, interval=2))
        assert type(built).__name__ == name and built.interval == 2
    assert MODELS.build(dict(type="ExponentialMovingAverage", model=model)).momentum == 0.0002
    with pytest.raises(TypeError):
        BaseAveragedModel(model)  # type: ignore[abstract]
    with pytest.raises(ValueError, match="momentum"):
        ExponentialMovingAverage(model, momentum=1.5)
    with pytest.raises(ValueError, match="interval"):
        StochasticWeightAverage(model, interval=0)
    with pytest.raises(ValueError, match="gamma"):
        MomentumAnnealingEMA(model, gamma=0)


# ------------------------------------------------------------ the hook's arguments and schedule
def test_hook_checks_its_arguments() -> None:
    assert type(HOOKS.build(dict(type="EMAHook", momentum=0.1))) is EMAHook
    with pytest.raises(ValueError, match="not both"):
        EMAHook(begin_iter=2, begin_epoch=1)
    with pytest.raises(ValueError, match="non-negative"):
        EMAHook(begin_iter=-1)
    with pytest.raises(ValueError, match="non-negative"):
        EMAHook(begin_epoch=-2)
    with pytest.raises(NotRegisteredError, match="ExponentialMovingAverag"):
        EMAHook(ema_type="ExponentialMovingAverag")


def fake_runner(model: nn.Module, **counters: int) -> Any:
    return SimpleNamespace(model=model, epoch=0, iter=0, max_iters=10, max_epochs=2, **counters)


def test_hook_copies_until_begin_iter_then_averages() -> None:
    model = Tiny(0.0)
    runner = fake_runner(model)
    hook = EMAHook(momentum=0.5, begin_iter=3)
    hook.before_run(runner)
    assert hook.ema_model is not None
    seen = []
    for iteration, value in enumerate((2.0, 4.0, 6.0, 10.0)):
        runner.iter = iteration
        model.set(value)
        hook.after_train_iter(runner, iteration)
        seen.append((weights(hook.ema_model), int(hook.ema_model.steps)))
    # Iterations 1 and 2 copy; the third starts the average (by copying); the fourth averages.
    assert seen == [([2.0], 0), ([4.0], 0), ([6.0], 1), ([8.0], 2)]


def test_hook_copies_until_begin_epoch_then_averages() -> None:
    model = Tiny(0.0)
    runner = fake_runner(model)
    hook = EMAHook(momentum=0.5, begin_epoch=2)
    hook.before_run(runner)
    assert hook.ema_model is not None
    seen = []
    for epoch, iteration, value in ((0, 0, 2.0), (0, 1, 4.0), (1, 2, 6.0), (1, 3, 10.0)):
        runner.epoch, runner.iter = epoch, iteration
        model.set(value)
        hook.after_train_iter(runner, iteration)
        seen.append(weights(hook.ema_model))
    assert seen == [[2.0], [4.0], [6.0], [8.0]]


@pytest.mark.parametrize("begin", [dict(begin_iter=11), dict(begin_epoch=3)])
def test_hook_refuses_a_begin_training_never_reaches(begin: dict[str, int]) -> None:
    runner = fake_runner(Tiny(0.0))
    with pytest.raises(ValueError, match="never be averaged"):
        EMAHook(**begin).before_train(runner)


# ------------------------------------------------------------ real runs
def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> None:
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), f"{key} differs"


def test_validation_runs_on_the_average_and_training_never_notices(tmp_path: Path) -> None:
    momentum = 0.3
    record = RecordTrainWeights()
    kwargs = runner_kwargs(tmp_path / "ema")
    evaluator: WeightRecordingEvaluator = kwargs["val_evaluator"]
    Runner(**kwargs, custom_hooks=[EMAHook(momentum=momentum), record]).train()

    # The average each validation should have seen, recomputed from the training weights.
    average = dict(record.history[0])
    expected = []
    for step, state in enumerate(record.history):
        for key, value in state.items():
            is_param = key.endswith(("weight", "bias"))
            if is_param and step > 0:
                average[key] = (1 - momentum) * average[key] + momentum * value
            else:  # the first copy, and buffers (update_buffers=False): the model's own
                average[key] = value
        if (step + 1) % 5 == 0:  # an epoch ended: validation
            expected.append(dict(average))
    assert len(evaluator.seen) == len(expected) == 3
    for seen, wanted in zip(evaluator.seen, expected, strict=True):
        for key in wanted:
            torch.testing.assert_close(seen[key], wanted[key], rtol=1e-6, atol=1e-7)
    assert not torch.equal(evaluator.seen[-1]["net.0.weight"], record.history[-1]["net.0.weight"])

    # The training weights came back after every validation: a run without the hook ends equal.
    plain = runner_kwargs(tmp_path / "plain")
    Runner(**plain).train()
    assert_same(snapshot(kwargs["model"]), snapshot(plain["model"]))


def test_checkpoint_holds_the_average_as_its_weights(tmp_path: Path) -> None:
    hook = EMAHook(momentum=0.3, update_buffers=True)
    kwargs = runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1))
    runner = Runner(**kwargs, custom_hooks=[hook])
    runner.train()
    training = snapshot(runner.model)
    path = runner.save_checkpoint(tmp_path, "final.pth")
    assert_same(snapshot(runner.model), training)  # saving left the live model alone

    checkpoint = torch.load(path, weights_only=True)
    assert hook.ema_model is not None
    average = snapshot(hook.ema_model.module)
    assert_same(checkpoint["state_dict"], average)
    ema_state = checkpoint["ema_state_dict"]
    assert int(ema_state["steps"]) == 5
    # MMEngine's layout: the training weights sit under the averaged model's keys.
    assert_same({k.removeprefix("module."): v for k, v in ema_state.items() if k != "steps"},
                training)  # fmt: skip
    assert not torch.equal(average["net.0.weight"], training["net.0.weight"])


class SaveDuringValidation(Hook):
    """Save a checkpoint while the model still holds the average (before EMAHook swaps back)."""

    priority = "HIGH"

    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        runner.save_checkpoint(runner.work_dir, "during_val.pth")


def test_checkpoint_saved_during_validation_has_the_same_layout(tmp_path: Path) -> None:
    kwargs = runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1))
    runner = Runner(**kwargs, custom_hooks=[EMAHook(momentum=0.3), SaveDuringValidation()])
    runner.train()
    after = torch.load(runner.save_checkpoint(tmp_path, "after.pth"), weights_only=True)
    during = torch.load(tmp_path / "during_val.pth", weights_only=True)
    assert_same(during["state_dict"], after["state_dict"])
    assert_same(during["ema_state_dict"], after["ema_state_dict"])


def test_resume_restores_training_weights_and_average(tmp_path: Path) -> None:
    first = EMAHook(momentum=0.3)
    kwargs = runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1))
    runner = Runner(**kwargs, custom_hooks=[first, SaveEveryIter()])
    runner.train()
    assert first.ema_model is not None

    second = EMAHook(momentum=0.3)
    resumed = Runner(
        **runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1), resume=True),
        custom_hooks=[second],
    )
    resumed.train()  # nothing left to train: only the resume
    assert second.ema_model is not None
    assert_same(snapshot(resumed.model), snapshot(runner.model))
    assert_same(second.ema_model.state_dict(), first.ema_model.state_dict())


def test_load_from_starts_the_average_from_the_loaded_weights(tmp_path: Path) -> None:
    torch.manual_seed(7)
    source = ToyModel(batchnorm=True)
    path = tmp_path / "weights.pth"
    torch.save({"meta": {}, "state_dict": source.state_dict()}, path)

    hook = EMAHook()
    torch.manual_seed(0)
    model = ToyModel(batchnorm=True)
    evaluator = WeightRecordingEvaluator(model)
    runner = Runner(
        model=model,
        work_dir=str(tmp_path / "run"),
        test_dataloader=dict(dataset=ToyDataset(8), batch_size=8),
        test_cfg=dict(),
        test_evaluator=evaluator,
        load_from=str(path),
        log_level="WARNING",
    )
    runner.register_hook(hook)
    runner.test()
    assert hook.ema_model is not None
    assert_same(snapshot(hook.ema_model.module), source.state_dict())
    assert_same(evaluator.seen[0], source.state_dict())  # tested on the average
    assert_same(snapshot(model), source.state_dict())


def test_save_separately_writes_a_loadable_ema_checkpoint(tmp_path: Path) -> None:
    hook = EMAHook(momentum=0.3, save_separately=True)
    kwargs = runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1))
    runner = Runner(**kwargs, custom_hooks=[hook, SaveEveryIter()])
    runner.train()
    assert sorted(p.name for p in tmp_path.glob("ema_*.pth")) == [
        f"ema_iter_{n}.pth" for n in range(1, 6)
    ]
    assert (tmp_path / "last_checkpoint").read_text().endswith("iter_5.pth")
    assert not (tmp_path / "last_checkpoint").read_text().endswith("ema_iter_5.pth")
    separate = torch.load(tmp_path / "ema_iter_5.pth", weights_only=True)
    assert separate["meta"]["iter"] == 5
    assert hook.ema_model is not None
    assert_same(separate["state_dict"], snapshot(hook.ema_model.module))
    full = torch.load(tmp_path / "iter_5.pth", weights_only=True)
    assert_same(separate["state_dict"], full["state_dict"])

    torch.manual_seed(3)
    fresh = ToyModel(batchnorm=True)
    loader = Runner(model=fresh, work_dir=str(tmp_path / "load"), log_level="WARNING")
    loader.load_checkpoint(str(tmp_path / "ema_iter_5.pth"), strict=True)
    assert_same(snapshot(fresh), separate["state_dict"])


# ------------------------------------------------------------ exact resume, real processes
def start_worker(work_dir: Path, mode: str, out: Path, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(work_dir), mode, str(out), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_worker(work_dir: Path, mode: str, out: Path, *flags: str) -> None:
    result = subprocess.run(
        [sys.executable, str(WORKER), str(work_dir), mode, str(out), *flags],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def kill_at(work_dir: Path, mode: str, out: Path, at: int) -> None:
    """Start a run and SIGKILL it as soon as it reports iteration `at` done."""
    proc = start_worker(work_dir, mode, out)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == f"iter {at}":
            proc.send_signal(signal.SIGKILL)
            break
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, stderr
    assert not out.exists(), "the run finished before it was killed"


@pytest.mark.parametrize(("mode", "at"), [("epoch", 7), ("iter", 11)])
def test_sigkill_then_resume_matches_an_uninterrupted_run(
    tmp_path: Path, mode: str, at: int
) -> None:
    reference = tmp_path / "reference.pt"
    uninterrupted = start_worker(tmp_path / "reference", mode, reference)  # runs alongside
    out = tmp_path / "final.pt"
    kill_at(tmp_path / "run", mode, out, at)
    run_worker(tmp_path / "run", mode, out, "--resume")
    _, stderr = uninterrupted.communicate(timeout=120)
    assert uninterrupted.returncode == 0, stderr
    expected = torch.load(reference, weights_only=True)
    result = torch.load(out, weights_only=True)
    assert_same(result["model"], expected["model"])
    assert_same(result["ema"], expected["ema"])
    assert int(result["ema"]["steps"]) == 15 - 2  # averaging began at iteration 3
