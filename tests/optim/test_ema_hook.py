"""`EMAHook` as MMEngine's tests exercise it: direct calls on a runner stand-in, then real runs.

The stand-in is a plain object holding a real model; the hook builds a real
averaged model around it. The runs check that validation sees the averaged
weights, training never notices the hook, checkpoints carry the average as
their weights (MMEngine's layout), and a run killed with SIGKILL and resumed in
a new process ends bit-identical, both the training weights and the average.
"""

from __future__ import annotations

import copy
import logging
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from killable_run import signal_at
from torch import nn
from toy import SaveEveryIter, ToyDataset, ToyModel
from toy_ema import RecordTrainWeights, WeightRecordingEvaluator, runner_kwargs

from hooks_core import HOOKS, Hook, NotRegisteredError, Runner, get_priority
from hooks_optim import EMAHook, ExponentialMovingAverage, StochasticWeightAverage
from hooks_optim._ema_hook import NO_EMA_STATE_WARNING

WORKER = Path(__file__).with_name("ema_resume_worker.py")


# ------------------------------------------------------------ the stand-in
def stand_in(model: nn.Module, resume: bool = False, **attributes: Any) -> Any:
    """The runner attributes EMAHook reads: the model, counters, resume flag, logger."""
    return SimpleNamespace(
        model=model,
        epoch=0,
        iter=0,
        max_epochs=2,
        max_iters=10,
        _resume=resume,
        logger=logging.getLogger("ema_stand_in"),
        rank=0,
        **attributes,
    )


def toy(seed: int = 0) -> ToyModel:
    torch.manual_seed(seed)
    return ToyModel(batchnorm=True, dropout=0.0)


def randomize(model: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator))


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> None:
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), f"{key} differs"


def ready(hook: EMAHook, runner: Any) -> tuple[nn.Module, ExponentialMovingAverage]:
    hook.before_run(runner)
    assert hook.src_model is not None and isinstance(hook.ema_model, ExponentialMovingAverage)
    return hook.src_model, hook.ema_model


# ------------------------------------------------------------ construction and before_run
def test_arguments_are_checked_at_construction() -> None:
    EMAHook()
    EMAHook(begin_iter=1)
    assert type(HOOKS.build(dict(type="EMAHook", momentum=0.1))) is EMAHook
    assert get_priority(EMAHook.priority) == get_priority("NORMAL")
    with pytest.raises(ValueError, match="begin_iter must be a non-negative int"):
        EMAHook(begin_iter=-1)
    with pytest.raises(ValueError, match="begin_epoch must be a non-negative int"):
        EMAHook(begin_epoch=-1)
    with pytest.raises(ValueError, match=r"begin_iter \(1\) or begin_epoch \(1\), not both"):
        EMAHook(begin_iter=1, begin_epoch=1)
    with pytest.raises(NotRegisteredError, match="ExponentialMovingAverag"):
        EMAHook(ema_type="ExponentialMovingAverag")
    assert EMAHook(begin_epoch=2).enabled_by_epoch and not EMAHook(begin_iter=2).enabled_by_epoch


def test_before_run_builds_the_ema_model_around_the_model() -> None:
    model = toy()
    hook = EMAHook()
    assert hook.src_model is None and hook.ema_model is None
    src_model, ema_model = ready(hook, stand_in(model))
    assert src_model is model
    assert_same(snapshot(ema_model.module), snapshot(model))


def test_before_run_unwraps_a_data_parallel_model() -> None:
    model = toy()
    hook = EMAHook(ema_type="StochasticWeightAverage")
    hook.before_run(stand_in(nn.DataParallel(model)))
    assert hook.src_model is model
    assert isinstance(hook.ema_model, StochasticWeightAverage)


def test_before_train_checks_the_begin_against_the_length_of_training() -> None:
    runner = stand_in(toy())  # 2 epochs, 10 iterations
    EMAHook(begin_epoch=1).before_train(runner)
    EMAHook(begin_epoch=2).before_train(runner)
    EMAHook(begin_iter=10).before_train(runner)
    with pytest.raises(ValueError, match="begin_epoch=3 is after the last training epoch"):
        EMAHook(begin_epoch=3).before_train(runner)
    with pytest.raises(ValueError, match="begin_iter=11 is after the last training iteration"):
        EMAHook(begin_iter=11).before_train(runner)


# ------------------------------------------------------------ after_train_iter
def test_after_train_iter_copies_first_then_averages() -> None:
    hook = EMAHook()
    runner = stand_in(toy())
    src_model, ema_model = ready(hook, runner)
    randomize(src_model, 1)
    hook.after_train_iter(runner, 1)  # the first update copies
    for mine, averaged in zip(src_model.parameters(), ema_model.module.parameters(), strict=True):
        assert torch.equal(mine, averaged)
    runner.epoch, runner.iter = 1, 1
    randomize(src_model, 2)
    hook.after_train_iter(runner, 1)
    for mine, averaged in zip(src_model.parameters(), ema_model.module.parameters(), strict=True):
        assert not torch.equal(mine, averaged)
    assert int(ema_model.steps) == 2


def test_without_before_run_the_first_call_builds_the_ema_model() -> None:
    hook, runner = EMAHook(), stand_in(toy())
    hook.after_train_iter(runner, 0)
    assert hook.src_model is runner.model and hook.ema_model is not None
    assert int(hook.ema_model.steps) == 1


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def set(self, value: float) -> Tiny:
        with torch.no_grad():
            self.w.fill_(value)
        return self


def test_copies_until_begin_iter_then_averages() -> None:
    hook, runner = EMAHook(momentum=0.5, begin_iter=3), stand_in(Tiny())
    _, ema_model = ready(hook, runner)
    seen = []
    for iteration, value in enumerate((2.0, 4.0, 6.0, 10.0)):
        runner.iter = iteration
        runner.model.set(value)
        hook.after_train_iter(runner, iteration)
        seen.append((ema_model.module.w.item(), int(ema_model.steps)))
    # Iterations 1 and 2 copy; the third starts the average (by copying); the fourth averages.
    assert seen == [(2.0, 0), (4.0, 0), (6.0, 1), (8.0, 2)]


def test_copies_until_begin_epoch_then_averages() -> None:
    hook, runner = EMAHook(momentum=0.5, begin_epoch=2), stand_in(Tiny())
    _, ema_model = ready(hook, runner)
    seen = []
    for epoch, iteration, value in ((0, 0, 2.0), (0, 1, 4.0), (1, 2, 6.0), (1, 3, 10.0)):
        runner.epoch, runner.iter = epoch, iteration
        runner.model.set(value)
        hook.after_train_iter(runner, iteration)
        seen.append(ema_model.module.w.item())
    assert seen == [2.0, 4.0, 6.0, 8.0]


# ------------------------------------------------------------ swapping for evaluation
POINTS = ["before_val_epoch", "after_val_epoch", "before_test_epoch", "after_test_epoch"]


@pytest.mark.parametrize("point", POINTS)
def test_each_evaluation_point_swaps_the_weights_once(point: str) -> None:
    hook, runner = EMAHook(), stand_in(toy())
    src_model, ema_model = ready(hook, runner)
    randomize(src_model, 3)
    before_src, before_ema = copy.deepcopy(src_model), copy.deepcopy(ema_model.module)
    getattr(hook, point)(runner)
    for mine, averaged, old_mine, old_averaged in zip(
        src_model.parameters(),
        ema_model.module.parameters(),
        before_src.parameters(),
        before_ema.parameters(),
        strict=True,
    ):
        assert torch.equal(mine, old_averaged) and torch.equal(averaged, old_mine)


@pytest.mark.parametrize("mode", ["val", "test"])
def test_before_and_after_an_epoch_leave_both_models_as_they_were(mode: str) -> None:
    hook, runner = EMAHook(), stand_in(toy())
    src_model, ema_model = ready(hook, runner)
    randomize(src_model, 4)
    training, average = snapshot(src_model), snapshot(ema_model)
    getattr(hook, f"before_{mode}_epoch")(runner)
    assert not torch.equal(src_model.net[0].weight, training["net.0.weight"])
    getattr(hook, f"after_{mode}_epoch")(runner, {"metric": 1.0})
    assert_same(snapshot(src_model), training)
    assert_same(snapshot(ema_model), average)


def test_update_buffers_swaps_the_buffers_too() -> None:
    for update_buffers, swapped in ((False, False), (True, True)):
        hook, runner = EMAHook(update_buffers=update_buffers), stand_in(toy())
        src_model, _ = ready(hook, runner)
        bn = src_model.net[1]
        bn.running_mean.fill_(5.0)
        hook._swap_ema_parameters()
        assert torch.equal(bn.running_mean, torch.zeros(8)) is swapped


def test_swapping_before_the_ema_model_exists_names_before_run() -> None:
    with pytest.raises(RuntimeError, match="before_run"):
        EMAHook()._swap_ema_parameters()


# ------------------------------------------------------------ checkpoints, directly
def test_before_save_checkpoint_stores_the_average_as_the_state_dict() -> None:
    hook, runner = EMAHook(), stand_in(toy())
    _, ema_model = ready(hook, runner)
    checkpoint = {"state_dict": toy(seed=5).state_dict()}
    original = copy.deepcopy(checkpoint)
    hook.before_save_checkpoint(runner, checkpoint)
    average = ema_model.state_dict()
    assert int(checkpoint["ema_state_dict"]["steps"]) == 0
    for key, value in original["state_dict"].items():
        assert torch.equal(checkpoint["ema_state_dict"][f"module.{key}"], value)
        assert torch.equal(checkpoint["state_dict"][key], average[f"module.{key}"])


def test_loading_without_resuming_starts_the_average_from_the_weights() -> None:
    hook, runner = EMAHook(), stand_in(toy())
    _, ema_model = ready(hook, runner)
    loaded = toy(seed=6).state_dict()
    hook.after_load_checkpoint(runner, {"state_dict": loaded})
    assert_same(snapshot(ema_model.module), loaded)
    # With an ema_state_dict too: loading weights (not resuming) still copies state_dict.
    other = toy(seed=7).state_dict()
    hook.after_load_checkpoint(runner, {"state_dict": other, "ema_state_dict": {}})
    assert_same(snapshot(ema_model.module), other)


def test_resuming_swaps_back_and_restores_the_average() -> None:
    saver, runner = EMAHook(), stand_in(toy())
    src_model, saved_ema = ready(saver, runner)
    randomize(saved_ema.module, 8)  # an average that differs from the training weights
    checkpoint = {"state_dict": snapshot(src_model)}
    saver.before_save_checkpoint(runner, checkpoint)

    resumer, resumed = EMAHook(), stand_in(toy(seed=9), resume=True)
    _, ema_model = ready(resumer, resumed)
    resumer.after_load_checkpoint(resumed, checkpoint)
    assert_same(checkpoint["state_dict"], snapshot(src_model))  # what the runner loads next
    assert_same(snapshot(ema_model), snapshot(saved_ema))


def test_resuming_without_an_ema_state_dict_warns_with_mmengines_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook, runner = EMAHook(), stand_in(toy(), resume=True)
    _, ema_model = ready(hook, runner)
    loaded = toy(seed=10).state_dict()
    with caplog.at_level(logging.WARNING, logger="ema_stand_in"):
        hook.after_load_checkpoint(runner, {"state_dict": loaded})
    assert [r.getMessage() for r in caplog.records] == [NO_EMA_STATE_WARNING]
    assert NO_EMA_STATE_WARNING == (
        "There is no `ema_state_dict` in checkpoint. `EMAHook` will make a copy of "
        "`state_dict` as the initial `ema_state_dict`"
    )
    assert_same(snapshot(ema_model.module), loaded)


def test_strict_load_refuses_a_checkpoint_of_another_model() -> None:
    loaded = toy(seed=11).state_dict()
    loaded["extra.weight"] = torch.zeros(1)
    lenient, runner = EMAHook(), stand_in(toy())
    _, ema_model = ready(lenient, runner)
    lenient.after_load_checkpoint(runner, {"state_dict": loaded})
    assert torch.equal(ema_model.module.net[0].weight, loaded["net.0.weight"])
    strict = EMAHook(strict_load=True)
    ready(strict, runner)
    with pytest.raises(RuntimeError, match=r"extra\.weight"):
        strict.after_load_checkpoint(runner, {"state_dict": loaded})


# ------------------------------------------------------------ real runs
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


@pytest.mark.parametrize(
    ("train_cfg", "begin", "first_averaged"),
    [
        (dict(by_epoch=True, max_epochs=2), dict(begin_epoch=2), 6),
        (dict(by_epoch=False, max_iters=5, val_interval=5), dict(begin_iter=3), 3),
    ],
    ids=["begin_epoch", "begin_iter"],
)
def test_before_the_begin_checkpoints_hold_the_training_weights_twice(
    tmp_path: Path, train_cfg: dict[str, Any], begin: dict[str, int], first_averaged: int
) -> None:
    """MMEngine's run test: until averaging begins, the average is a copy of the model."""
    kwargs = runner_kwargs(tmp_path, train_cfg=train_cfg)
    Runner(**kwargs, custom_hooks=[EMAHook(momentum=0.3, **begin), SaveEveryIter()]).train()
    for iteration in range(1, first_averaged + 2):
        checkpoint = torch.load(tmp_path / f"iter_{iteration}.pth", weights_only=True)
        weights, ema_state = checkpoint["state_dict"], checkpoint["ema_state_dict"]
        copied = all(torch.equal(v, ema_state[f"module.{k}"]) for k, v in weights.items())
        assert copied is (iteration < first_averaged + 1), iteration
        assert int(ema_state["steps"]) == max(0, iteration - first_averaged + 1)


class WithExtra(ToyModel):
    """The toy model plus a layer the checkpoint lacks (MMEngine's ``ToyModel2``)."""

    def __init__(self) -> None:
        super().__init__(batchnorm=True)
        self.extra = nn.Linear(2, 2)


class Renamed(ToyModel):
    """The toy model with its head under other names (MMEngine's ``ToyModel3``)."""

    def __init__(self) -> None:
        super().__init__(batchnorm=True)
        self.net[4] = nn.Sequential(nn.Linear(8, 1))


def test_testing_from_checkpoints_with_and_without_ema_state_and_of_other_models(
    tmp_path: Path,
) -> None:
    """MMEngine's run test: ``load_from`` then ``test()``, in the variants it tries."""
    kwargs = runner_kwargs(tmp_path / "train", train_cfg=dict(by_epoch=True, max_epochs=1))
    train_hook = EMAHook(momentum=0.3)
    trained = Runner(**kwargs, custom_hooks=[train_hook])
    trained.train()
    path = trained.save_checkpoint(tmp_path, "epoch_1.pth")
    checkpoint = torch.load(path, weights_only=True)
    assert int(checkpoint["ema_state_dict"]["steps"]) == 5
    checkpoint.pop("ema_state_dict")
    torch.save(checkpoint, tmp_path / "without_ema_state_dict.pth")

    for name, model in (
        ("epoch_1.pth", ToyModel(batchnorm=True)),
        ("without_ema_state_dict.pth", ToyModel(batchnorm=True)),
        ("without_ema_state_dict.pth", WithExtra()),  # strict_load=False: the others load
        ("without_ema_state_dict.pth", Renamed()),
    ):
        hook = EMAHook(strict_load=False)
        evaluator = WeightRecordingEvaluator(model)
        runner = Runner(
            model=model,
            work_dir=str(tmp_path / "test"),
            test_dataloader=dict(dataset=ToyDataset(8), batch_size=8),
            test_cfg=dict(),
            test_evaluator=evaluator,
            load_from=str(tmp_path / name),
            custom_hooks=[hook],
            log_level="ERROR",
        )
        runner.test()
        assert hook.ema_model is not None
        seen = evaluator.seen[0]["net.0.weight"]
        assert torch.equal(seen, checkpoint["state_dict"]["net.0.weight"])  # the average


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
    command = [sys.executable, str(WORKER), str(work_dir), mode, str(out)]
    status, _, stderr = signal_at(command, at, signal.SIGKILL)
    assert status == -signal.SIGKILL, stderr
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
