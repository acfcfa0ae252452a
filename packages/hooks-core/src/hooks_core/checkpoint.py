"""Checkpoint file mechanics for hooks and satellite packages that save or load on their own.

Atomic writes (temporary file, fsync, rename), the ``last_checkpoint`` pointer,
safe loading (``torch.load(weights_only=True)`` unless told otherwise), state
dicts moved to the CPU, and loading weights with key revision. The runner uses
the same functions; importing this module does not import torch.
"""

from __future__ import annotations

from ._checkpoint_io import (
    find_latest_checkpoint,
    get_rng_state,
    load_checkpoint_file,
    load_state_dict,
    save_checkpoint,
    set_rng_state,
    update_last_checkpoint,
    weights_to_cpu,
    write_atomically,
)

__all__ = [
    "save_checkpoint",
    "load_checkpoint_file",
    "update_last_checkpoint",
    "find_latest_checkpoint",
    "write_atomically",
    "weights_to_cpu",
    "load_state_dict",
    "get_rng_state",
    "set_rng_state",
]
