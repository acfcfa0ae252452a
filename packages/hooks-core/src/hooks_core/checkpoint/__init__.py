"""Checkpoint file mechanics for hooks and satellite packages that save or load on their own.

Atomic writes (temporary file, fsync, rename), the ``last_checkpoint`` pointer,
safe loading (``torch.load(weights_only=True)`` unless told otherwise), state
dicts moved to the CPU, and loading weights with key revision. The runner uses
the same functions; importing this module does not import torch.
"""

from __future__ import annotations

from ._io import *  # noqa: F403  (the public names are _io's __all__)
from ._io import __all__ as __all__
