"""`DefaultOptimWrapperConstructor` and the torch.optim registrations, on real torch modules."""

from __future__ import annotations

import copy
import inspect
import logging
from typing import TYPE_CHECKING, Any

import pytest
import torch
from torch import nn

import hooks_optim._optimizers
from hooks_core import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS, Runner
from hooks_optim._constructor import DefaultOptimWrapperConstructor, build_optim_wrapper
from hooks_optim._optim_wrapper import OptimWrapper

if TYPE_CHECKING:
    from pathlib import Path

LR, WD = 0.1, 0.01


@OPTIM_WRAPPERS.register_module(name="ConstructorTestWrapper")
class RecordingWrapper:
    """A wrapper that keeps what the constructor passed it."""

    def __init__(self, optimizer: torch.optim.Optimizer, **kwargs: Any) -> None:
        self.optimizer = optimizer
        self.kwargs = kwargs


class Net(nn.Module):
    """One parameter of every kind the multipliers tell apart."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(8))  # flat, neither a bias nor a norm's
        self.conv = nn.Conv2d(4, 8, 3)
        self.dwconv = nn.Conv2d(8, 8, 3, groups=8)
        self.bn = nn.BatchNorm2d(8)
        self.ln = nn.LayerNorm(8)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.dwconv(self.conv(x))).mean((2, 3)) * self.scale
        return self.head(self.ln(x))


class Tied(nn.Module):
    """`b` shares `a`'s weight."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(2, 2)
        self.b = nn.Linear(2, 2)
        self.b.weight = self.a.weight


def build(paramwise_cfg: dict[str, Any] | None, model: nn.Module, **optimizer: Any) -> Any:
    optimizer_cfg = {"type": "SGD", "lr": LR, "weight_decay": WD, **optimizer}
    constructor = DefaultOptimWrapperConstructor(dict(optimizer=optimizer_cfg), paramwise_cfg)
    return constructor(model)


def settings(paramwise_cfg: dict[str, Any], model: nn.Module | None = None) -> dict[str, Any]:
    """``{parameter name: (lr, weight_decay)}`` of the optimizer built for `model`."""
    model = Net() if model is None else model
    groups = build(paramwise_cfg, model).optimizer.param_groups
    assert all(len(group["params"]) == 1 for group in groups)
    by_param = {id(group["params"][0]): group for group in groups}
    return {
        name: (by_param[id(p)]["lr"], by_param[id(p)]["weight_decay"])
        for name, p in model.named_parameters()
        if id(p) in by_param
    }


def expected(**overrides: tuple[float, float]) -> dict[str, Any]:
    names = [name for name, _ in Net().named_parameters()]
    base = {name: (LR, WD) for name in names}
    base.update({name.replace("__", "."): value for name, value in overrides.items()})
    return {name: pytest.approx(value) for name, value in base.items()}


# ---------------------------------------------------------------- without paramwise_cfg
def test_sgd_config_builds_the_same_optimizer_as_torch() -> None:
    model = Net()
    twin = copy.deepcopy(model)
    wrapper = build(None, model, weight_decay=0, momentum=0.9)
    reference = torch.optim.SGD(twin.parameters(), lr=LR, momentum=0.9)
    assert isinstance(wrapper, OptimWrapper)
    assert type(wrapper.optimizer) is torch.optim.SGD
    assert wrapper.optimizer.state_dict() == reference.state_dict()
    x = torch.randn(2, 4, 9, 9)
    for net, optimizer in ((model, wrapper.optimizer), (twin, reference)):
        net(x).sum().backward()
        optimizer.step()
    mine, theirs = wrapper.optimizer.state_dict(), reference.state_dict()
    assert mine["param_groups"] == theirs["param_groups"]
    assert mine["state"].keys() == theirs["state"].keys()
    for index, state in mine["state"].items():
        torch.testing.assert_close(state, theirs["state"][index])
    for mine, theirs in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs)


@pytest.mark.parametrize("paramwise_cfg", [None, {}])
def test_without_paramwise_cfg_one_group_holds_every_parameter(
    paramwise_cfg: dict[str, Any] | None,
) -> None:
    model = Net()
    model.head.requires_grad_(False)  # as in torch: frozen ones are kept, silently
    (group,) = build(paramwise_cfg, model).optimizer.param_groups
    assert group["params"] == list(model.parameters())
    assert (group["lr"], group["weight_decay"]) == (LR, WD)


def test_the_runner_builds_it_by_name_with_paramwise_cfg(tmp_path: Path) -> None:
    model = Net()
    cfg = dict(
        optimizer=dict(type="SGD", lr=LR, weight_decay=WD),
        paramwise_cfg=dict(norm_decay_mult=0.0),
        accumulative_counts=2,
        type="ConstructorTestWrapper",
    )
    original = copy.deepcopy(cfg)
    assert OPTIM_WRAPPER_CONSTRUCTORS.get("DefaultOptimWrapperConstructor") is (
        DefaultOptimWrapperConstructor
    )
    wrapper = Runner(model, tmp_path).build_optim_wrapper(cfg)
    assert wrapper.kwargs == {"accumulative_counts": 2}
    assert len(wrapper.optimizer.param_groups) == len(list(model.parameters()))
    assert cfg == original


# ---------------------------------------------------------------- the wrapper and its config
def test_wrapper_type_and_options_are_passed_on_and_the_config_is_left_alone() -> None:
    clip_grad = dict(type="norm", max_norm=1.0)
    cfg = dict(
        type="ConstructorTestWrapper",
        optimizer=dict(type="Adam", lr=1e-3),
        accumulative_counts=4,
        clip_grad=clip_grad,
    )
    paramwise_cfg = dict(custom_keys={"head": dict(lr_mult=0.5)})
    originals = copy.deepcopy((cfg, paramwise_cfg))
    constructor = DefaultOptimWrapperConstructor(cfg, paramwise_cfg)
    first, second = constructor(Net()), constructor(Net())
    assert first.kwargs == {"accumulative_counts": 4, "clip_grad": clip_grad}
    assert first.kwargs["clip_grad"] is not clip_grad  # the wrapper may consume its copy
    assert type(second.optimizer) is torch.optim.Adam
    assert (cfg, paramwise_cfg) == originals


def test_the_default_wrapper_is_optim_wrapper() -> None:
    wrapper = build(dict(bias_lr_mult=2.0), Net())
    assert type(wrapper) is OptimWrapper
    assert type(wrapper.optimizer) is torch.optim.SGD
    # One group per parameter: MMEngine's extra group reports the scheduled base lr.
    assert wrapper.get_lr()["base_lr"] == [LR]


def test_mmengines_attributes_split_the_optimizer_from_the_wrapper_config() -> None:
    cfg = dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=LR, weight_decay=WD))
    constructor = DefaultOptimWrapperConstructor(cfg, dict(norm_decay_mult=0.0))
    assert constructor.optimizer_cfg == dict(type="SGD", lr=LR, weight_decay=WD)
    assert constructor.optim_wrapper_cfg == dict(type="OptimWrapper")
    assert constructor.paramwise_cfg == dict(norm_decay_mult=0.0)
    assert (constructor.base_lr, constructor.base_wd) == (LR, WD)
    assert DefaultOptimWrapperConstructor(dict(optimizer=dict(type="SGD"))).paramwise_cfg == {}


def test_a_data_parallel_model_is_unwrapped() -> None:
    model = Net()
    groups = build(dict(bias_lr_mult=2.0), nn.DataParallel(model)).optimizer.param_groups
    assert [g["params"][0] for g in groups] == list(model.parameters())


@OPTIMIZERS.register_module(name="ConstructorTestModelParams")
class ModelParamsSGD(torch.optim.SGD):
    """An optimizer whose first argument is not called ``params`` (as colossalai's HybridAdam)."""

    def __init__(self, model_params: Any, lr: float = 0.1) -> None:
        super().__init__(model_params, lr=lr)


def test_the_parameters_go_to_the_optimizers_first_argument_whatever_its_name() -> None:
    model = Net()
    for paramwise_cfg in (None, dict(bias_lr_mult=2.0)):
        constructor = DefaultOptimWrapperConstructor(
            dict(optimizer=dict(type="ConstructorTestModelParams", lr=LR)), paramwise_cfg
        )
        optimizer = constructor(model).optimizer
        assert type(optimizer) is ModelParamsSGD
        assert sum(len(g["params"]) for g in optimizer.param_groups) == len(
            list(model.parameters())
        )


class LayerDecay(DefaultOptimWrapperConstructor):
    """A subclass in the style of MMDetection's layer-wise lr decay: its own options and groups."""

    def add_params(
        self, params: list[dict[str, Any]], module: nn.Module, prefix: str = "", **kwargs: Any
    ) -> None:
        rate = self.paramwise_cfg["decay_rate"]
        layers = list(module.children())
        for depth, layer in enumerate(layers):
            scale = rate ** (len(layers) - 1 - depth)
            params.append({"params": list(layer.parameters()), "lr": self.base_lr * scale})


def test_a_subclass_overrides_add_params_and_takes_options_of_its_own() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 1))
    constructor = LayerDecay(dict(optimizer=dict(type="SGD", lr=1.0)), dict(decay_rate=0.5))
    groups = constructor(model).optimizer.param_groups
    assert [g["lr"] for g in groups] == [0.25, 0.5, 1.0]
    with pytest.raises(ValueError, match="unknown paramwise_cfg option 'decay_rate'"):
        DefaultOptimWrapperConstructor(
            dict(optimizer=dict(type="SGD", lr=1.0)), dict(decay_rate=0.5)
        )


def test_add_params_appends_groups_for_a_module_and_its_children() -> None:
    model = Net()
    constructor = DefaultOptimWrapperConstructor(
        dict(optimizer=dict(type="SGD", lr=LR, weight_decay=WD)), dict(norm_decay_mult=0.0)
    )
    params: list[dict[str, Any]] = []
    constructor.add_params(params, model.bn, prefix="bn")
    assert [g["params"][0] for g in params] == [model.bn.weight, model.bn.bias]
    assert [g["weight_decay"] for g in params] == [0.0, 0.0]
    assert all("lr" not in g for g in params)  # MMEngine sets only what a rule changes


def test_dcn_offset_lr_mult_is_accepted_and_needs_mmcv_to_act() -> None:
    assert settings(dict(dcn_offset_lr_mult=0.1)) == expected()


def test_build_optim_wrapper_builds_the_constructor_named_in_the_config() -> None:
    cfg = dict(
        optimizer=dict(type="SGD", lr=LR),
        constructor="DefaultOptimWrapperConstructor",
        paramwise_cfg=dict(custom_keys={"head": dict(lr_mult=0.5)}),
    )
    original = copy.deepcopy(cfg)
    model = Net()
    wrapper = build_optim_wrapper(model, cfg)
    assert cfg == original
    lrs = {id(g["params"][0]): g["lr"] for g in wrapper.optimizer.param_groups}
    assert lrs[id(model.head.weight)] == pytest.approx(LR * 0.5)
    assert lrs[id(model.conv.weight)] == LR
    plain = build_optim_wrapper(Net(), dict(optimizer=dict(type="SGD", lr=LR)))
    assert len(plain.optimizer.param_groups) == 1


# ---------------------------------------------------------------- the multipliers
@pytest.mark.parametrize(
    ("option", "value", "changed"),
    [
        pytest.param(
            "bias_lr_mult",
            2.0,
            dict(conv__bias=(0.2, WD), dwconv__bias=(0.2, WD), head__bias=(0.2, WD)),
            id="bias_lr_mult: every bias but the norms'",
        ),
        pytest.param(
            "bias_decay_mult",
            0.5,
            dict(
                conv__bias=(LR, 0.005),
                dwconv__bias=(LR, 0.005),
                bn__bias=(LR, 0.005),
                ln__bias=(LR, 0.005),
                head__bias=(LR, 0.005),
            ),
            id="bias_decay_mult alone: every bias, norms' too (no norm_decay_mult given)",
        ),
        pytest.param(
            "norm_decay_mult",
            0.0,
            dict(bn__weight=(LR, 0), bn__bias=(LR, 0), ln__weight=(LR, 0), ln__bias=(LR, 0)),
            id="norm_decay_mult: BatchNorm and LayerNorm weights and biases",
        ),
        pytest.param(
            "dwconv_decay_mult",
            0.3,
            dict(dwconv__weight=(LR, 0.003), dwconv__bias=(LR, 0.003)),
            id="dwconv_decay_mult: the depthwise conv only",
        ),
        pytest.param(
            "flat_decay_mult",
            0.2,
            dict(
                scale=(LR, 0.002),
                conv__bias=(LR, 0.002),
                dwconv__bias=(LR, 0.002),
                bn__weight=(LR, 0.002),
                bn__bias=(LR, 0.002),
                ln__weight=(LR, 0.002),
                ln__bias=(LR, 0.002),
                head__bias=(LR, 0.002),
            ),
            id="flat_decay_mult alone: every 1-D parameter",
        ),
    ],
)
def test_each_multiplier_scales_its_parameters_only(
    option: str, value: float, changed: dict[str, tuple[float, float]]
) -> None:
    assert settings({option: value}) == expected(**changed)


def test_weight_decay_multipliers_apply_in_mmengines_order_norm_bias_dwconv_flat() -> None:
    paramwise_cfg = dict(
        norm_decay_mult=0.0, dwconv_decay_mult=0.1, bias_decay_mult=0.2, flat_decay_mult=0.3
    )
    assert settings(paramwise_cfg) == expected(
        scale=(LR, 0.003),
        conv__bias=(LR, 0.002),
        dwconv__weight=(LR, 0.001),
        dwconv__bias=(LR, 0.002),
        bn__weight=(LR, 0),
        bn__bias=(LR, 0),
        ln__weight=(LR, 0),
        ln__bias=(LR, 0),
        head__bias=(LR, 0.002),
    )


@pytest.mark.parametrize(
    "norm",
    [nn.GroupNorm(2, 8), nn.InstanceNorm2d(8, affine=True), nn.SyncBatchNorm(8)],
    ids=lambda norm: type(norm).__name__,
)
def test_other_norm_layers_count_as_norms(norm: nn.Module) -> None:
    model = nn.Sequential(nn.Conv2d(2, 8, 1, bias=False), norm)
    assert settings(dict(norm_decay_mult=0.0, bias_lr_mult=5.0), model) == {
        "0.weight": pytest.approx((LR, WD)),
        "1.weight": pytest.approx((LR, 0)),
        "1.bias": pytest.approx((LR, 0)),
    }


def test_a_grouped_conv_that_is_not_depthwise_is_left_alone() -> None:
    model = nn.Sequential(nn.Conv2d(8, 8, 3, groups=2), nn.Conv1d(2, 2, 3, groups=2))
    result = settings(dict(dwconv_decay_mult=0.0), model)
    assert result == {name: pytest.approx((LR, WD)) for name in result}
    assert len(result) == 4


def test_depthwise_means_mmengines_test_a_conv2d_with_groups_equal_to_in_channels() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3, groups=4, bias=False))
    assert settings(dict(dwconv_decay_mult=0.0), model) == {
        "0.weight": pytest.approx((LR, 0)),  # one input channel, one group: MMEngine's rule
        "0.bias": pytest.approx((LR, 0)),
        "1.weight": pytest.approx((LR, 0)),
    }


def test_rms_norm_is_not_a_norm_as_in_mmengine() -> None:
    rms_norm = getattr(nn, "RMSNorm", None)
    if rms_norm is None:
        pytest.skip("torch has no RMSNorm")
    model = nn.Sequential(nn.Linear(2, 8), rms_norm(8))
    assert settings(dict(norm_decay_mult=0.0), model)["1.weight"] == pytest.approx((LR, WD))


def test_groups_follow_parameter_order() -> None:
    model = Net()
    groups = build(dict(bias_lr_mult=1.0), model).optimizer.param_groups
    assert [group["params"][0] for group in groups] == list(model.parameters())


# ---------------------------------------------------------------- custom_keys
def test_custom_keys_override_the_other_multipliers_and_the_longest_key_wins() -> None:
    paramwise_cfg = dict(
        bias_lr_mult=10.0,
        custom_keys={
            "conv": dict(decay_mult=2.0),  # a substring: matches dwconv too
            "head.bias": dict(lr_mult=3.0, decay_mult=0.0),
            "head": dict(lr_mult=0.5),
        },
    )
    assert settings(paramwise_cfg) == expected(
        conv__weight=(LR, 0.02),
        conv__bias=(LR, 0.02),  # bias_lr_mult does not apply
        dwconv__weight=(LR, 0.02),
        dwconv__bias=(LR, 0.02),
        head__weight=(0.05, WD),
        head__bias=(0.3, 0.0),
    )


def test_custom_keys_of_equal_length_go_to_the_alphabetically_first() -> None:
    # Both keys are in "bn.weight"; only "n.we" is in "ln.weight".
    for custom_keys in ({"n.we": dict(lr_mult=3.0), "bn.w": dict(lr_mult=2.0)},
                        {"bn.w": dict(lr_mult=2.0), "n.we": dict(lr_mult=3.0)}):  # fmt: skip
        assert settings(dict(custom_keys=custom_keys)) == expected(
            bn__weight=(0.2, WD), ln__weight=(0.3, WD)
        )


def test_custom_keys_copy_other_settings_into_the_group() -> None:
    model = Net()
    optimizer = build(
        dict(custom_keys={"head": dict(lr_mult=1.0, momentum=0.5)}), model, momentum=0.9
    ).optimizer
    momentum = {id(g["params"][0]): g["momentum"] for g in optimizer.param_groups}
    assert momentum[id(model.head.weight)] == momentum[id(model.head.bias)] == 0.5
    assert momentum[id(model.conv.weight)] == 0.9
    # As in MMEngine, every key of the entry is copied, the multipliers too.
    lr_mults = {id(g["params"][0]): g.get("lr_mult") for g in optimizer.param_groups}
    assert lr_mults.pop(id(model.head.weight)) == lr_mults.pop(id(model.head.bias)) == 1.0
    assert set(lr_mults.values()) == {None}


# ---------------------------------------------------------------- shared and frozen parameters
def test_a_shared_parameter_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r"'b\.weight' is the same tensor as one added.*bypass"):
        build(dict(bias_lr_mult=2.0), Tied())


def test_bypass_duplicate_keeps_a_shared_parameter_once() -> None:
    model = Tied()
    assert list(settings(dict(bypass_duplicate=True, bias_lr_mult=2.0), model)) == [
        "a.weight",
        "a.bias",
        "b.bias",
    ]


def test_a_module_used_twice_is_visited_once() -> None:
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    for paramwise_cfg in (dict(bias_lr_mult=2.0), dict(bypass_duplicate=True)):
        groups = build(paramwise_cfg, model).optimizer.param_groups
        assert [g["params"][0] for g in groups] == [shared.weight, shared.bias]


def test_frozen_parameters_are_left_out_each_with_a_logged_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = Net()
    model.frozen = nn.Linear(2, 2).requires_grad_(False)
    with caplog.at_level(logging.WARNING, logger="hooks_optim"):
        groups = build(dict(bias_lr_mult=2.0), model).optimizer.param_groups
    assert [r.getMessage() for r in caplog.records] == [
        "frozen.weight is left out of the optimizer: requires_grad=False",
        "frozen.bias is left out of the optimizer: requires_grad=False",
    ]
    assert len(groups) == len(list(Net().parameters()))
    assert not any(g["params"][0] is model.frozen.weight for g in groups)


def test_a_model_with_nothing_to_train_is_an_error() -> None:
    model = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameter"):
        build(dict(bias_lr_mult=2.0), model)


# ---------------------------------------------------------------- validation
def make(paramwise_cfg: Any = None, **optimizer: Any) -> DefaultOptimWrapperConstructor:
    return DefaultOptimWrapperConstructor(
        dict(optimizer={"type": "SGD", **optimizer}), paramwise_cfg
    )


def test_a_misspelt_option_is_named_with_a_suggestion_and_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="bias_lr_mul") as err:
        make(dict(bias_lr_mul=2.0), lr=LR)
    message = str(err.value)
    assert "did you mean 'bias_lr_mult'?" in message
    for option in ("custom_keys", "norm_decay_mult", "flat_decay_mult", "bypass_duplicate"):
        assert option in message


def test_a_misspelt_custom_key_multiplier_is_an_error() -> None:
    with pytest.raises(
        ValueError, match=r"\['head'\] multiplier 'lr_mul' \(did you mean 'lr_mult'"
    ):
        make(dict(custom_keys={"head": dict(lr_mul=0.1)}), lr=LR)
    with pytest.raises(ValueError, match="bias_lr_mult"):
        make(dict(custom_keys={"head": dict(bias_lr_mult=0.1)}), lr=LR)


@pytest.mark.parametrize(
    "option", ["bias_decay_mult", "norm_decay_mult", "dwconv_decay_mult", "flat_decay_mult"]
)
def test_a_decay_multiplier_needs_a_weight_decay(option: str) -> None:
    with pytest.raises(ValueError, match=rf"{option}.*'weight_decay'.*add weight_decay="):
        make({option: 0.0}, lr=LR)


def test_lr_multipliers_need_an_lr() -> None:
    with pytest.raises(ValueError, match=r"bias_lr_mult.*add lr="):
        make(dict(bias_lr_mult=2.0), weight_decay=WD)
    with pytest.raises(ValueError, match=r"\['head'\]\['lr_mult'\].*add lr="):
        make(dict(custom_keys={"head": dict(lr_mult=2.0)}))
    with pytest.raises(ValueError, match=r"\['decay_mult'\].*add weight_decay="):
        make(dict(custom_keys={"head": dict(decay_mult=2.0)}), lr=LR)


@pytest.mark.parametrize(
    ("paramwise_cfg", "error", "match"),
    [
        (["bias_lr_mult"], TypeError, "paramwise_cfg must be a dict or None"),
        (dict(bias_lr_mult=-1.0), ValueError, r"\['bias_lr_mult'\] must be a finite number >= 0"),
        (dict(bias_lr_mult=float("nan")), ValueError, "finite"),
        (dict(bias_lr_mult="2"), TypeError, r"\['bias_lr_mult'\] must be a number"),
        (dict(bias_lr_mult=True), TypeError, "must be a number"),
        (dict(bypass_duplicate=1), TypeError, "bypass_duplicate'] must be a bool"),
        (dict(custom_keys=["head"]), TypeError, r"\['custom_keys'\] must be a dict"),
        (dict(custom_keys={"head": 0.1}), TypeError, r"\['head'\] must be a dict"),
        (dict(custom_keys={1: {}}), TypeError, "substrings"),
        (dict(custom_keys={"head": dict(lr_mult=-2)}), ValueError, r"\['lr_mult'\] must be"),
        (dict(custom_keys={"head": dict(params=[])}), ValueError, "must not set 'params'"),
        (dict(custom_keys={"head": dict(lr=1.0, lr_mult=2)}), ValueError, "sets both"),
    ],
)
def test_bad_paramwise_cfg_values_are_named(
    paramwise_cfg: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        make(paramwise_cfg, lr=LR, weight_decay=WD)


@pytest.mark.parametrize(
    ("cfg", "error", "match"),
    [
        ([("optimizer", {})], TypeError, "optim_wrapper_cfg must be a dict"),
        (dict(type="OptimWrapper"), ValueError, r"needs an 'optimizer'.*got keys \['type'\]"),
        (dict(optimizer="SGD"), TypeError, r"must be a dict config.*OptimWrapper\(optimizer="),
        (dict(optimizer=dict(type="SGD", params=[])), ValueError, "must not set 'params'"),
        (dict(optimizer=dict(type="SGD"), paramwise_cfg={}), ValueError, "paramwise_cfg"),
    ],
)
def test_bad_wrapper_configs_are_named(cfg: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        DefaultOptimWrapperConstructor(cfg)


def test_an_optimizer_instance_is_refused() -> None:
    optimizer = torch.optim.SGD(Net().parameters(), lr=LR)
    with pytest.raises(TypeError, match="got SGD"):
        DefaultOptimWrapperConstructor(dict(optimizer=optimizer))


# ---------------------------------------------------------------- torch.optim registrations
def torch_optimizers() -> dict[str, type]:
    return {
        cls.__name__: cls
        for _, cls in inspect.getmembers(torch.optim, inspect.isclass)
        if issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer
    }


def test_every_torch_optimizer_is_registered_under_its_class_name() -> None:
    expected_classes = torch_optimizers()
    assert {"SGD", "Adam", "AdamW", "LBFGS"} <= set(expected_classes)
    registered = OPTIMIZERS.module_dict
    assert {name: registered.get(name) for name in expected_classes} == expected_classes
    assert "Optimizer" not in registered


def test_register_torch_optimizers_is_idempotent_and_returns_the_names() -> None:
    assert hooks_optim._optimizers.register_torch_optimizers() == sorted(torch_optimizers())


def test_a_name_registered_first_by_someone_else_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    class MyAdam(torch.optim.Adam):
        pass

    monkeypatch.setattr(OPTIMIZERS, "_modules", {"Adam": MyAdam})
    names = hooks_optim._optimizers.register_torch_optimizers()
    assert "Adam" not in names
    assert "AdamW" in names
    assert OPTIMIZERS.module_dict["Adam"] is MyAdam


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop"])
def test_other_optimizers_build_with_paramwise_cfg(name: str) -> None:
    model = Net()
    optimizer = build(dict(norm_decay_mult=0.0), model, type=name, lr=1e-3).optimizer
    assert type(optimizer) is getattr(torch.optim, name)
    decay = {id(g["params"][0]): g["weight_decay"] for g in optimizer.param_groups}
    assert decay[id(model.bn.weight)] == 0.0
    assert decay[id(model.conv.weight)] == WD
