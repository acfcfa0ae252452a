"""Version of the hooks-optim distribution."""

__version__ = "0.1.0"
