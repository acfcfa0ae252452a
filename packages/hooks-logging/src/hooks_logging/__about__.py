"""Version of the hooks-logging distribution."""

__version__ = "0.1.0"
