"""Samplers: reproducible orders, rank partitions, and exact resume with skip()."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.utils.data import DataLoader

from hooks_core import DATA_SAMPLERS
from hooks_core.dataset import DefaultSampler, InfiniteSampler


def take(sampler: InfiniteSampler, count: int) -> list[int]:
    return list(itertools.islice(sampler, count))


def permutation(size: int, seed: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(size, generator=generator).tolist()


# ------------------------------------------------------------ DefaultSampler
def test_order_is_a_function_of_seed_and_epoch() -> None:
    sampler = DefaultSampler(range(50), seed=5)
    first = list(sampler)
    assert first == list(sampler) == list(DefaultSampler(range(50), seed=5))
    assert first == permutation(50, 5)
    assert sorted(first) == list(range(50))
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first and sorted(second) == list(range(50))
    assert second == permutation(50, 6)  # seed + epoch
    assert list(DefaultSampler(range(50), seed=6)) == second
    sampler.set_epoch(0)
    assert list(sampler) == first
    assert list(DefaultSampler(range(50), seed=9)) != first


def test_without_shuffle_the_order_is_the_data_order() -> None:
    sampler = DefaultSampler(range(7), shuffle=False, seed=1)
    assert list(sampler) == list(range(7))
    sampler.set_epoch(3)
    assert list(sampler) == list(range(7))


def test_a_missing_seed_is_drawn_and_kept() -> None:
    sampler = DefaultSampler(range(20))
    assert isinstance(sampler.seed, int)
    assert list(sampler) == list(sampler) == permutation(20, sampler.seed)


def test_two_ranks_partition_the_data() -> None:
    shards = [list(DefaultSampler(range(10), seed=2, rank=r, world_size=2)) for r in (0, 1)]
    order = permutation(10, 2)
    assert shards == [order[0::2], order[1::2]]
    assert sorted(shards[0] + shards[1]) == list(range(10))
    assert [len(DefaultSampler(range(10), rank=r, world_size=2, seed=0)) for r in (0, 1)] == [5, 5]


def test_round_up_pads_from_the_start_so_ranks_get_equal_shares() -> None:
    order = [*permutation(11, 4), permutation(11, 4)[0]]  # 12 = a multiple of 2
    samplers = [DefaultSampler(range(11), seed=4, rank=r, world_size=2) for r in (0, 1)]
    assert [list(s) for s in samplers] == [order[0::2], order[1::2]]
    assert [len(s) for s in samplers] == [6, 6]
    three = [DefaultSampler(range(4), shuffle=False, rank=r, world_size=3) for r in (0, 1, 2)]
    assert [list(s) for s in three] == [[0, 3], [1, 0], [2, 1]]


def test_round_up_pads_tiny_datasets_beyond_one_repeat() -> None:
    samplers = [DefaultSampler(range(2), shuffle=False, rank=r, world_size=5) for r in range(5)]
    assert [list(s) for s in samplers] == [[0], [1], [0], [1], [0]]
    assert all(len(s) == 1 for s in samplers)


def test_without_round_up_ranks_split_without_repeats() -> None:
    samplers = [
        DefaultSampler(range(11), seed=4, round_up=False, rank=r, world_size=2) for r in (0, 1)
    ]
    order = permutation(11, 4)
    assert [list(s) for s in samplers] == [order[0::2], order[1::2]]
    assert [len(s) for s in samplers] == [6, 5]


def test_an_empty_dataset_yields_nothing() -> None:
    sampler = DefaultSampler([], seed=0, rank=1, world_size=2)
    assert list(sampler) == [] and len(sampler) == 0


def test_skip_yields_the_tail_of_a_fresh_iteration_once() -> None:
    sampler = DefaultSampler(range(30), seed=3, rank=1, world_size=2)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.skip(4)
    sampler.set_epoch(2)  # the seed hook runs after a resume: the skip survives it
    assert list(sampler) == full[4:]
    assert list(sampler) == full  # one-shot
    sampler.skip(4)
    sampler.set_epoch(3)
    tail = list(sampler)
    sampler.set_epoch(3)
    assert tail == list(sampler)[4:]
    sampler.skip(len(sampler))
    assert list(sampler) == []


def test_skip_rejects_bad_counts() -> None:
    sampler = DefaultSampler(range(10), seed=0, rank=0, world_size=2)
    with pytest.raises(ValueError, match="skip\\(\\) needs a count >= 0, got -1"):
        sampler.skip(-1)
    with pytest.raises(ValueError, match="cannot skip 6 samples: this rank has only 5"):
        sampler.skip(6)


def test_dataloader_after_skip_yields_the_remaining_batches() -> None:
    dataset = list(range(37))
    full = DefaultSampler(dataset, seed=11)
    full.set_epoch(1)
    expected = [batch.tolist() for batch in DataLoader(dataset, batch_size=4, sampler=full)]
    resumed = DefaultSampler(dataset, seed=11)
    resumed.set_epoch(1)
    resumed.skip(8)  # two batches of 4 were trained on before the interruption
    loader = DataLoader(dataset, batch_size=4, sampler=resumed)
    assert [batch.tolist() for batch in loader] == expected[2:]
    assert [batch.tolist() for batch in loader] == expected  # the next pass is whole


def test_bad_ranks_are_rejected() -> None:
    with pytest.raises(ValueError, match="got rank=2, world_size=2"):
        DefaultSampler(range(4), seed=0, rank=2, world_size=2)
    with pytest.raises(ValueError, match="got rank=0, world_size=0"):
        InfiniteSampler(range(4), seed=0, rank=0, world_size=0)


def test_samplers_are_registered_and_buildable() -> None:
    assert DATA_SAMPLERS.get("DefaultSampler") is DefaultSampler
    assert DATA_SAMPLERS.get("InfiniteSampler") is InfiniteSampler
    sampler = DATA_SAMPLERS.build(
        {"type": "DefaultSampler", "shuffle": False}, default_args={"dataset": range(3)}
    )
    assert list(sampler) == [0, 1, 2]


# ------------------------------------------------------------ InfiniteSampler
def test_infinite_sampler_crosses_pass_boundaries() -> None:
    sampler = InfiniteSampler(range(5), seed=7)
    assert len(sampler) == 5
    expected = permutation(5, 7) + permutation(5, 8) + permutation(5, 9)
    assert take(sampler, 15) == expected
    assert take(sampler, 15) == expected  # every iteration starts at the stream's start
    assert permutation(5, 7) != permutation(5, 8)


def test_infinite_sampler_shards_each_pass_with_padding() -> None:
    streams = [take(InfiniteSampler(range(5), seed=1, rank=r, world_size=2), 9) for r in (0, 1)]
    passes = [[*permutation(5, seed), permutation(5, seed)[0]] for seed in (1, 2, 3)]
    for rank, stream in enumerate(streams):
        assert stream == [i for order in passes for i in order[rank::2]][:9]
    assert len(InfiniteSampler(range(5), seed=1, rank=1, world_size=2)) == 3


def test_infinite_sampler_skip_matches_the_iterated_stream() -> None:
    sampler = InfiniteSampler(range(7), seed=3, rank=1, world_size=3)
    stream = take(sampler, 60)
    for start in (0, 2, 3, 9, 13, 31):  # within, at and past the ends of passes
        sampler.skip(start)
        assert take(sampler, 60 - start) == stream[start:]
    assert take(sampler, 60) == stream  # one-shot


def test_infinite_sampler_skip_does_not_generate_skipped_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sampler = InfiniteSampler(range(4), seed=0)
    made: list[int] = []
    shard = InfiniteSampler._shard

    def recording(self: InfiniteSampler, order_index: int, round_up: bool, start: int) -> list:
        made.append(order_index)
        return shard(self, order_index, round_up, start)

    monkeypatch.setattr(InfiniteSampler, "_shard", recording)
    sampler.skip(4 * 1_000_000 + 1)
    assert take(sampler, 3) == permutation(4, 1_000_000)[1:4]
    assert made == [1_000_000]


def test_infinite_sampler_without_shuffle_and_set_epoch() -> None:
    sampler = InfiniteSampler(range(3), shuffle=False, seed=0)
    sampler.skip(2)
    sampler.set_epoch(5)  # ignored: the skip still applies
    assert take(sampler, 5) == [2, 0, 1, 2, 0]


def test_infinite_sampler_needs_data() -> None:
    with pytest.raises(ValueError, match="non-empty dataset"):
        InfiniteSampler([], seed=0)
    with pytest.raises(ValueError, match="got -3"):
        InfiniteSampler(range(2), seed=0).skip(-3)


def test_infinite_sampler_in_a_dataloader() -> None:
    dataset = list(range(10))
    full = DataLoader(dataset, batch_size=4, sampler=InfiniteSampler(dataset, seed=2))
    batches = [b.tolist() for b in itertools.islice(full, 6)]
    resumed_sampler = InfiniteSampler(dataset, seed=2)
    resumed_sampler.skip(3 * 4)
    resumed = DataLoader(dataset, batch_size=4, sampler=resumed_sampler)
    assert [b.tolist() for b in itertools.islice(resumed, 3)] == batches[3:]
