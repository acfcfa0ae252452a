"""A fresh meeting place for each attempt of a torchrun job's process group.

Since torch 2.5 the workers of every attempt meet in one TCPStore that
torchrun's agent keeps (``TORCHELASTIC_USE_AGENT_STORE=True``), and the ranks
of a restarted attempt (``--max-restarts``, an elastic ``--nnodes MIN:MAX``)
read the addresses the previous attempt's ranks left there before their peers
overwrite them: the new gloo group hangs, or fails connecting to dead
processes. Here rank 0 draws a fresh token and hands it to each rank that asks
for it under a nonce of its own, and the group meets under that token, in keys
no earlier attempt wrote. (The restart count cannot name the attempt: each
agent keeps its own, and an agent restarting its workers for a node that joins
does not count that restart.)
"""

from __future__ import annotations

import os
import time
import uuid

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from torch.distributed.distributed_c10d import Store

__all__ = ["attempt_store"]

_KEYS = "hooks_core/attempt"  # the agent's store holds other keys too
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def attempt_store(dist_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``init_process_group`` arguments (``store``, ``rank``, ``world_size``) for a fresh group.

    Empty, for torch's usual ``env://`` set-up, unless the workers share their
    agent's store, no process group exists yet and `dist_cfg` names no
    ``store`` or ``init_method`` of its own. Waits, as ``init_process_group``
    does, up to ``dist_cfg['timeout']`` (seconds, or a timedelta; torch's
    default otherwise) for every rank to arrive.
    """
    if (
        os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True"
        or not {"store", "init_method"}.isdisjoint(dist_cfg)
        or any(name not in os.environ for name in _TORCHRUN_VARS)
    ):
        return {}
    import datetime

    from torch.distributed import TCPStore  # type: ignore[attr-defined]  # not in its __all__
    from torch.distributed.distributed_c10d import PrefixStore, default_pg_timeout, is_initialized

    if is_initialized():
        return {}
    timeout = dist_cfg.get("timeout")
    if timeout is None:
        timeout = default_pg_timeout
    elif not isinstance(timeout, datetime.timedelta):
        timeout = datetime.timedelta(seconds=timeout)
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    host, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    store = TCPStore(host, port, world_size, is_master=False, timeout=timeout)
    token = _fresh_token(store, rank, world_size, time.monotonic() + timeout.total_seconds())
    group_store = PrefixStore(f"{_KEYS}/{token}/group", store)
    return {"store": group_store, "rank": rank, "world_size": world_size}


def _fresh_token(store: Store, rank: int, world_size: int, deadline: float) -> str:
    """A token only this attempt's ranks know: rank 0 draws it, each other rank asks for it."""
    if rank != 0:
        nonce = uuid.uuid4().hex  # no earlier attempt can have been answered under it
        store.set(f"{_KEYS}/ask/{rank}", nonce)
        token = store.get(f"{_KEYS}/answer/{nonce}").decode()  # waits for rank 0's answer
        store.set(f"{_KEYS}/{token}/took/{rank}", "1")
        return token
    token = uuid.uuid4().hex
    _hand_out(store, token, world_size, deadline)
    return token


def _hand_out(store: Store, token: str, world_size: int, deadline: float) -> None:
    """Answer each rank's request with `token` until every rank has taken it.

    A request read before the rank made its own is one an earlier attempt's rank
    left; it is answered too (nobody reads that answer), and read again.
    """
    answered: dict[int, bytes] = {}
    waiting = list(range(1, world_size))
    while waiting:
        # Blocks until each waiting rank, or one of an earlier attempt, has asked.
        requests = store.multi_get([f"{_KEYS}/ask/{rank}" for rank in waiting])
        for rank, nonce in zip(waiting, requests, strict=True):
            if answered.get(rank) != nonce:
                store.set(f"{_KEYS}/answer/{nonce.decode()}", token)
                answered[rank] = nonce
        waiting = [rank for rank in waiting if not store.check([f"{_KEYS}/{token}/took/{rank}"])]
        if waiting and time.monotonic() > deadline:
            raise TimeoutError(
                f"ranks {waiting} did not join the process group in time; their own logs "
                "say why (raise dist_cfg's timeout if they are only slow to start)"
            )
        if waiting:
            time.sleep(0.01)
