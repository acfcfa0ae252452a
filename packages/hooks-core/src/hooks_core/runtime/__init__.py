"""What a run knows while it runs: the `MessageHub` of scalars and runtime values, the loggers
(`MMLogger`, `print_log`, the runner's), and the SIGTERM-to-clean-stop signals. Torch-free
(tensors are handled by duck typing); the logging names load `logging` on first use.
"""

from __future__ import annotations

from ..utils import lazy_exports
from ._message_hub import HistoryBuffer, MessageHub
from ._signals import StopRequested, TrainingInterrupted, stop_requests_on_sigterm

__getattr__ = lazy_exports(
    __name__,
    {
        name: "._logging"
        for name in ("MMLogger", "print_log", "get_runner_logger", "close_logger", "FILE_ONLY")
    },
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._logging import FILE_ONLY, MMLogger, close_logger, get_runner_logger, print_log

__all__ = ["MessageHub", "HistoryBuffer", "MMLogger", "print_log", "get_runner_logger",
           "close_logger", "FILE_ONLY", "StopRequested", "TrainingInterrupted",
           "stop_requests_on_sigterm"]  # fmt: skip
