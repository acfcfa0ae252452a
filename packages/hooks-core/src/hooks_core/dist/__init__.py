"""Distributed helpers over ``torch.distributed``, with MMEngine's names, that also work alone.

Where this process stands (`get_dist_info`, `get_rank`, `is_main_process`,
`master_only`, ...), tensor and object collectives (`all_reduce`,
`all_gather`, `broadcast`, `all_gather_object`, ...), gathering per-sample
results in dataset order (`collect_results`), and starting or ending the
process group. Without an initialised process group every function behaves
as the only rank would. Importing this package does not import torch.
"""

from __future__ import annotations

from ._dist import *  # noqa: F403  (the public names are the modules' __all__)
from ._dist import __all__ as _collectives
from ._env import *  # noqa: F403
from ._env import __all__ as _env
from ._results import *  # noqa: F403
from ._results import __all__ as _results

__all__ = [*_env, *_collectives, *_results]
