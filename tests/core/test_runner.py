"""The Runner: hook call order, validation schedule, defaults, building, save and resume."""

from __future__ import annotations

import pickle
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import torch
from toy import MseEvaluator, SaveEveryIter, ToyModel, runner_kwargs

from hooks_core import (
    HOOKS,
    DistSamplerSeedHook,
    Hook,
    IterTimerHook,
    NotRegisteredError,
    Runner,
    RuntimeInfoHook,
)
from hooks_core.checkpoint import load_checkpoint_file


class Recorder(Hook):
    """Record every hook point with the counters the runner shows at that moment."""

    priority = "LOWEST"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def _record(self, runner: Any, point: str, *extra: Any) -> None:
        self.calls.append((point, runner.epoch, runner.iter, *extra))


for _point in Hook.stages:

    def _method(
        self: Recorder, runner: Any, *args: Any, _point: str = _point, **kwargs: Any
    ) -> None:
        extra = (kwargs["batch_idx"],) if "batch_idx" in kwargs else ()
        self._record(runner, _point, *extra)

    setattr(Recorder, _point, _method)


def points(recorder: Recorder, prefix: str = "") -> list[str]:
    return [c[0] for c in recorder.calls if c[0].startswith(prefix)]


def test_epoch_based_training_calls_hooks_in_mmengine_order(tmp_path: Path) -> None:
    recorder = Recorder()
    kwargs = runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1))
    kwargs["train_dataloader"]["dataset"] = kwargs["train_dataloader"]["dataset"].__class__(16)
    runner = Runner(**kwargs, custom_hooks=[recorder])
    runner.train()
    train_iter = ["before_train_iter", "after_train_iter"]
    val = ["before_val", "before_val_epoch", *["before_val_iter", "after_val_iter"] * 2,
           "after_val_epoch", "after_val"]  # fmt: skip
    epoch = ["before_train_epoch", *train_iter * 2, "after_train_epoch", *val]
    expected = ["before_run", "before_train", *epoch * 2, "after_train", "after_run"]
    assert points(recorder) == expected
    # Validation runs after the epoch counter moved on; batch_idx counts within the epoch.
    assert ("after_train_epoch", 0, 2) in recorder.calls
    assert ("before_val", 1, 2) in recorder.calls
    assert [c[3] for c in recorder.calls if c[0] == "before_train_iter"] == [0, 1, 0, 1]
    assert (runner.epoch, runner.iter, runner.max_epochs, runner.max_iters) == (2, 4, 2, 4)


def test_iter_based_training_validates_every_interval(tmp_path: Path) -> None:
    recorder = Recorder()
    kwargs = runner_kwargs(tmp_path, train_cfg=dict(by_epoch=False, max_iters=7, val_interval=3))
    runner = Runner(**kwargs, custom_hooks=[recorder])
    runner.train()
    assert points(recorder, "before_train_epoch") == ["before_train_epoch"]  # once
    # batch_idx is the global iteration in iteration-based training.
    assert [c[3] for c in recorder.calls if c[0] == "after_train_iter"] == list(range(7))
    assert [c[2] for c in recorder.calls if c[0] == "before_val"] == [3, 6, 7]
    assert (runner.max_epochs, runner.max_iters, runner.iter) == (1, 7, 7)


def test_val_begin_and_dynamic_intervals(tmp_path: Path) -> None:
    recorder = Recorder()
    train_cfg = dict(by_epoch=True, max_epochs=6, val_begin=2, val_interval=2,
                     dynamic_intervals=[(4, 1)])  # fmt: skip
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=train_cfg), custom_hooks=[recorder])
    runner.train()
    assert [c[1] for c in recorder.calls if c[0] == "before_val"] == [2, 4, 5, 6]


def test_a_hook_can_stop_training(tmp_path: Path) -> None:
    class StopAfterTwo(Hook):
        def after_train_epoch(self, runner: Any) -> None:
            if runner.epoch == 1:
                runner.train_loop.stop_training = True

    runner = Runner(**runner_kwargs(tmp_path), custom_hooks=[StopAfterTwo()])
    runner.train()
    assert runner.epoch == 2


def test_val_and_test_return_metrics(tmp_path: Path) -> None:
    kwargs = runner_kwargs(tmp_path)
    kwargs.update(test_dataloader=kwargs["val_dataloader"], test_cfg=dict(),
                  test_evaluator=MseEvaluator())  # fmt: skip
    runner = Runner(**kwargs)
    metrics = runner.val()
    assert set(metrics) == {"mse"} and metrics["mse"] > 0
    assert runner.test() == metrics  # same data, same model
    assert runner.message_hub.get_scalar("test/mse").current() == metrics["mse"]


class ModelWithLoss(ToyModel):
    """Returns its loss after the predictions from val_step and test_step."""

    def val_step(self, data: Any) -> Any:
        return [*super().val_step(data), {"loss": torch.tensor(2.0)}]

    def test_step(self, data: Any) -> Any:
        return [*super().test_step(data), {"loss": torch.tensor(3.0)}]


def test_eval_losses_are_named_after_their_loop(tmp_path: Path) -> None:
    torch.manual_seed(0)
    kwargs = runner_kwargs(tmp_path, model=ModelWithLoss())
    kwargs.update(test_dataloader=kwargs["val_dataloader"], test_cfg=dict(),
                  test_evaluator=MseEvaluator())  # fmt: skip
    runner = Runner(**kwargs)
    assert runner.val()["val_loss"] == 2.0
    test_metrics = runner.test()
    assert test_metrics["test_loss"] == 3.0 and "val_loss" not in test_metrics


def test_a_subclass_call_hook_sees_every_point_the_loops_call(tmp_path: Path) -> None:
    seen: list[str] = []

    class CountingRunner(Runner):
        def call_hook(self, fn_name: str, **kwargs: Any) -> None:
            seen.append(fn_name)
            super().call_hook(fn_name, **kwargs)

    runner = CountingRunner(**runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1)))
    runner.train()
    assert seen.count("before_train_iter") == seen.count("after_train_iter") == 5
    assert seen[:3] == ["before_run", "before_train", "before_train_epoch"]
    assert "after_val_epoch" in seen and seen[-1] == "after_run"


def test_stages_build_their_loops_once_on_first_use(tmp_path: Path) -> None:
    runner = Runner(**runner_kwargs(tmp_path))
    assert runner.built_train_loop is None and (runner.epoch, runner.iter) == (0, 0)
    loop = runner.train_loop
    assert runner.built_train_loop is loop and runner.train_loop is loop
    assert (
        runner.val_loop is runner.val_loop and runner.val_dataloader is runner.val_loop.dataloader
    )
    assert runner.val_evaluator is runner.val_loop.evaluator
    assert runner.test_loop is None and runner.test_dataloader is None
    assert runner.test_evaluator is None
    bare = Runner(ToyModel(), tmp_path / "bare", log_level="WARNING")
    assert bare.train_loop is None and (bare.max_epochs, bare.max_iters) == (0, 0)  # MMEngine's
    with pytest.raises(RuntimeError, match="cannot train"):
        bare.train()


def test_runtime_info_reaches_the_message_hub_as_tensors(tmp_path: Path) -> None:
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1)))
    runner.train()
    hub = runner.message_hub
    loss = hub.get_scalar("train/loss").current()
    assert isinstance(loss, torch.Tensor) and loss.ndim == 0
    assert hub.get_scalar("train/lr").current() == pytest.approx(0.05)
    assert hub.get_scalar("train/time").current() > 0
    assert isinstance(hub.get_scalar("val/mse").current(), float)
    assert hub.get_info("epoch") == 0 and hub.get_info("max_iters") == 5
    assert hub.get_info("eta") == pytest.approx(0, abs=1e-9)


def test_default_hooks_and_their_overrides(tmp_path: Path) -> None:
    @HOOKS.register_module()
    class ExtraDefault(Hook):
        pass

    runner = Runner(**runner_kwargs(tmp_path))
    assert [type(h) for h in runner.hooks] == [RuntimeInfoHook, IterTimerHook, DistSamplerSeedHook]
    runner = Runner(
        **runner_kwargs(tmp_path),
        default_hooks=dict(timer=None, extra=dict(type="ExtraDefault", priority="HIGHEST")),
        custom_hooks=[dict(type="ExtraDefault")],
    )
    assert [(type(h).__name__, h.priority) for h in runner.hooks] == [
        ("ExtraDefault", "HIGHEST"),
        ("RuntimeInfoHook", "VERY_HIGH"),
        ("DistSamplerSeedHook", "NORMAL"),
        ("ExtraDefault", "NORMAL"),
    ]
    assert "before_train_epoch:\n(VERY_HIGH   ) RuntimeInfoHook" in runner.get_hooks_info()


def test_incomplete_stages_are_rejected_with_the_missing_names(tmp_path: Path) -> None:
    kwargs = runner_kwargs(tmp_path)
    with pytest.raises(ValueError, match="train_dataloader, optim_wrapper given without train_cfg"):
        Runner(**dict(kwargs, train_cfg=None))
    with pytest.raises(ValueError, match="given without val_evaluator"):
        Runner(**dict(kwargs, val_evaluator=None))
    with pytest.raises(ValueError, match="param_scheduler needs an optim_wrapper"):
        Runner(model=ToyModel(), work_dir=str(tmp_path), param_scheduler=[dict(type="X")])
    runner = Runner(model=ToyModel(), work_dir=str(tmp_path))
    with pytest.raises(RuntimeError, match="cannot train: give train_dataloader"):
        runner.train()
    with pytest.raises(RuntimeError, match="cannot val: give val_dataloader"):
        runner.val()


def test_satellite_types_in_configs_name_the_package_to_install(tmp_path: Path) -> None:
    kwargs = runner_kwargs(
        tmp_path, optim_wrapper=dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.1))
    )
    with pytest.raises(NotRegisteredError, match=r'pip install "\./packages/hooks-optim"'):
        Runner(**kwargs).train()
    with pytest.raises(NotRegisteredError, match=r'pip install "\./packages/hooks-eval"'):
        Runner(**runner_kwargs(tmp_path, val_evaluator=dict(type="Accuracy"))).val()


def test_from_cfg_reads_the_runner_keys(tmp_path: Path) -> None:
    cfg = runner_kwargs(tmp_path, experiment_name="demo")
    cfg["unrelated_key"] = 1
    runner = Runner.from_cfg(cfg)
    assert runner.experiment_name.startswith("demo_")
    assert runner.cfg is not None and runner.cfg["unrelated_key"] == 1
    with pytest.raises(KeyError, match="no work_dir"):
        Runner.from_cfg({"model": ToyModel()})


def final_weights(runner: Runner) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def test_resume_mid_epoch_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    reference = Runner(**runner_kwargs(tmp_path / "ref"))
    reference.train()

    # Train the first 7 of 15 iterations (mid-epoch 2), saving every iteration.
    partial = Runner(**runner_kwargs(tmp_path / "run"), custom_hooks=[SaveEveryIter()])

    class Stop(Hook):
        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            if runner.iter + 1 == 7:
                raise KeyboardInterrupt

    partial.register_hook(Stop(), priority="LOWEST")
    with pytest.raises(KeyboardInterrupt):
        partial.train()
    assert (tmp_path / "run" / "last_checkpoint").read_text().endswith("iter_7.pth")

    resumed = Runner(**runner_kwargs(tmp_path / "run", model=ToyModel(), resume=True,
                                     randomness=dict(seed=None)))  # fmt: skip
    resumed.train()
    assert resumed.seed == 1234  # taken from the checkpoint
    for key, value in final_weights(reference).items():
        assert torch.equal(final_weights(resumed)[key], value), key


def test_load_from_loads_weights_only(tmp_path: Path) -> None:
    trained = Runner(**runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1)))
    trained.train()
    path = trained.save_checkpoint(tmp_path, "final.pth")
    fresh = Runner(**runner_kwargs(tmp_path, model=ToyModel(), load_from=path))
    assert fresh.val() == trained.val()
    assert fresh.epoch == 0


def test_hooks_extend_checkpoints_and_see_them_loaded(tmp_path: Path) -> None:
    class Counter(Hook):
        def __init__(self) -> None:
            self.saved = 0
            self.restored: int | None = None

        def before_save_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
            self.saved += 1
            checkpoint["counter"] = self.saved

        def after_load_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
            self.restored = checkpoint["counter"]

    counter = Counter()
    runner = Runner(**runner_kwargs(tmp_path), custom_hooks=[counter])
    runner.save_checkpoint(tmp_path, "a.pth")
    path = runner.save_checkpoint(tmp_path, "b.pth")
    fresh = Counter()
    Runner(**runner_kwargs(tmp_path, load_from=path), custom_hooks=[fresh]).val()
    assert (counter.saved, fresh.restored) == (2, 2)


def test_collect_checkpoint_returns_what_a_save_writes_without_writing(tmp_path: Path) -> None:
    class Mark(Hook):
        def before_save_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
            checkpoint["mark"] = "seen"

    runner = Runner(**runner_kwargs(tmp_path / "run"), custom_hooks=[Mark()])
    collected = runner.collect_checkpoint(save_optimizer=False, meta={"note": 1}, by_epoch=False)
    assert not (tmp_path / "run" / "last_checkpoint").exists()  # nothing written, no pointer
    assert collected["mark"] == "seen"
    assert (collected["meta"]["epoch"], collected["meta"]["iter"]) == (0, 1)  # by_epoch=False
    assert collected["meta"]["note"] == 1
    assert "optimizer" not in collected
    saved = load_checkpoint_file(runner.save_checkpoint(tmp_path, "a.pth", save_optimizer=False))
    assert set(saved) == set(collected)
    for key, value in collected["state_dict"].items():
        assert torch.equal(saved["state_dict"][key], value), key


def test_unsafe_checkpoint_is_refused_unless_trusted(tmp_path: Path) -> None:
    runner = Runner(**runner_kwargs(tmp_path))
    state = {"state_dict": runner.model.state_dict(), "meta": {}, "note": Fraction(1, 3)}
    torch.save(state, tmp_path / "custom.pth")
    with pytest.raises(pickle.UnpicklingError, match="weights_only=False"):
        runner.load_checkpoint(str(tmp_path / "custom.pth"))
    trusted = runner.load_checkpoint(str(tmp_path / "custom.pth"), weights_only=False)
    assert trusted["note"] == Fraction(1, 3)


def test_no_value_is_pulled_to_the_host_during_training_iterations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the first hook before a step to the last hook after it, values stay tensors.

    The default hooks and the model's step must not call `.item()`, `float()` or
    `.tolist()`, each of which waits for the device. (Loading the next batch is
    outside this window: the sampler's index list lives on the CPU.)
    """
    conversions: list[str] = []

    def forbidden(name: str) -> Any:
        def convert(*args: Any, **kwargs: Any) -> Any:
            conversions.append(name)
            raise AssertionError(f"Tensor.{name} called during a training iteration")

        return convert

    class Arm(Hook):
        def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
            for name in ("item", "tolist", "__float__", "__int__", "__bool__"):
                monkeypatch.setattr(torch.Tensor, name, forbidden(name))

    class Disarm(Hook):
        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            monkeypatch.undo()

    runner = Runner(**runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=2)))
    runner.register_hook(Arm(), priority="HIGHEST")
    runner.register_hook(Disarm(), priority="LOWEST")
    runner.train()
    assert runner.iter == 10
    assert conversions == []


def test_dataloader_configs_accept_torch_style_shuffle(tmp_path: Path) -> None:
    runner = Runner(**runner_kwargs(tmp_path))
    loader = runner.build_dataloader(dict(dataset=list(range(10)), batch_size=5, shuffle=False))
    assert list(loader) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]  # pseudo_collate: lists
    with pytest.raises(ValueError, match="'shuffle' or 'sampler', not both"):
        runner.build_dataloader(
            dict(dataset=list(range(4)), shuffle=True, sampler=dict(type="DefaultSampler"))
        )


def test_the_hook_table_goes_to_the_log_file_and_a_summary_to_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = Runner(**runner_kwargs(tmp_path, log_level="INFO"))
    console = capsys.readouterr().out
    log_file = Path(runner.log_dir) / f"{runner.timestamp}.log"
    assert "Hooks will be executed in the following order" in log_file.read_text()
    assert "Hooks will be executed" not in console
    assert f"3 hooks registered; the order they run in at each point is in {log_file}" in console
