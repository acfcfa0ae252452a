"""Version of the hooks-eval distribution."""

__version__ = "0.1.0"
