"""Training strategies: how a run places, wraps and checkpoints its model, chosen by config.

``Runner(strategy=dict(type=...))`` (or a config's ``strategy`` key) names one
registered in ``STRATEGIES``; without it the runner keeps its old behaviour.

- `BaseStrategy` (``_base``): what the runner asks of a strategy: wrap the model,
  check the optimizer, share initial weights, and the model's and optimizer's
  state dicts for checkpoints. `SingleDeviceStrategy`: one process.
- `DDPStrategy` (``_ddp``): DistributedDataParallel, from the config keys
  ``model_wrapper_cfg``, ``find_unused_parameters`` and ``sync_bn`` by default.
- `FSDPStrategy` (``_fsdp``): FSDP2 (``fully_shard``): sharding, HSDP, mixed
  precision, CPU offload, activation checkpointing; whole-tensor checkpoints.
- ``_sharded``: DTensor helpers other packages use on sharded models
  (`holds_dtensors`, `gather_state_dict`, `load_whole_tensors`).
- `build_strategy` (``_build``): the runner's strategy from its argument.

Importing this package does not import torch.
"""

from __future__ import annotations

from ._base import BaseStrategy, SingleDeviceStrategy
from ._build import build_strategy
from ._ddp import DDPStrategy
from ._fsdp import FSDPStrategy
from ._sharded import gather_state_dict, holds_dtensors, load_whole_tensors

__all__ = [
    "BaseStrategy",
    "SingleDeviceStrategy",
    "DDPStrategy",
    "FSDPStrategy",
    "build_strategy",
    "holds_dtensors",
    "gather_state_dict",
    "load_whole_tensors",
]
