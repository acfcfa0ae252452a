"""Version of the hooks-core distribution."""

__version__ = "0.1.0"
