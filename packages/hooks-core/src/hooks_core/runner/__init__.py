"""The top layer: the `Runner`, its train/val/test `Stage`s and loops, building parts from configs,
checkpoint contents and resume, seeding, and the default hooks installed plugins contribute.
"""

from __future__ import annotations

from ._default_hooks import default_hook_configs
from ._loops import BaseLoop, EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop
from ._randomness import set_random_seed
from ._runner import Runner
from ._stage import Stage

__all__ = ["Runner", "Stage", "BaseLoop", "EpochBasedTrainLoop", "IterBasedTrainLoop", "ValLoop",
           "TestLoop", "set_random_seed", "default_hook_configs"]  # fmt: skip
