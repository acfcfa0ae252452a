"""RuntimeInfoHook: MMEngine's message-hub keys, each point called on its own and in a Runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch
from stand_in import StandInRunner
from torch.utils.data import DataLoader
from toy import PlainOptimWrapper, ToyDataset, ToyModel, runner_kwargs

from hooks_core import HOOKS, Runner, RuntimeInfoHook
from hooks_core.checkpoint import load_checkpoint_file

if TYPE_CHECKING:
    from pathlib import Path


PALETTE = object()  # metainfo may hold objects a safe checkpoint load cannot restore


class WithMetainfo(ToyDataset):
    def __init__(self, metainfo: Any, size: int = 40) -> None:
        super().__init__(size)
        self.metainfo = metainfo


class PrettyConfig(dict[str, Any]):
    """A config that renders itself as text, as MMEngine's Config does."""

    @property
    def pretty_text(self) -> str:
        return "model = dict(type='Toy')\n"


def test_the_registry_builds_it_at_very_high_priority() -> None:
    hook = HOOKS.build(dict(type="RuntimeInfoHook"))
    assert isinstance(hook, RuntimeInfoHook) and hook.priority == "VERY_HIGH"


@pytest.mark.parametrize(
    ("cfg", "text"),
    [(None, None), ({"a": 1}, "{'a': 1}"),
     (PrettyConfig(a=1), "model = dict(type='Toy')\n")],
)  # fmt: skip
def test_before_run_publishes_the_run_description(tmp_path: Path, cfg: Any, text: Any) -> None:
    runner = StandInRunner(tmp_path, cfg=cfg, seed=7)
    RuntimeInfoHook().before_run(runner)
    info = runner.message_hub.runtime_info
    assert info["cfg"] == text
    assert info["seed"] == 7
    assert info["experiment_name"] == runner.experiment_name
    assert info["hooks_core_version"]


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [(ToyDataset(8), "absent"), (WithMetainfo({}, 8), {}), (WithMetainfo(None, 8), None),
     (WithMetainfo({"classes": ("a", "b")}, 8), {"classes": ("a", "b")}),
     (WithMetainfo({"palette": PALETTE}, 8), {"palette": PALETTE})],
)  # fmt: skip
def test_before_train_publishes_the_state_and_any_dataset_meta(
    tmp_path: Path, dataset: Any, expected: Any
) -> None:
    runner = StandInRunner(tmp_path, train_dataloader=DataLoader(dataset, batch_size=4),
                           max_epochs=2, max_iters=8)  # fmt: skip
    runner.epoch, runner.iter = 1, 4  # a resumed run
    RuntimeInfoHook().before_train(runner)
    hub = runner.message_hub
    assert {k: hub.get_info(k) for k in ("loop_stage", "epoch", "iter", "max_epochs",
                                         "max_iters")} == {
        "loop_stage": "train", "epoch": 1, "iter": 4, "max_epochs": 2, "max_iters": 8}  # fmt: skip
    assert hub.get_info("dataset_meta", "absent") == expected
    assert ("dataset_meta" in hub.runtime_info) is (expected != "absent")
    # Published again from the dataset on resume, so not saved (it may hold any object).
    assert "dataset_meta" not in hub.state_dict()["runtime_info"]


def test_before_train_epoch_publishes_the_epoch(tmp_path: Path) -> None:
    runner = StandInRunner(tmp_path)
    runner.epoch = 9
    RuntimeInfoHook().before_train_epoch(runner)
    assert runner.message_hub.get_info("epoch") == 9


def test_before_train_iter_publishes_the_iteration_and_learning_rates(tmp_path: Path) -> None:
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
    runner = StandInRunner(tmp_path, optim_wrapper=PlainOptimWrapper(optimizer))
    runner.iter = 9
    hook = RuntimeInfoHook()
    hook.before_train_iter(runner, batch_idx=2, data_batch=None)
    hub = runner.message_hub
    assert hub.get_info("iter") == 9
    assert hub.get_scalar("train/lr").current() == 0.02


def test_learning_rates_keep_the_wrappers_names(tmp_path: Path) -> None:
    class TwoOptimizers:  # what OptimWrapperDict.get_lr returns: '<name>.lr' keys
        def get_lr(self) -> dict[str, list[float]]:
            return {"gen.lr": [0.01, 0.5], "disc.lr": [0.02], "gen.base_lr": [0.1, 0.5]}

    runner = StandInRunner(tmp_path, optim_wrapper=TwoOptimizers())
    RuntimeInfoHook().before_train_iter(runner, batch_idx=0)
    scalars = {k: v.current() for k, v in runner.message_hub.log_scalars.items()}
    # The first parameter group's value, as MMEngine publishes.
    assert scalars == {"train/gen.lr": 0.01, "train/disc.lr": 0.02, "train/gen.base_lr": 0.1}


def test_before_train_iter_rejects_learning_rates_that_are_not_a_dict(tmp_path: Path) -> None:
    class Broken:
        def get_lr(self) -> list[float]:
            return [0.1]

    runner = StandInRunner(tmp_path, optim_wrapper=Broken())
    with pytest.raises(TypeError, match=r"get_lr\(\) must return a dict .* got list"):
        RuntimeInfoHook().before_train_iter(runner, batch_idx=0)


def test_a_wrapper_without_learning_rates_publishes_only_the_iteration(tmp_path: Path) -> None:
    runner = StandInRunner(tmp_path, optim_wrapper=object())
    runner.iter = 3
    RuntimeInfoHook().before_train_iter(runner, batch_idx=0)
    assert runner.message_hub.get_info("iter") == 3 and runner.message_hub.log_scalars == {}


def test_after_train_iter_publishes_every_output(tmp_path: Path) -> None:
    runner = StandInRunner(tmp_path)
    hook = RuntimeInfoHook()
    loss = torch.tensor(0.25)
    hook.after_train_iter(runner, batch_idx=2, data_batch=None,
                          outputs={"loss_cls": 1.111, "loss": loss})  # fmt: skip
    hub = runner.message_hub
    assert hub.get_scalar("train/loss_cls").current() == 1.111
    assert float(hub.get_scalar("train/loss").current()) == 0.25
    hook.after_train_iter(runner, batch_idx=3)  # no outputs: nothing to publish
    assert len(hub.get_scalar("train/loss_cls")) == 1


@pytest.mark.parametrize("mode", ["val", "test"])
def test_metrics_are_published_with_the_mode_prefix(tmp_path: Path, mode: str) -> None:
    runner = StandInRunner(tmp_path)
    metrics = {
        "acc": 0.8,
        "count": 3,
        "passed": True,  # a bool is an int, so a scalar, as in MMEngine
        "np_mean": np.float32(0.5),
        "one": np.array([0.25]),
        "tensor": torch.tensor(2.0),
        "per_class": [0.1, 0.9],
        "matrix": np.eye(2),
    }
    getattr(RuntimeInfoHook(), f"after_{mode}_epoch")(runner, metrics=metrics)
    hub = runner.message_hub
    scalars = sorted(k for k in hub.log_scalars)
    assert scalars == sorted(f"{mode}/{k}" for k in
                             ("acc", "count", "passed", "np_mean", "one", "tensor"))  # fmt: skip
    assert hub.get_scalar(f"{mode}/acc").current() == 0.8
    assert hub.get_info(f"{mode}/per_class") == [0.1, 0.9]
    assert hub.get_info(f"{mode}/matrix") is metrics["matrix"]
    # Non-scalar metrics are not saved in checkpoints.
    assert f"{mode}/matrix" not in hub.state_dict()["runtime_info"]
    getattr(RuntimeInfoHook(), f"after_{mode}_epoch")(runner)  # no metrics: nothing changes
    assert len(hub.get_scalar(f"{mode}/acc")) == 1


def test_loop_stage_follows_the_loops(tmp_path: Path) -> None:
    runner = StandInRunner(tmp_path, train_dataloader=[])
    hook = RuntimeInfoHook()
    stage = lambda: runner.message_hub.get_info("loop_stage", "absent")  # noqa: E731
    seen = []
    for point in ("before_train", "before_val", "after_val", "after_train",
                  "before_val", "after_val", "before_test", "after_test"):  # fmt: skip
        getattr(hook, point)(runner)
        seen.append(stage())
    assert seen == ["train", "val", "train", "absent", "val", "absent", "test", "absent"]


def test_in_a_runner_and_its_checkpoints(tmp_path: Path) -> None:
    kwargs = runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=2),
                           cfg={"note": "toy run"})  # fmt: skip
    kwargs["train_dataloader"]["dataset"] = WithMetainfo({"classes": ["y"]})
    runner = Runner(**kwargs)
    stages: list[Any] = []
    runner.register_hook(dict(type="FunctionHook", fn_name={
        "before_train_iter": lambda runner, batch_idx, data_batch=None: stages.append(
            runner.message_hub.get_info("loop_stage")),
        "before_val_iter": lambda runner, batch_idx, data_batch=None: stages.append(
            runner.message_hub.get_info("loop_stage"))}))  # fmt: skip
    runner.train()
    hub = runner.message_hub
    assert set(stages) == {"train", "val"} and hub.get_info("loop_stage") is None
    info = hub.runtime_info
    # The config as text: MMEngine's pretty_text where the runner's config has it.
    cfg = runner.cfg
    assert info["cfg"] == (cfg.pretty_text if hasattr(cfg, "pretty_text") else repr(cfg))
    assert "toy run" in info["cfg"] and info["seed"] == 1234
    assert (info["epoch"], info["iter"], info["max_epochs"], info["max_iters"]) == (1, 9, 2, 10)
    assert info["dataset_meta"] == {"classes": ["y"]}
    assert hub.get_scalar("train/lr").current() == 0.05
    assert len(hub.get_scalar("train/loss")) == 10 and len(hub.get_scalar("val/mse")) == 2

    # What it published goes into checkpoints; a resumed run publishes the resumed state.
    path = runner.save_checkpoint(tmp_path, "epoch_2.pth", meta=dict(epoch=2, iter=10))
    saved = load_checkpoint_file(path)["message_hub"]
    assert {"cfg", "seed", "experiment_name", "hooks_core_version", "epoch", "iter",
            "max_epochs", "max_iters"} <= set(saved["runtime_info"])  # fmt: skip
    assert "dataset_meta" not in saved["runtime_info"]  # published again from the dataset
    assert {"train/lr", "train/loss", "val/mse"} <= set(saved["log_scalars"])
    kwargs = runner_kwargs(tmp_path, model=ToyModel(), train_cfg=dict(by_epoch=True, max_epochs=3),
                           resume=True, load_from=path)  # fmt: skip
    kwargs["train_dataloader"]["dataset"] = WithMetainfo({"classes": ["y"]})
    resumed = Runner(**kwargs)
    published: list[tuple[int, int]] = []
    hub = resumed.message_hub
    resumed.register_hook(dict(type="FunctionHook", priority="LOWEST", fn_name={
        "before_train": lambda runner: published.append(
            (hub.get_info("epoch"), hub.get_info("iter")))}))  # fmt: skip
    resumed.train()
    assert published == [(2, 10)]
    assert len(resumed.message_hub.get_scalar("train/loss")) == 15  # the history was resumed
