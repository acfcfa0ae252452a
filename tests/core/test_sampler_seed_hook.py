"""DistSamplerSeedHook: the training sampler learns each epoch, called directly and in a Runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from stand_in import StandInRunner
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler
from toy import ToyDataset, runner_kwargs

from hooks_core import HOOKS, DefaultSampler, DistSamplerSeedHook, FunctionHook, Runner

if TYPE_CHECKING:
    from pathlib import Path


class EpochSampler(SequentialSampler):
    """A sampler that records the epochs it is told."""

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        self.epochs: list[int] = []

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)


def test_the_registry_builds_it() -> None:
    hook = HOOKS.build(dict(type="DistSamplerSeedHook"))
    assert isinstance(hook, DistSamplerSeedHook) and hook.priority == "NORMAL"


def test_the_sampler_gets_the_epoch(tmp_path: Path) -> None:
    sampler = DefaultSampler(range(8), seed=0)
    runner = StandInRunner(tmp_path, train_dataloader=DataLoader(range(8), sampler=sampler))
    runner.epoch = 3
    DistSamplerSeedHook().before_train_epoch(runner)
    assert sampler.epoch == 3


def test_else_the_sampler_inside_the_batch_sampler(tmp_path: Path) -> None:
    inner = EpochSampler(range(8))
    loader = DataLoader(range(8), batch_sampler=BatchSampler(inner, 2, drop_last=False))
    assert not hasattr(loader.sampler, "set_epoch")  # torch put a SequentialSampler there
    runner = StandInRunner(tmp_path, train_dataloader=loader)
    runner.epoch = 1
    DistSamplerSeedHook().before_train_epoch(runner)
    assert inner.epochs == [1]


def test_only_the_loaders_own_sampler_when_both_have_set_epoch(tmp_path: Path) -> None:
    class Loader:  # a custom loader whose two samplers differ
        sampler = EpochSampler(range(4))
        batch_sampler = BatchSampler(EpochSampler(range(4)), 2, drop_last=False)

    runner = StandInRunner(tmp_path, train_dataloader=Loader())
    DistSamplerSeedHook().before_train_epoch(runner)
    assert Loader.sampler.epochs == [0]
    assert Loader.batch_sampler.sampler.epochs == []  # type: ignore[attr-defined]


def test_loaders_without_such_samplers_are_left_alone(tmp_path: Path) -> None:
    for loader in (DataLoader(range(4)), [1, 2], object()):
        DistSamplerSeedHook().before_train_epoch(StandInRunner(tmp_path, train_dataloader=loader))


def epoch_orders(tmp_path: Path, **kwargs: Any) -> list[list[float]]:
    seen: list[Any] = []
    recorder = FunctionHook("after_train_iter", lambda runner, batch_idx, data_batch=None,
                            outputs=None: seen.append(data_batch["targets"]))  # fmt: skip
    train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=2)
    dataloader = dict(dataset=ToyDataset(16), batch_size=16, sampler=dict(type="DefaultSampler"))
    runner = Runner(**runner_kwargs(tmp_path, train_cfg=train_cfg, train_dataloader=dataloader),
                    custom_hooks=[recorder], **kwargs)  # fmt: skip
    runner.train()
    # A batch is a tensor or, collated as MMEngine does, a list of tensors.
    return [torch.stack(list(batch)).flatten().tolist() for batch in seen]


def test_in_a_runner_each_epoch_has_its_own_order(tmp_path: Path) -> None:
    first, second = epoch_orders(tmp_path / "hook")
    assert sorted(first) == sorted(second) and first != second
    # Without the default hook, the sampler repeats the first epoch's order.
    first, second = epoch_orders(tmp_path / "none", default_hooks=dict(sampler_seed=None))
    assert first == second
