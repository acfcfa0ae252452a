"""hooks-logging: logging for hooks-core runs, and logger backends usable from any training loop.

Importing it registers `LoggerHook` (hooks-core's default ``logger`` hook),
the MMCV names ``TextLoggerHook`` and ``TensorboardLoggerHook``, the
`LogProcessor`, and the backends by name (``'json'``, ``'text'``,
``'tensorboard'``). It imports neither torch nor tensorboard until something
that needs them is built.
"""

from __future__ import annotations

from .__about__ import __version__
from ._backend import LoggerBackend
from ._json_backend import JsonBackend
from ._log_processor import LogProcessor
from ._logger_hook import LoggerHook
from ._mmcv_loggers import TensorboardLoggerHook, TextLoggerHook
from ._secrets import mask_secrets
from ._tensorboard_backend import TensorboardBackend
from ._text_backend import TextBackend

__all__ = [
    "__version__",
    "LoggerHook",
    "LogProcessor",
    "LoggerBackend",
    "JsonBackend",
    "TextBackend",
    "TensorboardBackend",
    "TextLoggerHook",
    "TensorboardLoggerHook",
    "mask_secrets",
]
