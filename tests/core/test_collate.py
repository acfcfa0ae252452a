"""`pseudo_collate` and `default_collate`: the batches MMEngine's collate functions give."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
import pytest
import torch

from hooks_core import NotRegisteredError, Runner
from hooks_core.dataset import COLLATE_FUNCTIONS, default_collate, pseudo_collate
from hooks_core.registry import FUNCTIONS

Pair = namedtuple("Pair", ["image", "label"])


def samples(n: int = 2) -> list[dict[str, Any]]:
    return [
        {"inputs": torch.full((1, 3, 5), float(i)), "value": i, "name": str(i),
         "nested": {"score": torch.tensor(0.5 * i)}}
        for i in range(n)
    ]  # fmt: skip


# ------------------------------------------------------------ pseudo_collate
def test_pseudo_collate_gives_a_list_per_key_and_stacks_nothing() -> None:
    data = samples()
    batch = pseudo_collate(data)
    assert list(batch) == ["inputs", "value", "name", "nested"]
    assert batch["inputs"][0] is data[0]["inputs"] and batch["inputs"][1] is data[1]["inputs"]
    assert batch["value"] == [0, 1] and batch["name"] == ["0", "1"]
    scores = batch["nested"]["score"]
    assert all(s is d["nested"]["score"] for s, d in zip(scores, data, strict=True))


def test_pseudo_collate_of_tuples_gives_a_list_per_position() -> None:
    a, b = samples(), samples()
    batch = pseudo_collate([(a[0], a[1]), (b[0], b[1])])  # two samples, each a pair of dicts
    assert isinstance(batch, list) and len(batch) == 2
    assert batch[0]["inputs"][0] is a[0]["inputs"] and batch[0]["inputs"][1] is b[0]["inputs"]
    assert batch[1]["value"] == [1, 1] and batch[1]["name"] == ["1", "1"]
    # Leaves of a sequence sample come back as the column zip made: a tuple per position.
    assert pseudo_collate([(1, "a"), (2, "b")]) == [(1, 2), ("a", "b")]


def test_pseudo_collate_keeps_named_tuples_lists_and_dict_types() -> None:
    batch = pseudo_collate([Pair(torch.zeros(2), 0), Pair(torch.ones(2), 1)])
    assert isinstance(batch, Pair) and batch.label == (0, 1) and len(batch.image) == 2
    assert pseudo_collate([[1, "x"], [2, "y"]]) == [(1, 2), ("x", "y")]

    class Sample(dict):  # a dict subclass stays itself
        pass

    assert type(pseudo_collate([Sample(a=1), Sample(a=2)])) is Sample
    assert pseudo_collate(["a", "b"]) == ["a", "b"]  # strings are leaves, not sequences
    tensors = [torch.zeros(2), torch.ones(3)]  # different shapes batch fine: nothing is stacked
    assert pseudo_collate(tensors) is tensors


def test_samples_of_different_lengths_are_refused() -> None:
    with pytest.raises(RuntimeError, match="different lengths"):
        pseudo_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="different lengths"):
        default_collate([(1, 2), (3,)])


# ------------------------------------------------------------ default_collate
def test_default_collate_stacks_tensors_numbers_and_arrays() -> None:
    first = {"inputs": torch.randn(1, 3, 5), "value": 1, "array": np.array(1)}
    second = {"inputs": torch.randn(1, 3, 5), "value": 2, "array": np.array(2)}
    batch = default_collate([(first, second), (first, second)])
    assert isinstance(batch, list) and len(batch) == 2
    assert batch[0]["inputs"].shape == (2, 1, 3, 5)
    assert torch.equal(batch[0]["inputs"], torch.stack([first["inputs"], first["inputs"]]))
    assert batch[1]["value"].tolist() == [2, 2] and batch[0]["array"].tolist() == [1, 1]
    assert default_collate([{"name": "a"}, {"name": "b"}]) == {"name": ["a", "b"]}


def test_default_collate_keeps_named_tuples() -> None:
    batch = default_collate([Pair(torch.zeros(2), 0), Pair(torch.ones(2), 1)])
    assert isinstance(batch, Pair) and batch.image.shape == (2, 2)
    assert batch.label.tolist() == [0, 1]


def test_default_collate_of_tensor_tuples_is_torchs() -> None:
    """A `TensorDataset`'s samples: the list of stacks torch's ``default_collate`` gives."""
    data = torch.utils.data.TensorDataset(torch.randn(6, 3), torch.arange(6), torch.ones(6, 2, 2))
    drawn = [data[i] for i in (4, 0, 2)]
    ours, torchs = default_collate(drawn), torch.utils.data.default_collate(drawn)
    assert type(ours) is list and len(ours) == 3
    for mine, theirs in zip(ours, torchs, strict=True):
        assert mine.dtype == theirs.dtype and torch.equal(mine, theirs)
    with pytest.raises(RuntimeError, match=r"different lengths \(\[1, 2\]\); each must have 2"):
        default_collate([(torch.zeros(1), torch.zeros(1)), (torch.zeros(1),)])
    with pytest.raises(TypeError):  # a position whose values are not all tensors, as torch says
        default_collate([(torch.zeros(1),), (1,)])


def collate_telling_where(batch: list[Any]) -> tuple[Any, list[bool]]:
    """`default_collate`'s batch, and whether each stack is in shared memory where it was made."""
    stacked = default_collate(batch)
    return stacked, [tensor.is_shared() for tensor in stacked]


def test_default_collate_stacks_into_shared_memory_in_a_dataloader_worker() -> None:
    """As torch's: a worker's batch goes to the main process without another copy."""
    data = torch.utils.data.TensorDataset(torch.randn(4, 3), torch.arange(4))
    for workers in (0, 1):
        loader = torch.utils.data.DataLoader(
            data, batch_size=2, num_workers=workers, collate_fn=collate_telling_where
        )
        (inputs, labels), shared = next(iter(loader))
        assert shared == [bool(workers)] * 2
        assert torch.equal(inputs, data.tensors[0][:2]) and labels.tolist() == [0, 1]


def test_both_are_in_the_functions_registry() -> None:
    assert FUNCTIONS.get("pseudo_collate") is pseudo_collate
    assert FUNCTIONS.get("default_collate") is default_collate
    assert COLLATE_FUNCTIONS is FUNCTIONS  # MMEngine's older name


# ------------------------------------------------------------ in a config-built dataloader
def pairs(n: int = 4) -> list[dict[str, Any]]:
    return [{"x": torch.full((2,), float(i)), "y": i} for i in range(n)]


def loader(**options: Any) -> Any:
    config = dict(dataset=pairs(), batch_size=2, sampler=dict(type="DefaultSampler",
                  shuffle=False), **options)  # fmt: skip
    return Runner.build_dataloader(config, seed=0)


def test_a_config_built_loader_uses_pseudo_collate_by_default() -> None:
    first = next(iter(loader()))
    assert isinstance(first["x"], list) and len(first["x"]) == 2 and first["y"] == [0, 1]


@pytest.fixture
def own_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names a test registers in FUNCTIONS go away after it (the built-in ones are kept)."""
    FUNCTIONS.get("pseudo_collate")  # import the built-in ones first
    monkeypatch.setattr(FUNCTIONS, "_modules", dict(FUNCTIONS._modules))


@pytest.mark.usefixtures("own_functions")
def test_collate_fn_configs_name_a_function_of_the_registry() -> None:
    stacked = next(iter(loader(collate_fn=dict(type="default_collate"))))
    assert stacked["x"].shape == (2, 2) and stacked["y"].tolist() == [0, 1]

    seen: list[int] = []

    @FUNCTIONS.register_module()
    def tagged_collate(batch: list[Any], tag: str = "") -> Any:
        seen.append(len(batch))
        return {"tag": tag, **pseudo_collate(batch)}

    # Extra keys are bound with functools.partial, as in MMEngine.
    tagged = next(iter(loader(collate_fn=dict(type="tagged_collate", tag="t"))))
    assert tagged["tag"] == "t" and seen == [2]
    # `type` may also be the function itself, and a callable is used as it is.
    assert next(iter(loader(collate_fn=dict(type=tagged_collate, tag="u"))))["tag"] == "u"
    assert next(iter(loader(collate_fn=len))) == 2


def test_bad_collate_fn_configs_name_the_fix() -> None:
    with pytest.raises(NotRegisteredError, match="Did you mean 'default_collate'"):
        loader(collate_fn=dict(type="default_colate"))
    with pytest.raises(TypeError, match=r"collate_fn must be a callable or dict\(type=\.\.\.\)"):
        loader(collate_fn="default_collate")
