"""Seeding every random number generator a training run touches, the same way on every rank."""

from __future__ import annotations

from ..dataset._worker_init import seed_generators
from ..dist import get_rank, sync_random_seed

__all__ = ["set_random_seed"]


def set_random_seed(
    seed: int | None = None, deterministic: bool = False, diff_rank_seed: bool = False
) -> int:
    """Seed python, numpy (when installed) and torch; return the seed used.

    Args:
        seed: The seed; None draws one on rank 0 and shares it with every rank.
        deterministic: Ask torch for deterministic algorithms (slower, reproducible).
        diff_rank_seed: Give each rank its own seed (`seed + rank`), e.g. for
            per-rank data augmentation.

    Returns:
        The seed shared by all ranks (before any per-rank offset), for checkpoints.
    """
    import torch

    if seed is None:
        seed = sync_random_seed()
    seed_generators(seed + get_rank() if diff_rank_seed else seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return seed
