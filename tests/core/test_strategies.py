"""Strategies chosen by config: the default, the registry, option checks, and their errors.

No torchrun here: a run on two ranks is ``tests/integration/test_fsdp.py``. What
needs a process group uses a real one-rank gloo group in this process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import torch
from toy import PlainOptimWrapper, ToyModel, runner_kwargs

from hooks_core import NotRegisteredError, Runner
from hooks_core.model import model_class_name
from hooks_core.registry import STRATEGIES
from hooks_core.runner.strategy import (
    DDPStrategy,
    FSDPStrategy,
    SingleDeviceStrategy,
    build_strategy,
    gather_state_dict,
    holds_dtensors,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

FSDP = {"type": "FSDPStrategy"}


@pytest.fixture
def one_rank() -> Iterator[None]:
    """A real gloo process group of one rank in this process (no torchrun, no port)."""
    store = torch.distributed.HashStore()
    torch.distributed.init_process_group("gloo", store=store, rank=0, world_size=1)
    yield
    torch.distributed.destroy_process_group()


def test_the_strategies_are_registered_by_name() -> None:
    assert STRATEGIES.get("SingleDeviceStrategy") is SingleDeviceStrategy
    assert STRATEGIES.get("DDPStrategy") is DDPStrategy
    assert STRATEGIES.get("FSDPStrategy") is FSDPStrategy


def test_without_a_strategy_a_run_keeps_the_runners_old_choice() -> None:
    assert type(build_strategy(None, {}, distributed=False)) is SingleDeviceStrategy
    cfg = {"model_wrapper_cfg": {"find_unused_parameters": True}, "sync_bn": "torch"}
    ddp = build_strategy(None, cfg, distributed=True)
    assert isinstance(ddp, DDPStrategy)
    assert ddp.model_wrapper == {"find_unused_parameters": True}
    assert ddp.model_wrapper is not cfg["model_wrapper_cfg"]  # the config is left alone
    assert ddp.sync_bn == "torch"
    legacy = build_strategy(None, {"find_unused_parameters": True}, distributed=True)
    assert isinstance(legacy, DDPStrategy) and legacy.find_unused_parameters


def test_a_runner_trains_the_same_with_the_single_device_strategy(tmp_path: Path) -> None:
    runners = []
    for name, strategy in (("default", None), ("chosen", {"type": "SingleDeviceStrategy"})):
        runner = Runner(**runner_kwargs(tmp_path / name, strategy=strategy))
        assert type(runner.strategy) is SingleDeviceStrategy
        runner.train()  # one after the other: each run seeds the RNG its dropout draws from
        runners.append(runner)
    default, chosen = runners
    for a, b in zip(default.model.parameters(), chosen.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_from_cfg_reads_the_strategy_and_an_object_is_taken_as_it_is(tmp_path: Path) -> None:
    runner = Runner.from_cfg({"model": ToyModel(), "work_dir": str(tmp_path / "a"),
                              "strategy": {"type": "SingleDeviceStrategy"}})  # fmt: skip
    assert type(runner.strategy) is SingleDeviceStrategy
    strategy = SingleDeviceStrategy()
    assert Runner(ToyModel(), tmp_path / "b", strategy=strategy).strategy is strategy


def test_an_unknown_strategy_names_the_registered_ones(tmp_path: Path) -> None:
    with pytest.raises(
        NotRegisteredError,
        match=r"'FSPDStrategy' is not a registered strategy; the registered ones are "
        r"DDPStrategy, FSDPStrategy, SingleDeviceStrategy",
    ):
        Runner(ToyModel(), tmp_path, strategy={"type": "FSPDStrategy"})


def test_a_strategy_config_needs_a_type_and_a_strategy_a_known_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"strategy config needs a 'type', one of DDPStrategy"):
        Runner(ToyModel(), tmp_path, strategy={"mesh_shape": (2,)})
    with pytest.raises(TypeError, match="strategy must be a strategy object or a config"):
        Runner(ToyModel(), tmp_path, strategy="FSDPStrategy")


def test_the_configs_ddp_keys_must_move_into_the_strategy(tmp_path: Path) -> None:
    cfg = {"find_unused_parameters": True, "sync_bn": "torch"}
    with pytest.raises(
        ValueError,
        match=r"sets find_unused_parameters, sync_bn and a strategy: give them to the strategy "
        r"instead, e\.g\. strategy=dict\(type='DDPStrategy', find_unused_parameters=\.\.\., "
        r"sync_bn=\.\.\.\)",
    ):
        Runner(ToyModel(), tmp_path, strategy=FSDP, cfg=cfg)
    # An explicit False is no setting: configs from MMEngine often carry it.
    Runner(ToyModel(), tmp_path, strategy={"type": "SingleDeviceStrategy"},
           cfg={"find_unused_parameters": False})  # fmt: skip


@pytest.mark.parametrize("strategy", [FSDP, {"type": "DDPStrategy"}], ids=["fsdp", "ddp"])
def test_a_distributed_strategy_without_a_process_group_says_how_to_launch(
    tmp_path: Path, strategy: dict[str, Any]
) -> None:
    with pytest.raises(
        RuntimeError,
        match=rf"{strategy['type']} needs an initialised process group, and this process has "
        r"none: launch with torchrun \(e\.g\. torchrun --nproc_per_node=2 train\.py\) and give "
        r"the runner launcher='pytorch', or use strategy=dict\(type='SingleDeviceStrategy'\)",
    ):
        Runner(ToyModel(), tmp_path, strategy=strategy)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"mesh_shape": (1, 1, 2)}, ValueError, r"mesh_shape must be None, \(shard,\) or"),
        ({"mesh_shape": (2, 0)}, ValueError, r"mesh_shape must hold positive ints, got \(2, 0\)"),
        ({"mesh_shape": 2}, ValueError, r"\(replicate, shard\) for HSDP, got 2"),
        ({"wrap_policy": "Linear"}, TypeError, r"wrap_policy must be a list of module class"),
        ({"wrap_policy": []}, TypeError, r"wrap_policy must be a list of module class names"),
        ({"wrap_policy": {"min_params": 10}}, ValueError, r"dict\(min_num_params=N\)"),
        ({"wrap_policy": {"min_num_params": 0}}, ValueError, r"with a positive int N"),
        ({"mixed_precision": "bf16"}, TypeError, r"mixed_precision must be a dict"),
        ({"mixed_precision": {"compute_dtype": "bfloat16"}}, ValueError,
         r"does not take compute_dtype; its keys are param_dtype, reduce_dtype"),
        ({"mixed_precision": {"param_dtype": "bf16"}}, ValueError,
         r"param_dtype='bf16': give one of float32, float16, bfloat16"),
        ({"mixed_precision": {"cast_forward_inputs": 1}}, TypeError,
         r"cast_forward_inputs must be True or False, got 1"),
        ({"cpu_offload": "yes"}, TypeError, r"cpu_offload must be True or False, got 'yes'"),
        ({"activation_checkpointing": "Block"}, TypeError, r"activation_checkpointing must be a"),
        ({"reshard_after_forward": None}, TypeError, r"reshard_after_forward must be True"),
        ({"state_dict_cfg": "local"}, ValueError, r"state_dict_cfg='local': give 'full'"),
    ],
)  # fmt: skip
def test_fsdp_options_are_checked_when_the_strategy_is_made(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        FSDPStrategy(**options)


def test_fsdp_options_that_are_right_are_kept() -> None:
    strategy = FSDPStrategy(
        mesh_shape=[1, 2],
        wrap_policy={"min_num_params": 100},
        mixed_precision={"param_dtype": torch.bfloat16, "reduce_dtype": "float32"},
        activation_checkpointing=["Block"],
    )
    assert strategy.mesh_shape == (1, 2)
    assert strategy.wrap_policy == 100
    assert strategy.mixed_precision == {"param_dtype": torch.bfloat16, "reduce_dtype": "float32"}
    assert strategy.activation_checkpointing == ("Block",)
    assert "mesh_shape=(1, 2)" in repr(strategy)


@pytest.mark.usefixtures("one_rank")
def test_the_mesh_must_hold_the_world_size() -> None:
    with pytest.raises(
        ValueError,
        match=r"mesh_shape=\(1, 2\) holds 2 ranks but this run has 1 \(torchrun's world size\): "
        r"give a shape whose product is 1, e\.g\. \(1,\) to shard over every rank",
    ):
        FSDPStrategy(mesh_shape=(1, 2)).wrap_model(ToyModel())


@pytest.mark.usefixtures("one_rank")
def test_class_names_must_be_the_models() -> None:
    for option in ("wrap_policy", "activation_checkpointing"):
        with pytest.raises(
            ValueError,
            match=rf"{option} names 'Block', but ToyModel has no module of that class; its "
            r"module classes are BaseDataPreprocessor, Dropout, Linear, ReLU, Sequential, ToyModel",
        ):
            FSDPStrategy(**{option: ["Linear", "Block"]}).wrap_model(ToyModel())


@pytest.mark.usefixtures("one_rank")
def test_fsdp_refuses_a_wrapper_or_its_config() -> None:
    with pytest.raises(TypeError, match="so model_wrapper_cfg must be None"):
        FSDPStrategy().wrap_model(ToyModel(), {"find_unused_parameters": True})
    ddp = torch.nn.parallel.DistributedDataParallel(ToyModel())
    with pytest.raises(TypeError, match="give it the model, not DistributedDataParallel"):
        FSDPStrategy().wrap_model(ddp)


@pytest.mark.usefixtures("one_rank")
def test_a_sharded_model_loads_and_gives_whole_tensors() -> None:
    torch.manual_seed(0)
    plain = ToyModel(dropout=0.0)
    whole = {key: value.clone() for key, value in plain.state_dict().items()}
    torch.manual_seed(1)
    strategy = FSDPStrategy(wrap_policy=["Linear"])
    model = strategy.wrap_model(ToyModel(dropout=0.0))
    assert holds_dtensors(model.parameters()) and not holds_dtensors(plain.parameters())
    strategy.load_model_state_dict(model, whole)  # whole tensors, as a .pth file holds them
    for name, value in gather_state_dict(model.state_dict()).items():
        assert torch.equal(value, whole[name]), name
    assert sorted(strategy.model_state_dict(model)) == sorted(whole)


@pytest.mark.usefixtures("one_rank")
def test_a_sharded_model_is_named_by_its_own_class(tmp_path: Path) -> None:
    """``fully_shard`` turns ToyModel into FSDPToyModel in place; users see their class's name."""
    runner = Runner(**runner_kwargs(tmp_path), strategy=FSDP)
    assert type(runner.model).__name__ == "FSDPToyModel"
    assert runner.model_name == model_class_name(runner.model) == "ToyModel"
    wrapped = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))
    assert model_class_name(wrapped) == "Linear"


@pytest.mark.usefixtures("one_rank")
def test_the_optimizer_must_be_built_over_the_shards_and_its_state_numbered() -> None:
    strategy = FSDPStrategy()
    model = ToyModel(dropout=0.0)
    early = PlainOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model = strategy.wrap_model(model)
    with pytest.raises(ValueError, match="4 parameters of the optimizer are not the sharded"):
        strategy.prepare_optim_wrapper(early, model)
    wrapper = PlainOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    assert strategy.prepare_optim_wrapper(wrapper, model) is wrapper
    wrapper.update_params(model(torch.ones(2, 4)).sum())
    state = strategy.optim_state_dict(model, wrapper)
    assert state["param_groups"][0]["params"] == [0, 1, 2, 3]  # as an unsharded optimizer's
    assert sorted(state["state"]) == [0, 1, 2, 3]
    two_groups = {**state, "param_groups": [state["param_groups"][0]] * 2}
    with pytest.raises(ValueError, match="has 2 parameter groups and this one 1"):
        strategy.load_optim_state_dict(model, wrapper, two_groups)
    strategy.load_optim_state_dict(model, wrapper, state)
