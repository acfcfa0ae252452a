"""Hooks the train command's torchrun tests load with ``custom_imports``: a fault each.

`KillOnce` kills its own process (as a crash would, with no clean-up) when rank
`rank` finishes iteration `at_iter`, unless the file `marker` exists; it creates
the file first, so the attempt torchrun restarts runs through. `RaiseAt` raises
`RuntimeError` there instead, every time.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from hooks_core import HOOKS, Hook


@HOOKS.register_module()
class KillOnce(Hook):
    def __init__(self, marker: str, at_iter: int, rank: int = 1) -> None:
        self.marker, self.at_iter, self.rank = Path(marker), at_iter, rank

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        at_it = runner.rank == self.rank and runner.iter + 1 == self.at_iter
        if at_it and not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class RaiseAt(Hook):
    def __init__(self, at_iter: int, rank: int = 1) -> None:
        self.at_iter, self.rank = at_iter, rank

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if runner.rank == self.rank and runner.iter + 1 == self.at_iter:
            raise RuntimeError(f"RaiseAt: rank {self.rank} fails after iteration {self.at_iter}")
