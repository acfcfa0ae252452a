"""Checkpoint file mechanics for hooks and satellite packages that save or load on their own.

Atomic writes (temporary file, fsync, rename), the ``last_checkpoint`` pointer,
safe loading (``torch.load(weights_only=True)`` unless told otherwise), state
dicts moved to the CPU, loading weights with key revision, checkpoints at
fsspec URLs, and sharded checkpoints (folders every rank writes with
``torch.distributed.checkpoint``). The runner uses the same functions;
importing this module does not import torch.
"""

from __future__ import annotations

from ._distributed import (
    WHOLE_OPTIMIZER,
    is_sharded_checkpoint,
    numbered_optim_state,
    optimizer_wrappers,
    read_checkpoint,
    remove_checkpoint,
    resolve_format,
    save_sharded,
    sharded_path,
)
from ._io import *  # noqa: F403  (the public names are _io's __all__)
from ._io import __all__ as _FILE_NAMES
from ._rng import get_rng_state, set_rng_state

__all__ = [
    *_FILE_NAMES,
    "get_rng_state",
    "set_rng_state",
    "is_sharded_checkpoint",
    "read_checkpoint",
    "remove_checkpoint",
    "resolve_format",
    "save_sharded",
    "sharded_path",
    "optimizer_wrappers",
    "numbered_optim_state",
    "WHOLE_OPTIMIZER",
]
