"""`ConfigDict`: a dict whose keys read and write as attributes, as MMEngine's does.

Nested plain dicts (also inside lists and tuples) become `ConfigDict` when
stored, so ``cfg.model.backbone.depth`` works at any depth. It is a real
`dict`: anything that accepts a config dict accepts it.
"""

from __future__ import annotations

from collections import OrderedDict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ConfigDict", "to_plain"]


class ConfigDict(dict):  # type: ignore[type-arg]
    """A dict with attribute access to its keys.

    A missing key read as an attribute is an `AttributeError` naming it (so
    `hasattr` and `getattr(cfg, key, default)` work); read as an item, a
    `KeyError`. `update` merges nested dicts instead of replacing them, as
    MMEngine's does.

    Example:
        >>> cfg = ConfigDict(model=dict(type='ResNet', depth=50))
        >>> cfg.model.depth
        50
        >>> cfg.optim = dict(lr=0.1)
        >>> type(cfg['optim']).__name__, cfg.optim.lr
        ('ConfigDict', 0.1)
    """

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    @classmethod
    def _hook(cls, value: Any) -> Any:
        """`value` with its plain dicts turned into this class (lists and tuples walked)."""
        if type(value) in (dict, OrderedDict):
            return ConfigDict(value)  # nested dicts of a `Config` are ConfigDicts too
        if type(value) in (list, tuple):
            return type(value)(cls._hook(item) for item in value)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, self._hook(value))

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(self._missing(name), name=name, obj=self) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(self._missing(name), name=name, obj=self) from None

    def _missing(self, name: str) -> str:
        message = f"'{type(self).__name__}' object has no attribute {name!r}"
        if name.startswith("_"):  # probes such as __deepcopy__: no suggestions
            return message
        import difflib

        close = difflib.get_close_matches(name, [str(key) for key in self], 1)
        return message + (f"; did you mean {close[0]!r}?" if close else "")

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Update from a dict or pairs; a dict value merges into a dict already there."""
        for key, value in dict(*args, **kwargs).items():
            current = self.get(key)
            if isinstance(current, ConfigDict) and isinstance(value, dict):
                current.update(value)
            else:
                self[key] = value

    def copy(self) -> ConfigDict:
        """A shallow copy, of this class."""
        return self._new_like(self)

    __copy__ = copy

    def _new_like(self, items: Any) -> ConfigDict:
        """A new object of this kind holding `items` (`Config` keeps its file and text)."""
        return type(self)(items)

    def to_dict(self) -> dict[str, Any]:
        """The same config as plain dicts, lists and tuples, at every depth."""
        plain: dict[str, Any] = to_plain(self)
        return plain


def to_plain(value: Any) -> Any:
    """`value` with every dict (a `ConfigDict` too) turned into a plain dict, recursively."""
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(to_plain(item) for item in value)
    return value
