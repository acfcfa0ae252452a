"""The top layer: the `Runner`, its train/val/test `Stage`s and loops, building parts from configs,
checkpoint contents and resume, seeding, the default hooks installed plugins contribute, the
training strategies (`strategy`: one device, DDP, FSDP2), and MMCV 1.x's runners
(`EpochBasedRunner`, `IterBasedRunner`) on top of `Runner`.
"""

from __future__ import annotations

from ._default_hooks import default_hook_configs
from ._log_buffer import LogBuffer
from ._loops import BaseLoop, EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop
from ._mmcv import from_mmcv_config
from ._mmcv_runner import BaseRunner, EpochBasedRunner, IterBasedRunner, IterLoader, build_runner
from ._optimizer_view import OptimizerView
from ._randomness import set_random_seed
from ._runner import Runner
from ._stage import Stage
from ._work_dir_lock import LOCK_FILE, WorkDirLockedError
from .strategy import BaseStrategy, DDPStrategy, FSDPStrategy, SingleDeviceStrategy

__all__ = ["Runner", "Stage", "BaseLoop", "EpochBasedTrainLoop", "IterBasedTrainLoop", "ValLoop",
           "TestLoop", "set_random_seed", "default_hook_configs", "BaseRunner", "EpochBasedRunner",
           "IterBasedRunner", "IterLoader", "build_runner", "LogBuffer",
           "OptimizerView", "from_mmcv_config", "WorkDirLockedError", "LOCK_FILE", "BaseStrategy",
           "SingleDeviceStrategy", "DDPStrategy", "FSDPStrategy"]  # fmt: skip
