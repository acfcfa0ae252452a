"""`TensorboardBackend`: TensorBoard event files through ``torch.utils.tensorboard``.

Needs the ``tensorboard`` package, the ``hooks-logging[tensorboard]`` extra.
It and torch are imported when a backend is constructed, never when
``hooks_logging`` is imported. Without torch, ``tensorboardX`` (same writer API)
is used when installed.
"""

from __future__ import annotations

import os

from hooks_core import LOG_BACKENDS
from hooks_core.registry import pip_install

from ._backend import LoggerBackend, config_to_text, image_to_hwc_uint8

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["TensorboardBackend"]

MISSING_TENSORBOARD = (
    f"TensorboardBackend needs tensorboard: {pip_install('hooks-logging[tensorboard]')}"
)


@LOG_BACKENDS.register_module(name=["tensorboard", "TensorboardBackend"])
class TensorboardBackend(LoggerBackend):
    """Write scalars, config, text and images as TensorBoard events in `save_dir`.

    Args:
        save_dir: The folder of the event files (TensorBoard's ``--logdir``, or
            a run inside it); created if missing.

    What goes where:
        - `log_scalars`: one ``add_scalar(key, value, step)`` per key. TensorBoard
          stores float32, so 0.9 reads back as 0.8999999761581421.
        - `log_config`: ``add_text('config', ...)`` at step 0, the config as
          indented JSON in a Markdown code block (read back under the tag
          ``config/text_summary``).
        - `log_text`: ``add_text(name, text, step)``; TensorBoard renders Markdown.
        - `log_image`: ``add_image(name, ..., step, dataformats='HWC')`` after
          converting the image to HWC uint8, so HWC arrays (uint8 or floats in
          0..1) and CHW tensors are both accepted; see `LoggerBackend`.

    Events are buffered by the writer (up to 10 events or 2 minutes); call
    `flush` before reading them while the run goes on.

    Raises:
        ImportError: tensorboard is not installed; the message is the fix,
            ``pip install "hooks-logging[tensorboard]"``.
    """

    def __init__(self, save_dir: str | os.PathLike[str]) -> None:
        import importlib

        try:  # imported by name: tensorboard ships no type information
            importlib.import_module("tensorboard")
        except ImportError as err:
            raise ImportError(MISSING_TENSORBOARD) from err
        self.save_dir = os.fspath(save_dir)
        os.makedirs(self.save_dir, exist_ok=True)
        self._writer = _summary_writer(self.save_dir)

    @property
    def writer(self) -> Any:
        """The underlying ``SummaryWriter``, for what the protocol does not cover."""
        return self._writer

    @property
    def experiment(self) -> Any:
        """The event-file writer (Lightning's name for a logger's own object)."""
        return self._writer

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Add each value as a scalar under its key at `step` (not the record's own axis)."""
        self._check_open()
        for key, value in self.without_own_axis(scalars).items():
            self._writer.add_scalar(key, value, step)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Add the config as text under ``config``, in a code block."""
        self._check_open()
        self._writer.add_text("config", "```\n" + config_to_text(config) + "\n```", 0)

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Add `image` (HW, HWC or CHW; see `LoggerBackend`) under `name` at `step`."""
        self._check_open()
        self._writer.add_image(name, image_to_hwc_uint8(image), step, dataformats="HWC")

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """Add `text` (Markdown) under `name` at `step`."""
        self._check_open()
        self._writer.add_text(name, text, step)

    def flush(self) -> None:
        """Write buffered events to the event file."""
        if not self._closed:
            self._writer.flush()

    def _close(self) -> None:
        self._writer.close()

    def __repr__(self) -> str:
        return f"TensorboardBackend({self.save_dir!r})"


def _summary_writer(log_dir: str) -> Any:
    """torch's ``SummaryWriter``, or tensorboardX's when torch is not installed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        import importlib

        try:
            writer_class = importlib.import_module("tensorboardX").SummaryWriter
        except ImportError as err:
            raise ImportError(
                "TensorboardBackend writes events through torch.utils.tensorboard: "
                "install torch (or pip install tensorboardX)"
            ) from err
        return writer_class(logdir=log_dir)
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=log_dir)
