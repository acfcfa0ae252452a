"""Seeding dataloader worker processes, so random augmentations repeat run after run."""

from __future__ import annotations

import random

__all__ = ["worker_init_fn", "seed_generators"]


def worker_init_fn(
    worker_id: int,
    num_workers: int,
    rank: int,
    seed: int,
    disable_subprocess_warning: bool = False,
) -> None:
    """Seed python, numpy and torch in a worker with ``num_workers * rank + worker_id + seed``.

    The default ``worker_init_fn`` of a dataloader built from a config with a
    seed (as in MMEngine): every worker of every rank gets its own seed, and the
    same one in every run with that seed.

    Args:
        worker_id: This worker's index, ``0 .. num_workers - 1``.
        num_workers: How many workers the dataloader has.
        rank: The process's rank (0 without distribution).
        seed: The run's seed.
        disable_subprocess_warning: Silence warnings in every worker but the
            first, so a warning raised per sample prints once, not once per worker.
    """
    seed_generators(num_workers * rank + worker_id + seed)
    if disable_subprocess_warning and worker_id != 0:
        import warnings

        warnings.simplefilter("ignore")


def seed_generators(seed: int) -> None:
    """Seed python's, numpy's (when installed) and torch's global generators with `seed`."""
    import torch

    random.seed(seed)
    try:
        import numpy as np
    except ImportError:
        pass
    else:
        np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
