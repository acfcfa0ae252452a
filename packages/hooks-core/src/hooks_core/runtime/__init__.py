"""What a run knows while it runs: the `MessageHub` of scalars and runtime values, the runner's
logger, and the SIGTERM-to-clean-stop signals. Torch-free (tensors are handled by duck typing).
"""

from __future__ import annotations

from ._logging import FILE_ONLY, close_logger, get_runner_logger
from ._message_hub import HistoryBuffer, MessageHub
from ._signals import StopRequested, TrainingInterrupted, stop_requests_on_sigterm

__all__ = ["MessageHub", "HistoryBuffer", "get_runner_logger", "close_logger", "FILE_ONLY",
           "StopRequested",
           "TrainingInterrupted", "stop_requests_on_sigterm"]  # fmt: skip
