"""PrepareTTAHook and BaseTTAModel: testing every augmented copy of a batch and merging."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import torch
from stand_in import StandInRunner
from torch.utils.data import DataLoader, Dataset
from toy import MseEvaluator, ToyDataset, ToyModel, runner_kwargs

from hooks_core import HOOKS, MODELS, BaseModel, Hook, Runner
from hooks_core.hooks import PrepareTTAHook
from hooks_core.model import BaseTTAModel

if TYPE_CHECKING:
    from pathlib import Path


@MODELS.register_module()
class MeanTTA(BaseTTAModel):
    """Average each sample's predictions over its augmented copies."""

    def merge_preds(self, data_samples_list: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        self.seen = data_samples_list
        return [
            {"prediction": torch.stack([p["prediction"] for p in preds]).mean(0),
             "target": preds[0]["target"]}
            for preds in data_samples_list
        ]  # fmt: skip


@MODELS.register_module()
class Linear(BaseModel):
    """A linear model, so the mean of its outputs on x + d and x - d is its output on x."""

    def __init__(self, data_preprocessor: Any = None) -> None:
        super().__init__(data_preprocessor)
        torch.manual_seed(0)
        self.net = torch.nn.Linear(4, 1)

    def forward(self, inputs: Any, targets: Any = None, mode: str = "tensor") -> Any:
        inputs = torch.stack(list(inputs)) if isinstance(inputs, list) else inputs
        targets = torch.stack(list(targets)) if isinstance(targets, list) else targets
        prediction = self.net(inputs)
        if mode == "predict":
            return [{"prediction": p, "target": t} for p, t in zip(prediction, targets,
                                                                 strict=True)]  # fmt: skip
        return {"loss": torch.nn.functional.mse_loss(prediction, targets)}


class Augmented(Dataset[dict[str, list[torch.Tensor]]]):
    """Each sample as two augmented copies, x + 0.5 and x - 0.5 (what a TTA pipeline yields)."""

    def __init__(self, base: ToyDataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, list[torch.Tensor]]:
        sample = self.base[index]
        inputs, target = sample["inputs"], sample["targets"]
        return {"inputs": [inputs + 0.5, inputs - 0.5], "targets": [target, target]}


def tta_collate(samples: list[dict[str, list[torch.Tensor]]]) -> dict[str, list[list[Any]]]:
    """Per field, one list per augmentation holding that augmentation of every sample."""
    return {key: [[s[key][aug] for s in samples] for aug in range(2)] for key in samples[0]}


# ------------------------------------------------------------ PrepareTTAHook
def test_the_registry_builds_it_and_keeps_the_config() -> None:
    tta_cfg = dict(type="MeanTTA")
    hook = HOOKS.build(dict(type="PrepareTTAHook", tta_cfg=tta_cfg))
    assert isinstance(hook, PrepareTTAHook) and isinstance(hook, Hook)
    assert hook.tta_cfg is tta_cfg and hook.priority == "NORMAL"
    with pytest.raises(TypeError, match="tta_cfg must be a config dict"):
        PrepareTTAHook("MeanTTA")  # type: ignore[arg-type]


def test_before_test_wraps_the_runners_model(tmp_path: Path) -> None:
    model = Linear()
    runner = StandInRunner(tmp_path, model=model)
    tta_cfg = dict(type="MeanTTA")
    hook = PrepareTTAHook(tta_cfg)
    hook.before_test(runner)
    assert isinstance(runner.model, MeanTTA) and runner.model.module is model
    assert tta_cfg == dict(type="MeanTTA")  # not modified
    wrapped = runner.model
    hook.before_test(runner)  # testing again: the same wrapper, not a wrapper around it
    assert runner.model is wrapped
    runner.model = Linear()  # a new model gets its own wrapper
    hook.before_test(runner)
    assert isinstance(runner.model, MeanTTA) and runner.model is not wrapped


def test_in_a_runner_the_test_runs_on_every_augmented_copy(tmp_path: Path) -> None:
    kwargs = runner_kwargs(tmp_path, model=Linear())
    for key in ("train_dataloader", "train_cfg", "optim_wrapper"):
        del kwargs[key]
    plain = DataLoader(ToyDataset(16, seed=1), batch_size=8)
    runner = Runner(**kwargs, test_dataloader=plain, test_cfg=dict(),
                    test_evaluator=MseEvaluator())  # fmt: skip
    expected = runner.test()["mse"]

    augmented = DataLoader(Augmented(ToyDataset(16, seed=1)), batch_size=8,
                           collate_fn=tta_collate)  # fmt: skip
    hook = dict(type="PrepareTTAHook", tta_cfg=dict(type="MeanTTA"))
    runner = Runner(**kwargs, test_dataloader=augmented, test_cfg=dict(),
                    test_evaluator=MseEvaluator(), custom_hooks=[hook])  # fmt: skip
    assert not isinstance(runner.model, BaseTTAModel)
    metrics = runner.test()
    assert isinstance(runner.model, MeanTTA)
    assert metrics["mse"] == pytest.approx(expected, rel=1e-5)
    assert len(runner.model.seen) == 8 and all(len(preds) == 2 for preds in runner.model.seen)


def test_in_a_trained_runner_testing_uses_the_trained_model(tmp_path: Path) -> None:
    kwargs = runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1))
    augmented = DataLoader(Augmented(ToyDataset(8, seed=1)), batch_size=4,
                           collate_fn=tta_collate)  # fmt: skip
    runner = Runner(**kwargs, test_dataloader=augmented, test_cfg=dict(),
                    test_evaluator=MseEvaluator(),
                    custom_hooks=[PrepareTTAHook(dict(type="MeanTTA"))])  # fmt: skip
    runner.train()
    trained = runner.model
    assert isinstance(trained, ToyModel)
    runner.test()
    assert runner.model.module is trained


# ------------------------------------------------------------ BaseTTAModel
def test_base_tta_model_is_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        BaseTTAModel(Linear())  # type: ignore[abstract]


def test_it_splits_a_dict_batch_by_augmentation_and_merges() -> None:
    model = MeanTTA(Linear())
    inputs = torch.randn(3, 4)
    batch = {"inputs": [inputs + 1, inputs - 1], "targets": [torch.zeros(3, 1)] * 2}
    merged = model.test_step(batch)
    expected = model.module.test_step({"inputs": inputs, "targets": torch.zeros(3, 1)})
    assert len(model.seen) == 3 and all(len(preds) == 2 for preds in model.seen)
    for got, want in zip(merged, expected, strict=True):
        assert torch.allclose(got["prediction"], want["prediction"], atol=1e-6)


def test_it_splits_a_tuple_batch_too() -> None:
    class FirstOnly(BaseTTAModel):
        def merge_preds(self, data_samples_list: list[tuple[Any, ...]]) -> list[Any]:
            return [preds[0] for preds in data_samples_list]

    model = FirstOnly(Linear())
    inputs = torch.randn(2, 4)
    merged = model.test_step(([inputs, inputs * 0], [torch.ones(2, 1), torch.ones(2, 1)]))
    assert torch.allclose(torch.stack([m["prediction"] for m in merged]), model.module.net(inputs))
    with pytest.raises(TypeError, match="expects a batch as a dict, list or tuple"):
        model.test_step(inputs)
    with pytest.raises(NotImplementedError, match="forward is not called in testing"):
        model(inputs)


def test_the_wrapped_model_may_be_a_config() -> None:
    preprocessor = dict(type="BaseDataPreprocessor", non_blocking=True)
    model = MODELS.build(dict(type="MeanTTA", module=dict(type="Linear"),
                              data_preprocessor=preprocessor))  # fmt: skip
    assert isinstance(model, MeanTTA) and isinstance(model.module, Linear)
    assert model.module.data_preprocessor._non_blocking is True
    assert preprocessor == dict(type="BaseDataPreprocessor", non_blocking=True)


def test_the_wrapped_model_needs_a_test_step() -> None:
    with pytest.raises(TypeError, match="needs a model with test_step"):
        MeanTTA(torch.nn.Linear(1, 1))
    with pytest.raises(TypeError, match=r"wraps an nn\.Module or its config dict, got str"):
        MeanTTA("Linear")  # type: ignore[arg-type]
