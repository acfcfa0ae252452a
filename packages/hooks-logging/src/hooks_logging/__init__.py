"""hooks-logging: logger backends for training runs, usable with or without hooks-core's runner.

Importing it registers the backends by name (``'json'``, ``'text'``,
``'tensorboard'``) in hooks-core's ``LOG_BACKENDS``; it imports neither torch nor
tensorboard until a backend that needs them is built.
"""

from __future__ import annotations

from .__about__ import __version__
from ._backend import LoggerBackend
from ._json_backend import JsonBackend
from ._tensorboard_backend import TensorboardBackend
from ._text_backend import TextBackend

__all__ = ["__version__", "LoggerBackend", "JsonBackend", "TextBackend", "TensorboardBackend"]
