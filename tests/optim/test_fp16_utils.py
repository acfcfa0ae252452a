"""`auto_fp16`, `force_fp32` and `wrap_fp16_model`: what they cast, and only when enabled.

On CPU half precision is bfloat16 (`half_dtype`), so these tests see bfloat16
where MMCV on CUDA sees float16; the dtypes are read inside the decorated
methods, where the casting and autocast act.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from hooks_optim._fp16_utils import (
    auto_fp16,
    cast_tensor_type,
    force_fp32,
    half_dtype,
    wrap_fp16_model,
)


class Head(nn.Module):
    """Records the dtypes its decorated methods see."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(3, 2)
        self.fp16_enabled = False
        self.seen: dict[str, Any] = {}

    @auto_fp16(apply_to=("x",))
    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.fc(x)
        self.seen["forward"] = (x.dtype, None if y is None else y.dtype, out.dtype)
        return self.loss(out)

    @force_fp32(apply_to=("pred",))
    def loss(self, pred: torch.Tensor) -> torch.Tensor:
        product = pred @ pred.T
        self.seen["loss"] = (pred.dtype, product.dtype)
        return product

    @auto_fp16(out_fp32=True)
    def everything(self, x: Any, labels: torch.Tensor, *extra: Any) -> Any:
        self.seen["everything"] = (x, labels.dtype, extra)
        return self.fc(x["a"][0])


def test_half_dtype_is_float16_on_cuda_and_bfloat16_elsewhere() -> None:
    assert half_dtype("cuda") is torch.float16
    assert half_dtype("cpu") is torch.bfloat16


def test_disabled_the_methods_run_as_written() -> None:
    head = Head()
    out = head(torch.ones(4, 3), torch.ones(4, 3))
    assert head.seen["forward"] == (torch.float32,) * 3
    assert head.seen["loss"] == (torch.float32, torch.float32) and out.dtype == torch.float32


def test_enabled_auto_fp16_casts_the_named_arguments_and_autocasts() -> None:
    head = Head()
    head.fp16_enabled = True
    head(torch.ones(4, 3), y=torch.ones(4, 3))
    x_type, y_type, activation = head.seen["forward"]
    assert x_type == torch.bfloat16 and activation == torch.bfloat16
    assert y_type == torch.float32  # not in apply_to


def test_force_fp32_inside_an_fp16_forward_computes_in_float32() -> None:
    head = Head()
    head.fp16_enabled = True
    out = head(torch.ones(4, 3))
    assert head.seen["loss"] == (torch.float32, torch.float32)  # autocast is off inside
    assert out.dtype == torch.float32


def test_force_fp32_out_fp16_casts_the_result_to_half() -> None:
    class Loss(nn.Module):
        fp16_enabled = True

        @force_fp32(out_fp16=True)
        def forward(self, a: torch.Tensor) -> torch.Tensor:
            return a * 2

    out = Loss()(torch.ones(2, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16 and out.tolist() == [2.0, 2.0]


def test_all_arguments_through_containers_only_float32_tensors_and_out_fp32() -> None:
    head = Head()
    head.fp16_enabled = True
    labels = torch.tensor([1, 2])
    extra = torch.ones(1)
    out = head.everything({"a": [torch.ones(1, 3)], "name": "n"}, labels, extra)
    x, label_type, rest = head.seen["everything"]
    assert x["a"][0].dtype == torch.bfloat16 and x["name"] == "n"
    assert label_type == torch.int64  # only float32 tensors are cast
    assert rest[0].dtype == torch.float32  # beyond the named arguments: kept (MMCV dropped them)
    assert out.dtype == torch.float32  # out_fp32


def test_decorating_something_that_is_not_a_module_raises() -> None:
    class Plain:
        fp16_enabled = True

        @auto_fp16()
        def run(self, x: torch.Tensor) -> torch.Tensor:
            return x

        @force_fp32()
        def back(self, x: torch.Tensor) -> torch.Tensor:
            return x

    with pytest.raises(TypeError, match="auto_fp16"):
        Plain().run(torch.ones(1))
    with pytest.raises(TypeError, match="force_fp32"):
        Plain().back(torch.ones(1))


def test_wrap_fp16_model_sets_the_flag_where_it_exists_and_keeps_float32_weights() -> None:
    model = nn.Sequential(Head(), nn.Linear(2, 2))
    wrap_fp16_model(model)
    assert model[0].fp16_enabled is True
    assert not hasattr(model[1], "fp16_enabled")
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_cast_tensor_type_keeps_containers_and_other_types() -> None:
    Pair = namedtuple("Pair", "a b")
    array = np.ones(2, dtype=np.float32)
    cast = cast_tensor_type(
        Pair(torch.ones(1), [torch.ones(1, dtype=torch.float16), array]),
        torch.float32,
        torch.float16,
    )
    assert isinstance(cast, Pair) and cast.a.dtype == torch.float16
    assert cast.b[0].dtype == torch.float16 and cast.b[1] is array
    several = cast_tensor_type(
        (torch.ones(1, dtype=torch.float16), torch.ones(1, dtype=torch.bfloat16)),
        (torch.float16, torch.bfloat16),
        torch.float32,
    )
    assert [t.dtype for t in several] == [torch.float32, torch.float32]
