"""NPUProfilerHook: MMEngine's options; without an Ascend NPU it says what is missing."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from hooks_core import HOOKS
from hooks_core.hooks import NPUProfilerHook

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch_npu") is not None, reason="this machine has torch_npu"
)


def test_the_registry_knows_it() -> None:
    assert HOOKS.get("NPUProfilerHook") is NPUProfilerHook
    assert NPUProfilerHook.priority == "VERY_LOW"


@pytest.mark.parametrize(
    "build", [lambda: NPUProfilerHook(), lambda: HOOKS.build(dict(type="NPUProfilerHook", end=2))]
)
def test_without_torch_npu_construction_names_the_missing_device_and_package(build: Any) -> None:
    with pytest.raises(ModuleNotFoundError, match="Ascend NPUs through torch_npu, which is not "
                                                  "installed") as caught:  # fmt: skip
        build()
    assert caught.value.name == "torch_npu"
    assert isinstance(caught.value.__cause__, ImportError)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (dict(begin=1, end=1), ValueError, "need 0 <= begin < end, got begin=1, end=1"),
        (dict(begin=3, end=2), ValueError, "need 0 <= begin < end"),
        (dict(begin=-1), ValueError, "need 0 <= begin < end"),
        (dict(end=2.0), TypeError, "end must be an int, got 2.0"),
    ],
)
def test_bad_iterations_are_refused_before_looking_for_the_npu(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        NPUProfilerHook(**options)
