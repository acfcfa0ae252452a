"""BaseModel: the step protocol built from a `forward`."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import torch
from torch import nn
from toy import PlainOptimWrapper

from hooks_core import BaseModel
from hooks_core.model import is_model_wrapper, unwrap_model


class TwoLosses(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor([2.0]))

    def forward(self, inputs: torch.Tensor, mode: str = "tensor") -> Any:
        out = inputs * self.weight
        if mode == "loss":
            return {
                "loss_main": out.pow(2).mean(),
                "loss_aux": [out.abs().mean(), out.mean()],
                "accuracy": torch.tensor([0.5, 1.0]),
            }
        return out


def test_parse_losses_sums_loss_terms_and_keeps_tensors() -> None:
    model = TwoLosses()
    losses = model(torch.tensor([1.0, -1.0]), mode="loss")
    loss, log_vars = model.parse_losses(losses)
    assert torch.allclose(loss, torch.tensor(4.0 + 2.0 + 0.0))
    assert list(log_vars) == ["loss", "loss_main", "loss_aux", "accuracy"]
    assert all(isinstance(v, torch.Tensor) and not v.requires_grad for v in log_vars.values())
    assert log_vars["accuracy"].item() == pytest.approx(0.75)
    assert loss.requires_grad


def test_parse_losses_errors_name_the_culprit() -> None:
    model = TwoLosses()
    with pytest.raises(TypeError, match="returned loss=float; each value must be a tensor"):
        model.parse_losses({"loss": 1.0})
    with pytest.raises(ValueError, match=r"no entry whose name contains 'loss' \(got \['acc'\]\)"):
        model.parse_losses({"acc": torch.tensor(1.0)})


def test_train_step_runs_the_forward_pass_in_the_wrappers_context() -> None:
    """An empty context is skipped; any other is entered around the forward pass, and only it."""
    seen: list[str] = []

    class Recording:
        def __enter__(self) -> None:
            seen.append("enter")

        def __exit__(self, *exc: object) -> None:
            seen.append("exit")

    class Model(TwoLosses):
        def forward(self, inputs: torch.Tensor, mode: str = "tensor") -> Any:
            seen.append("forward")
            return super().forward(inputs, mode)

    class WithContext(PlainOptimWrapper):
        def optim_context(self, model: nn.Module) -> Recording:
            seen.append("context")
            return Recording()

        def update_params(self, loss: torch.Tensor) -> None:
            seen.append("update")
            super().update_params(loss)

    model = Model()
    model.train_step([torch.tensor([1.0])], WithContext(torch.optim.SGD(model.parameters())))
    assert seen == ["context", "enter", "forward", "exit", "update"]
    seen.clear()
    model.train_step([torch.tensor([1.0])], PlainOptimWrapper(torch.optim.SGD(model.parameters())))
    assert seen == ["forward"]


def _module_call_frames(step: Any) -> list[str]:
    """The ``nn.Module.__call__`` frames `step()` runs, by the class of the module called."""
    frames: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is nn.Module._call_impl.__code__:
            frames.append(type(frame.f_locals["self"]).__name__)

    sys.setprofile(profile)
    try:
        step()
    finally:
        sys.setprofile(None)
    return frames


def test_steps_skip_module_call_machinery_only_when_it_would_just_call_forward() -> None:
    """No hooks, no compile, no trace: the model and its preprocessor run by their ``forward``.

    Each hook ``nn.Module.__call__`` would run (on the model, on the preprocessor,
    module-global) makes the step go through the module's call again.
    """
    model = TwoLosses()
    wrapper = PlainOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
    batch = [torch.tensor([1.0])]

    def train() -> None:
        model.train_step(batch, wrapper)

    assert _module_call_frames(train) == []
    assert _module_call_frames(lambda: model.val_step(batch)) == []
    seen: list[str] = []
    handle = model.register_forward_hook(lambda module, args, out: seen.append("model"))
    assert _module_call_frames(train) == ["TwoLosses"] and seen == ["model"]
    handle.remove()
    preprocessor = model.data_preprocessor
    handle = preprocessor.register_forward_pre_hook(lambda module, args: seen.append("pre"))  # type: ignore[union-attr]
    assert _module_call_frames(train) == ["BaseDataPreprocessor"] and seen == ["model", "pre"]
    handle.remove()
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: seen.append(type(module).__name__)
    )
    try:
        assert _module_call_frames(train) == ["BaseDataPreprocessor", "TwoLosses"]
    finally:
        handle.remove()
    assert seen[2:] == ["BaseDataPreprocessor", "TwoLosses"]
    assert _module_call_frames(train) == []


def test_a_model_with_its_own_call_is_called() -> None:
    calls: list[str] = []

    class OwnCall(TwoLosses):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(kwargs["mode"])
            return super().__call__(*args, **kwargs)

    model = OwnCall()
    model.train_step([torch.tensor([1.0])], PlainOptimWrapper(torch.optim.SGD(model.parameters())))
    model.val_step([torch.tensor([1.0])])
    assert calls == ["loss", "predict"]


def test_train_step_updates_through_the_wrapper() -> None:
    model = TwoLosses()
    wrapper = PlainOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    log_vars = model.train_step([torch.tensor([1.0])], wrapper)
    # d/dw of (w^2 + |w| + w) at w=2 is 2w + 2 = 6, so w becomes 2 - 0.6.
    assert model.weight.item() == pytest.approx(1.4)
    assert log_vars["loss"].item() == pytest.approx(8.0)
    assert torch.equal(model.val_step({"inputs": torch.tensor([1.0])}), torch.tensor([1.4]))


def test_data_follows_the_model_to_its_device() -> None:
    model = TwoLosses()
    batch = {"inputs": torch.ones(2), "meta": "kept"}
    assert model.data_preprocessor(batch)["inputs"].device.type == "cpu"
    model.to("meta")  # the cached device is forgotten when the model moves
    moved = model.data_preprocessor(batch)
    assert moved["inputs"].device.type == "meta"
    assert moved["meta"] == "kept"
    assert model.data_preprocessor((torch.ones(1), [torch.ones(1)]))[1][0].device.type == "meta"


def test_unwrap_model_opens_torch_wrappers_only() -> None:
    class HasModuleAttribute(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.module = nn.Linear(2, 2)  # a submodule that happens to be called `module`

    model = HasModuleAttribute()
    assert not is_model_wrapper(model) and unwrap_model(model) is model
    wrapped = nn.DataParallel(model)
    assert is_model_wrapper(wrapped) and unwrap_model(wrapped) is model
