"""Small helpers every package of the family uses: argument checks and lazily imported names.

Torch-free and dependency-free, so the lowest layers may use them.
"""

from __future__ import annotations

import importlib
import sys

TYPE_CHECKING = False  # `typing` costs more to import than this whole module
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["check_positive_int", "lazy_exports"]


def check_positive_int(value: object, name: str) -> int:
    """Return `value` if it is an int of at least 1; otherwise raise an error that names `name`.

    Raises:
        TypeError: `value` is not an int (a bool is not accepted either).
        ValueError: `value` is zero or negative.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return value


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` that imports each of `names` from its module on first access.

    Args:
        package: The ``__name__`` of the module that exports the names.
        names: Exported name -> the module that defines it, relative to `package`
            (``{'Runner': '.runner'}``).

    Example:
        >>> __getattr__ = lazy_exports(__name__, {"Runner": ".runner"})  # doctest: +SKIP
    """

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # later reads skip this function
        return value

    return __getattr__
