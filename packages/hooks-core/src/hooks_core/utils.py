"""Small helpers every package of the family uses: argument checks, lazily imported names, and
named shared instances (`ManagerMixin`).

Torch-free and dependency-free, so the lowest layers may use them.
"""

from __future__ import annotations

import importlib
import sys
import warnings

TYPE_CHECKING = False  # `typing` costs more to import than this whole module
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, ClassVar, TypeVar

    _T = TypeVar("_T", bound="ManagerMixin")

__all__ = ["check_positive_int", "lazy_exports", "ManagerMixin"]


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


class ManagerMixin:
    """Instances shared by name, as MMEngine's ``ManagerMixin``: one per name, and a current one.

    `get_instance` returns the instance called `name`, creating it from `kwargs`
    on first use; `get_current_instance` returns the most recently created one.
    Each subclass keeps its own instances. Constructing an instance directly
    does not register it.
    """

    _instances: ClassVar[dict[str, Any]] = {}
    _current: ClassVar[Any] = None  # the most recently created instance

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._instances = {}
        cls._current = None

    def __init__(self, name: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(name, str):
            raise TypeError(f"the name of a {type(self).__name__} must be a str, got {name!r}")
        self._instance_name = name

    @property
    def instance_name(self) -> str:
        """The name this instance was created with."""
        return self._instance_name

    @classmethod
    def get_instance(cls: type[_T], name: str, **kwargs: Any) -> _T:
        """Return the instance called `name`, created from `kwargs` (and made current) if new.

        Arguments given for an instance that exists already are ignored, with a warning.

        Raises:
            TypeError: if `name` is not a string.
        """
        if not isinstance(name, str):
            raise TypeError(f"the name of a {cls.__name__} must be a str, got {name!r}")
        instance: _T | None = cls._instances.get(name)
        if instance is None:
            instance = cls._instances.setdefault(name, cls(name=name, **kwargs))
            cls._current = instance
        elif kwargs:
            warnings.warn(
                f"{cls.__name__} {name!r} already exists; ignoring the arguments "
                f"{', '.join(sorted(kwargs))}",
                stacklevel=2,
            )
        return instance

    @classmethod
    def get_current_instance(cls: type[_T]) -> _T:
        """Return the instance most recently created by `get_instance`.

        Raises:
            RuntimeError: no instance was created yet.
        """
        current: _T | None = cls._current
        if current is None:
            raise RuntimeError(
                f"no {cls.__name__} exists yet: call {cls.__name__}.get_instance(name) first"
            )
        return current

    @classmethod
    def check_instance_created(cls, name: str) -> bool:
        """Whether an instance called `name` exists already."""
        return name in cls._instances
