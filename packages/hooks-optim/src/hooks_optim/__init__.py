"""hooks-optim: optimizer wrappers, parameter schedulers and EMA for hooks-core."""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
