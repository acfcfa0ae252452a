"""Restarts under torchrun: a fresh meeting place for each attempt, one checkpoint for all ranks.

With ``--max-restarts N`` (or an elastic ``--nnodes MIN:MAX``), torchrun's agent
stops every worker of the group once one fails and starts them all again, each
with ``TORCHELASTIC_RESTART_COUNT`` counting its agent's restarts. A run with
``resume=True`` then continues from the newest complete checkpoint in its work_dir.
What that needs from the runner:

- each attempt's process group meets in store keys of its own: see
  `hooks_core.dist`'s ``_agent_store``, which `init_dist('pytorch')` uses.
- `picked_by_rank_zero`: the checkpoint to resume is chosen once, on rank 0, and
  every rank reads that file.
- `log_restart`: a restarted attempt says so, and where it continues from.
"""

from __future__ import annotations

import os

from ..registry._build import add_note

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

__all__ = ["log_restart", "picked_by_rank_zero", "restart_count"]


def restart_count() -> int:
    """How often torchrun's agent has restarted this worker's group; 0 outside torchrun."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def picked_by_rank_zero(
    pick: Callable[[], tuple[str | None, T | None]], read: Callable[[str], T]
) -> tuple[str | None, T | None]:
    """Rank 0's ``pick()`` (a checkpoint's path and contents, or Nones); other ranks `read` it.

    So every rank resumes the same file, however it sees the work_dir. An error
    in ``pick`` is raised on rank 0 and, named, on every other rank.
    """
    from ..dist import broadcast_object, get_dist_info

    rank, world_size = get_dist_info()
    if world_size == 1:
        return pick()
    path: str | None = None
    contents: T | None = None
    problem: Exception | None = None
    if rank == 0:
        try:
            path, contents = pick()
        except Exception as err:  # every rank must learn of it, or the others wait for rank 0
            problem = err
    path, message = broadcast_object(
        (path, None if problem is None else f"{type(problem).__name__}: {problem}")
    )
    if problem is not None:
        raise problem
    if message is not None:
        raise RuntimeError(f"rank 0 could not choose the checkpoint to resume: {message}")
    if rank == 0 or path is None:
        return path, contents
    try:
        return path, read(path)
    except (OSError, RuntimeError) as err:  # CheckpointError is a RuntimeError
        add_note(
            err,
            f"rank 0 resumes {path}; every rank reads that file, so the work_dir must be on "
            "storage that every node sees",
        )
        raise


def log_restart(
    logger: logging.Logger, resume: bool, resume_from: str | None, load_from: str | None
) -> None:
    """Say, in a restarted attempt, that torchrun restarted it and where training continues."""
    count = restart_count()
    if count == 0:
        return
    limit = os.environ.get("TORCHELASTIC_MAX_RESTARTS", "?")
    restarted = f"torchrun restarted the workers (restart {count} of at most {limit})"
    if not resume:
        logger.warning(
            "%s, but resume=False: training starts again from the beginning. Set resume=True "
            "(hooks-train --resume) so that a restart continues from the newest checkpoint",
            restarted,
        )
    elif resume_from is not None and resume_from == load_from:
        logger.warning(
            "%s: resuming from load_from=%s again, as configured; without load_from, a "
            "restart continues from the newest checkpoint in the work_dir",
            restarted,
            load_from,
        )
    elif resume_from is not None:
        logger.info("%s: resuming from the newest checkpoint, %s", restarted, resume_from)
    else:
        logger.info("%s: the work_dir has no checkpoint yet; training starts again", restarted)
