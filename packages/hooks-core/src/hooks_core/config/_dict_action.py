"""`DictAction`: MMEngine's argparse action for ``--cfg-options key=value ...``."""

from __future__ import annotations

import argparse

from ._cfg_options import parse_value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["DictAction"]


class DictAction(argparse.Action):
    """Collect ``KEY=VALUE`` arguments into a dict, each value typed by `parse_value`.

    ``a.b=1 c=[x,y] d=1,2 e=(1,2)`` gives ``{'a.b': 1, 'c': ['x', 'y'], 'd': [1, 2],
    'e': (1, 2)}``; give the dict to `Config.merge_from_dict`. Repeating the
    option adds to the same dict.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> _ = parser.add_argument('--cfg-options', nargs='+', action=DictAction)
        >>> parser.parse_args(['--cfg-options', 'model.depth=50', 'classes=[cat,dog]']).cfg_options
        {'model.depth': 50, 'classes': ['cat', 'dog']}
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        options = dict(getattr(namespace, self.dest, None) or {})
        for item in [values] if isinstance(values, str) else values or ():
            key, sep, text = str(item).partition("=")
            if not sep or not key.strip():
                raise argparse.ArgumentError(
                    self, f"{item!r} is not KEY=VALUE (e.g. model.depth=50)"
                )
            try:
                options[key.strip()] = parse_value(text)
            except ValueError as err:
                raise argparse.ArgumentError(self, str(err)) from err
        setattr(namespace, self.dest, options)
