"""Distributed helpers over ``torch.distributed`` that also work in a single process.

Rank and world size, the main process, barriers, broadcasting and gathering
Python objects, and starting or ending the process group, as hooks and
satellite packages need them. Without an initialised process group every
function behaves as the only rank would. Importing this module does not
import torch.
"""

from __future__ import annotations

from ._dist import *  # noqa: F403  (the public names are _dist's __all__)
from ._dist import __all__ as __all__
