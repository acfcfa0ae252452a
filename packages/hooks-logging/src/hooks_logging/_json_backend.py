"""`JsonBackend`: scalars as JSON lines in MMEngine's ``scalars.json`` layout, always available.

Each `log_scalars` call appends one line, ``{**scalars, "step": step}``, so
scripts written for MMEngine's ``vis_data/scalars.json`` read it unchanged::

    {"lr": 0.02, "loss": 0.7312, "epoch": 1, "iter": 50, "step": 50}
    {"accuracy/top1": 35.7, "step": 1}

NaN and infinities are written as ``NaN``, ``Infinity`` and ``-Infinity``,
as Python's `json` (and so MMEngine) writes them: `json.loads` reads them back
as floats; a strict JSON parser (jq, JavaScript) rejects those lines.
Nothing but the standard library is needed; images are saved only when Pillow
is installed.
"""

from __future__ import annotations

import json
import os

from hooks_core import LOG_BACKENDS

from ._backend import LoggerBackend, config_to_text, image_to_hwc_uint8

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

    Files:
        - ``save_dir/filename``: one object per `log_scalars` call. The file is
          line-buffered, so every complete record reaches the operating system
          as soon as it is logged and survives a crash of the process.
        - ``save_dir/config.json``: the last config given to `log_config`,
          indented; values that are not JSON types are written as their ``repr``.
        - ``save_dir/images/<name>_<step>.png``: images, with characters other
          than letters, digits, ``.``, ``_`` and ``-`` in `name` replaced by
          ``_``. Without Pillow, images are skipped with one warning
          (a JSON log that is always on must not fail a run over a picture).

    `log_text` does nothing: the text backend is the place for text.
    """

    def __init__(self, save_dir: str | os.PathLike[str], filename: str = "scalars.json") -> None:
        self.save_dir = os.fspath(save_dir)
        os.makedirs(self.save_dir, exist_ok=True)
        self.path = os.path.join(self.save_dir, filename)
        self._file = open(self.path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        self._warned_no_pillow = False

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
        self._file.write(json.dumps(record, default=_number) + "\n")

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Write `config` to ``save_dir/config.json``, replacing an earlier one."""
        self._check_open()
        path = os.path.join(self.save_dir, "config.json")
        with open(path, "w", encoding="utf-8") as file:
            file.write(config_to_text(config) + "\n")

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Save `image` as ``save_dir/images/<name>_<step>.png`` (needs Pillow)."""
        self._check_open()
        pixels = image_to_hwc_uint8(image)
        safe_name = "".join(c if c in _SAFE_NAME_CHARS else "_" for c in name)
        folder = os.path.join(self.save_dir, "images")
        path = os.path.join(folder, f"{safe_name}_{step}.png")
        try:
            from PIL import Image
        except ImportError:
            if not self._warned_no_pillow:
                self._warned_no_pillow = True
                import warnings

                warnings.warn(
                    "JsonBackend skips images: saving them needs Pillow (pip install pillow)",
                    stacklevel=2,
                )
            return
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(path)

    def flush(self) -> None:
        """Flush the scalars file (each line is already flushed as it is written)."""
        if not self._closed:
            self._file.flush()

    def _close(self) -> None:
        self._file.close()

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
