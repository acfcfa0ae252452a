"""`JsonBackend`: scalars as JSON lines in MMEngine's ``scalars.json`` layout, always available.

Each `log_scalars` call appends one line, ``{**scalars, "step": step}``, so
scripts written for MMEngine's ``vis_data/scalars.json`` read it unchanged::

    {"lr": 0.02, "loss": 0.7312, "epoch": 1, "iter": 50, "step": 50}
    {"accuracy/top1": 35.7, "step": 1}

The logger hook also passes ``copy_filename=<timestamp>.json``, so every
record lands in MMEngine's ``vis_data/<timestamp>.json`` as well.

NaN and infinities are written as the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"``, so every line is strict JSON (jq, JavaScript and other strict
parsers reject Python's bare ``NaN``, which MMEngine writes), and ``float()``
of the string gives the value back. Finite numbers are written as Python's
`json` writes them.
Nothing but the standard library is needed, for images too (see `_png`).
"""

from __future__ import annotations

import json
import keyword
import math
import os

from hooks_core import LOG_BACKENDS

from ._backend import LoggerBackend, config_to_text
from ._png import write_png

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["JsonBackend"]

_SAFE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@LOG_BACKENDS.register_module(name=["json", "JsonBackend"])
class JsonBackend(LoggerBackend):
    """Append scalars to ``save_dir/filename`` as JSON lines; config and images next to it.

    Args:
        save_dir: The folder for the files; created if missing. The logger
            hook passes ``<log_dir>/vis_data``, MMEngine's place.
        filename: The JSON-lines file for scalars. An existing file is appended
            to, so a resumed run continues its log.
        copy_filename: A second JSON-lines file in `save_dir` that gets every
            record too, as MMEngine's ``LocalVisBackend`` writes the records the
            logger hook sends with a ``file_path``; None writes none.
        image_dir: The folder under `save_dir` for images; MMEngine's
            ``LocalVisBackend`` uses ``vis_image``.

    Files:
        - ``save_dir/filename``: one object per `log_scalars` call. The file is
          line-buffered, so every complete record reaches the operating system
          as soon as it is logged and survives a crash of the process.
        - ``save_dir/copy_filename``: the same lines, when given.
        - ``save_dir/config.json``: the last config given to `log_config`,
          indented; values that are not JSON types are written as their ``repr``.
        - ``save_dir/config.py``: the same config as Python (MMEngine's
          ``vis_data/config.py``), ``name = value`` per top-level key, which
          `hooks_core.load_config` reads back; values that are not literals
          are written as the string of their ``repr``.
        - ``save_dir/image_dir/<name>_<step>.png``: images (8-bit grey, RGB or
          RGBA PNGs, written atomically), with characters other than letters,
          digits, ``.``, ``_`` and ``-`` in `name` replaced by ``_``.

    `log_text` does nothing: the text backend is the place for text.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike[str],
        filename: str = "scalars.json",
        copy_filename: str | None = None,
        image_dir: str = "vis_image",
    ) -> None:
        if copy_filename is not None and copy_filename == filename:
            raise ValueError(
                f"JsonBackend copy_filename and filename are both {filename!r}; "
                "give the copy another name"
            )
        self.save_dir = os.fspath(save_dir)
        os.makedirs(self.save_dir, exist_ok=True)
        self.path = os.path.join(self.save_dir, filename)
        self.copy_path = (
            None if copy_filename is None else os.path.join(self.save_dir, copy_filename)
        )
        self._files = [
            open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
            for path in (self.path, self.copy_path)
            if path is not None
        ]
        self.image_dir = image_dir

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Append ``{**scalars, "step": step}`` as one line.

        Raises:
            ValueError: `scalars` has a ``step`` key (it would hide the real step).
            TypeError: a value is not a number (numpy scalars and one-element
                tensors are accepted through their ``.item()``).
        """
        self._check_open()
        if "step" in scalars:
            raise ValueError(
                "'step' is the JsonBackend's own key for the step of each record; "
                "rename the scalar called 'step'"
            )
        record = {**scalars, "step": step}
        try:  # the usual record: finite numbers only
            line = json.dumps(record, default=_number, allow_nan=False) + "\n"
        except ValueError:  # NaN or an infinity among them
            line = json.dumps({k: _strict(v) for k, v in record.items()}) + "\n"
        for file in self._files:
            file.write(line)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Write `config` to ``save_dir/config.json`` and ``config.py``, replacing earlier ones."""
        self._check_open()
        for name, text in (
            ("config.json", config_to_text(config) + "\n"),
            ("config.py", config_to_python(config)),
        ):
            with open(os.path.join(self.save_dir, name), "w", encoding="utf-8") as file:
                file.write(text)

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Save `image` as ``save_dir/image_dir/<name>_<step>.png`` (MMEngine's LocalVisBackend)."""
        self._check_open()
        safe_name = "".join(c if c in _SAFE_NAME_CHARS else "_" for c in name)
        write_png(os.path.join(self.save_dir, self.image_dir, f"{safe_name}_{step}.png"), image)

    def flush(self) -> None:
        """Flush the scalars files (each line is already flushed as it is written)."""
        if not self._closed:
            for file in self._files:
                file.flush()

    def _close(self) -> None:
        for file in self._files:
            file.close()

    def __repr__(self) -> str:
        return f"JsonBackend({self.path!r})"


def _number(value: Any) -> Any:
    """`json.dumps` fallback: numpy scalars and one-element tensors through ``.item()``."""
    item = getattr(value, "item", None)
    if callable(item):
        try:
            result = item()
        except (TypeError, ValueError, RuntimeError):
            pass
        else:
            if isinstance(result, (int, float, bool)):
                return result
    raise TypeError(f"JsonBackend.log_scalars takes numbers, got {type(value).__name__}: {value!r}")


# How a non-finite value is written: JavaScript's names, which ``float()`` reads back.
_NON_FINITE_TEXT = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _strict(value: Any) -> Any:
    """`value` as strict JSON allows: a number, or the text of a NaN or an infinity."""
    if not isinstance(value, (int, float)):
        value = _number(value)
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE_TEXT[repr(value)]
    return value


def config_to_python(config: Mapping[str, Any]) -> str:
    """`config` as a Python config file: ``name = value`` per top-level key.

    Dicts whose keys are all Python names are written ``dict(a=1)``, others
    ``{'a b': 1}``; values that are not literals become the string of their
    ``repr``, so the file always parses. A top-level key that is not a Python
    name is kept as a comment.
    """
    lines = []
    for key, value in config.items():
        if _is_name(key):
            lines.append(f"{key} = {_python(value)}")
        else:
            lines.append(f"# {key!r} = {_python(value)}  (not a Python name)")
    return "".join(line + "\n" for line in lines)


def _is_name(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def _python(value: Any) -> str:
    """A Python expression for `value` (see `config_to_python`)."""
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float('{value}')"
    if isinstance(value, dict) or hasattr(value, "keys"):
        items = dict(value).items()
        if all(_is_name(key) for key, _ in items):
            return "dict(" + ", ".join(f"{key}={_python(item)}" for key, item in items) + ")"
        return "{" + ", ".join(f"{_python(key)}: {_python(item)}" for key, item in items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_python(item) for item in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(_python(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(repr(value))
