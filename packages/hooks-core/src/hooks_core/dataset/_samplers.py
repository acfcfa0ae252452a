"""Samplers whose order is a pure function of (seed, epoch), for exact and fast resume.

Each rank takes every ``world_size``-th index of the same global order, so the
ranks partition the data as `torch.utils.data.DistributedSampler` does. Because
the order can be recomputed, a resumed run skips the samples it has already
seen with `skip()`, without loading them. Both samplers are plain iterables of
indices, which a `torch.utils.data.DataLoader` accepts as ``sampler=``.
"""

from __future__ import annotations

from ..dist import get_dist_info, sync_random_seed
from ..registry._roots import DATA_SAMPLERS

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from collections.abc import Iterator, Sized

__all__ = ["DefaultSampler", "InfiniteSampler"]


class _ShardedSampler:
    """What both samplers share: the dataset size, the seed and this rank's share."""

    def __init__(
        self,
        dataset: Sized,
        shuffle: bool,
        seed: int | None,
        rank: int | None,
        world_size: int | None,
    ) -> None:
        dist_rank, dist_world_size = get_dist_info()
        self.rank = dist_rank if rank is None else rank
        self.world_size = dist_world_size if world_size is None else world_size
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(
                f"need world_size >= 1 and 0 <= rank < world_size, "
                f"got rank={self.rank}, world_size={self.world_size}"
            )
        self.dataset = dataset
        self.size = len(dataset)
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self._skip = 0

    def _shard(self, order_index: int, round_up: bool, start: int) -> list[int]:
        """This rank's indices of order `order_index` (an epoch or a pass), from `start` on.

        The global order is a permutation seeded with ``seed + order_index`` (or
        the identity), padded when `round_up` by repeating it from the start to a
        multiple of `world_size`; this rank takes every `world_size`-th index.
        """
        import torch

        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + order_index)
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.arange(self.size)
        total = _round_up(self.size, self.world_size)
        if round_up and total > self.size:
            order = order.repeat(-(-total // self.size))[:total]
        indices: list[int] = order[self.rank :: self.world_size][start:].tolist()
        return indices

    def _take_skip(self) -> int:
        """Return the pending skip and clear it, so it applies to one iteration only."""
        start, self._skip = self._skip, 0
        return start

    def _check_skip(self, num_samples: int) -> None:
        if not isinstance(num_samples, int) or num_samples < 0:
            raise ValueError(f"skip() needs a count >= 0, got {num_samples!r}")


@DATA_SAMPLERS.register_module()
class DefaultSampler(_ShardedSampler):
    """A finite sampler that shuffles each epoch and shards the data across ranks.

    Args:
        dataset: Anything with a length; only ``len(dataset)`` is used.
        shuffle: Visit the data in a new random order each epoch, else in order.
        seed: The base seed of the permutations; None draws one on rank 0 and
            shares it, so every rank computes the same order.
        round_up: Pad the order, by repeating it from the start, to a multiple of
            the world size so every rank yields the same count; else ranks may
            differ by one index and no sample is repeated.
        rank: This process's rank; None reads it from `torch.distributed`. For
            tests and custom launchers.
        world_size: The number of ranks; None reads it from `torch.distributed`.
            For tests and custom launchers.

    Example:
        >>> sampler = DefaultSampler(range(10), seed=0, rank=1, world_size=2)
        >>> len(sampler)
        5
        >>> sampler.skip(3)  # three of this rank's samples were seen before a resume
        >>> len(list(sampler)), len(list(sampler))
        (2, 5)
    """

    def __init__(
        self,
        dataset: Sized,
        shuffle: bool = True,
        seed: int | None = None,
        round_up: bool = True,
        *,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__(dataset, shuffle, seed, rank, world_size)
        self.round_up = round_up
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the order of `epoch`; the runner's DistSamplerSeedHook calls it each epoch.

        A pending `skip` is kept, so a resume can call `skip` before the hook runs.
        """
        self.epoch = epoch

    def skip(self, num_samples: int) -> None:
        """Start the next iteration after this rank's first `num_samples` indices.

        It applies once: the iteration after that starts at the beginning again.
        Used to resume mid-epoch without loading the batches already trained on.
        """
        self._check_skip(num_samples)
        if num_samples > len(self):
            raise ValueError(
                f"cannot skip {num_samples} samples: this rank has only {len(self)} per epoch"
            )
        self._skip = num_samples

    def __iter__(self) -> Iterator[int]:
        return iter(self._shard(self.epoch, self.round_up, self._take_skip()))

    def __len__(self) -> int:
        if self.round_up:
            return _round_up(self.size, self.world_size) // self.world_size
        return len(range(self.rank, self.size, self.world_size))


@DATA_SAMPLERS.register_module()
class InfiniteSampler(_ShardedSampler):
    """An endless sampler for iteration-based training: pass after pass over the data.

    Pass ``p`` visits a permutation seeded with ``seed + p``, padded like
    `DefaultSampler` with ``round_up=True``, so every rank gets exactly
    ``len(self)`` indices per pass and a position in the stream maps to a pass
    and an offset by one division.

    Args:
        dataset: Anything with a non-zero length; only ``len(dataset)`` is used.
        shuffle: Visit each pass in a new random order, else in order.
        seed: The base seed; None draws one on rank 0 and shares it.
        rank: This process's rank; None reads it from `torch.distributed`. For
            tests and custom launchers.
        world_size: The number of ranks; None reads it from `torch.distributed`.
            For tests and custom launchers.
    """

    def __init__(
        self,
        dataset: Sized,
        shuffle: bool = True,
        seed: int | None = None,
        *,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__(dataset, shuffle, seed, rank, world_size)
        if self.size == 0:
            raise ValueError("InfiniteSampler needs a non-empty dataset, or it would never yield")

    def set_epoch(self, epoch: int) -> None:
        """Accept and ignore an epoch, so DistSamplerSeedHook may call it.

        The stream already changes order every pass, and restarting it here
        would undo a `skip` made on resume; only `skip` positions the stream.
        """

    def skip(self, num_samples: int) -> None:
        """Start the next iteration at position `num_samples` of this rank's stream.

        `num_samples` counts every index this rank consumed, across passes, e.g.
        ``iteration * batch_size`` on resume. It applies once; the skipped passes
        are never generated.
        """
        self._check_skip(num_samples)
        self._skip = num_samples

    def __iter__(self) -> Iterator[int]:
        return self._stream(self._take_skip())

    def _stream(self, start: int) -> Iterator[int]:
        """Yield this rank's indices forever, beginning at stream position `start`."""
        pass_index, offset = divmod(start, len(self))
        while True:
            yield from self._shard(pass_index, round_up=True, start=offset)
            pass_index, offset = pass_index + 1, 0

    def __len__(self) -> int:
        return _round_up(self.size, self.world_size) // self.world_size


def _round_up(count: int, multiple: int) -> int:
    """The smallest multiple of `multiple` that is at least `count`."""
    return -(-count // multiple) * multiple
