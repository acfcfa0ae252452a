"""The toy run with `EMAHook` in its own process, for the test that kills and resumes it.

Usage: ema_resume_worker.py WORK_DIR {epoch,iter} OUT [--resume]; see killable_run.
The EMA begins at iteration 3; OUT receives the training weights and the
averaged model's state.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # toy_ema

from killable_run import train_from_command_line
from toy_ema import runner_kwargs

from hooks_optim._ema_hook import EMAHook

if __name__ == "__main__":
    ema = EMAHook(momentum=0.3, begin_iter=3, update_buffers=True)
    train_from_command_line(
        runner_kwargs,
        [ema],
        lambda runner: {"model": runner.model.state_dict(), "ema": ema.ema_model.state_dict()},
    )
