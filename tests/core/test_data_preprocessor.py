"""BaseModel's data preprocessor, as MMEngine's: a submodule that follows the model's device."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import pytest
import torch
from toy import PlainOptimWrapper

from hooks_core import MODELS, BaseModel
from hooks_core.model import BaseDataPreprocessor

Pair = namedtuple("Pair", ["left", "right"])


class Doubling(BaseModel):
    def __init__(self, data_preprocessor: Any = None) -> None:
        super().__init__(data_preprocessor)
        self.weight = torch.nn.Parameter(torch.tensor([2.0]))

    def forward(self, inputs: torch.Tensor, mode: str = "tensor") -> Any:
        out = inputs * self.weight
        return {"loss": out.sum()} if mode == "loss" else out


def test_cast_data_moves_nested_tensors_and_keeps_the_rest() -> None:
    preprocessor = BaseDataPreprocessor().to("meta")
    assert preprocessor.device == torch.device("meta")
    data = {"inputs": [torch.ones(2), (torch.zeros(1), "name")], "pair": Pair(torch.ones(1), 3),
            "meta": {"id": 7}, "none": None, "text": "abc"}  # fmt: skip
    cast = preprocessor(data, True)
    assert cast["inputs"][0].device.type == "meta" and cast["inputs"][1][0].device.type == "meta"
    assert cast["inputs"][1][1] == "name" and isinstance(cast["inputs"][1], tuple)
    assert isinstance(cast["pair"], Pair) and cast["pair"].left.device.type == "meta"
    assert cast["pair"].right == 3
    assert cast["meta"] == {"id": 7} and cast["none"] is None and cast["text"] == "abc"
    assert preprocessor.cpu().device == torch.device("cpu")


def test_the_default_is_a_submodule_that_follows_the_model() -> None:
    model = Doubling()
    assert isinstance(model.data_preprocessor, BaseDataPreprocessor)
    assert any(m is model.data_preprocessor for m in model.modules())
    assert list(model.state_dict()) == ["weight"]  # it adds nothing to checkpoints
    model.to("meta")
    assert model.data_preprocessor.device == torch.device("meta")  # type: ignore[attr-defined]
    assert model.data_preprocessor({"inputs": torch.ones(1)})["inputs"].device.type == "meta"
    model = Doubling()
    model.data_preprocessor._device = torch.device("meta")  # type: ignore[attr-defined]
    model.cpu()
    assert model.data_preprocessor.device == torch.device("cpu")  # type: ignore[attr-defined]


def test_a_config_is_built_from_models() -> None:
    model = Doubling(data_preprocessor=dict(type="BaseDataPreprocessor", non_blocking=True))
    assert isinstance(model.data_preprocessor, BaseDataPreprocessor)
    assert model.data_preprocessor._non_blocking is True
    assert MODELS.get("BaseDataPreprocessor") is BaseDataPreprocessor


def test_a_callable_is_used_as_it_is() -> None:
    seen: list[bool] = []

    def preprocess(data: Any, training: bool) -> Any:
        seen.append(training)
        return data

    model = Doubling(data_preprocessor=preprocess)
    wrapper = PlainOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model.train_step([torch.tensor([1.0])], wrapper)
    model.val_step([torch.tensor([1.0])])
    assert seen == [True, False]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="data_preprocessor must be a module, a callable"):
        Doubling(data_preprocessor=3)
    with pytest.raises(NotImplementedError, match=r"init_cfg .* is not supported"):
        BaseModel(init_cfg=dict(type="Kaiming"))


def test_run_forward_unpacks_dicts_and_sequences() -> None:
    model = Doubling()
    assert torch.equal(model._run_forward({"inputs": torch.ones(1)}, "tensor"), torch.tensor([2.0]))
    assert torch.equal(model._run_forward([torch.ones(1)], "tensor"), torch.tensor([2.0]))
    assert model._run_forward((torch.ones(1),), "loss")["loss"].item() == 2.0
