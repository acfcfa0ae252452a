"""The toy run in its own process, for the tests that kill it and resume it (see killable_run)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))

from killable_run import train_from_command_line
from toy import runner_kwargs

if __name__ == "__main__":
    train_from_command_line(runner_kwargs)
