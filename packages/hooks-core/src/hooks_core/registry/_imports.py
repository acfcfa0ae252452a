"""`custom_imports`: import the user's modules named in a config so they register their types."""

from __future__ import annotations

import importlib
import warnings

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

__all__ = ["import_modules_from_strings"]


def import_modules_from_strings(
    imports: str | Sequence[str], allow_failed_imports: bool = False
) -> list[ModuleType | None]:
    """Import modules by dotted name, as a config's ``custom_imports`` asks.

    Args:
        imports: One module name or a list of them.
        allow_failed_imports: Warn and continue (the module's entry is None)
            instead of raising when a module cannot be imported.

    Returns:
        The imported modules, in order.

    Example:
        >>> cfg = dict(custom_imports=dict(imports=['json'], allow_failed_imports=False))
        >>> [m.__name__ for m in import_modules_from_strings(**cfg['custom_imports'])]
        ['json']
    """
    names = [imports] if isinstance(imports, str) else list(imports)
    if not all(isinstance(name, str) for name in names):
        raise TypeError(f"custom_imports must be a module name or a list of them, got {imports!r}")
    modules: list[ModuleType | None] = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as err:
            message = (
                f"custom_imports could not import {name!r}: {err}. Check the module name and "
                "that its folder is on sys.path (run from the project root or set PYTHONPATH)."
            )
            if not allow_failed_imports:
                raise ImportError(message) from err
            warnings.warn(message, UserWarning, stacklevel=2)
            modules.append(None)
    return modules
