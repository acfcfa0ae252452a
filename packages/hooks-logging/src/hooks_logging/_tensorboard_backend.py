"""`TensorboardBackend`: TensorBoard event files, written with the ``tensorboard`` package alone.

Needs the ``tensorboard`` package, the ``hooks-logging[tensorboard]`` extra;
neither torch nor tensorboardX. Every record goes through tensorboard's own
event-file writer (`_tensorboard_events`), one code path whether or not torch
is installed; torch's ``SummaryWriter`` (`experiment`) is built only when
asked for, and writes into that same event file, so Lightning users keep
``add_histogram`` & co. without the backend ever importing torch itself.
tensorboard is imported when a backend is constructed, never when
``hooks_logging`` is imported.
"""

from __future__ import annotations

import importlib
import os
import threading

from hooks_core import LOG_BACKENDS
from hooks_core.registry import pip_install

from ._backend import LoggerBackend, config_to_text

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
    """Write scalars, config, hyperparameters, text, images and graphs as TensorBoard events.

    Args:
        save_dir: The folder of the event files (TensorBoard's ``--logdir``, or
            a run inside it); created if missing.

    What goes where:
        - `log_scalars`: one scalar per key at `step`. TensorBoard stores
          float32, so 0.9 reads back as 0.8999999761581421.
        - `log_config`: the config as indented JSON in a Markdown code block,
          at step 0 under the tag ``config/text_summary`` (TEXT tab), and,
          flattened, in the HPARAMS tab (`log_hyperparams` without metrics).
        - `log_hyperparams`: the HPARAMS tab, as Lightning's
          ``TensorBoardLogger`` fills it.
        - `log_text`: the text plugin's ``<name>/text_summary``; TensorBoard
          renders Markdown.
        - `log_image`: a PNG under `name`, from any layout `LoggerBackend`
          accepts (HWC arrays, uint8 or floats in 0..1, CHW tensors).
        - `log_graph`: the model's graph (GRAPHS tab), traced by torch.

    Events are buffered (up to 10 events or 2 minutes); call `flush` before
    reading them while the run goes on. Closing ends the HPARAMS tab's session
    with the run's status (``'finished'``: success; otherwise failure).

    Raises:
        ImportError: tensorboard is not installed; the message is the fix,
            ``pip install "hooks-logging[tensorboard]"``.
    """

    def __init__(self, save_dir: str | os.PathLike[str]) -> None:
        try:  # imported by name: tensorboard ships no type information
            importlib.import_module("tensorboard")
        except ImportError as err:
            raise ImportError(MISSING_TENSORBOARD) from err
        from . import _tensorboard_events

        self._summaries = _tensorboard_events
        self.save_dir = os.fspath(save_dir)
        os.makedirs(self.save_dir, exist_ok=True)
        self._events = _tensorboard_events.EventWriter(self.save_dir)
        self._writer: Any = None  # torch's SummaryWriter, built by `writer`
        self._writer_lock = threading.Lock()
        self._in_session = False  # whether the HPARAMS tab has this run (a session to end)

    @property
    def writer(self) -> Any:
        """torch's ``SummaryWriter``, writing into this backend's event file; built at first use.

        For what the protocol does not cover (``add_histogram``,
        ``add_figure``...). Its ``close`` only flushes: the backend closes the
        file. Without torch: the plain event writer (``add_summary``,
        ``add_event``, ``flush``), taking tensorboard's protos.
        """
        with self._writer_lock:
            if self._writer is None:
                try:
                    self._writer = self._summaries.torch_summary_writer(self._events)
                except ImportError:  # no torch
                    self._writer = self._events
            return self._writer

    @property
    def experiment(self) -> Any:
        """The `writer` (Lightning's name for a logger's own object)."""
        return self.writer

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Add each value as a scalar under its key at `step` (not the record's own axis)."""
        self._check_open()
        for key, value in self.without_own_axis(scalars).items():
            self._events.add_summary(self._summaries.scalar_summary(key, float(value)), step)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Add the config as text under ``config``, in a code block, and to the HPARAMS tab.

        Every flattened key is a column there, as many as a config has: the tab
        loads up to 1000, those whose values differ between runs first, and
        lets one choose which to show; the scalars of the run are its metrics.
        """
        self._check_open()
        text = "```\n" + config_to_text(config) + "\n```"
        self._events.add_summary(self._summaries.text_summary("config", text), 0)
        self.log_hyperparams(config)

    def log_hyperparams(
        self, params: Mapping[str, Any], metrics: Mapping[str, float] | None = None
    ) -> None:
        """Fill the HPARAMS tab with `params`, and `metrics` as its metric columns.

        `params` are flattened with ``/`` (``{'model': {'depth': 4}}`` is
        ``model/depth``); values other than bool, int, float and str are
        shown as their str. `metrics` (name to value, e.g. Lightning's
        ``{'hp_metric': -1}``) are logged as scalars at step 0; later values
        logged under the same names update the columns. Without metrics, every
        scalar of the run is a metric column. TensorBoard shows the first
        hyperparameters of an event file: call this once per run.
        """
        self._check_open()
        hparams = self._summaries.flatten_hparams(params)
        for summary in self._summaries.hparams_summaries(hparams, list(metrics or {})):
            self._events.add_summary(summary, 0)
        self._in_session = True
        if metrics:
            self.log_scalars(metrics, 0)

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Add `image` (HW, HWC or CHW; see `LoggerBackend`) as a PNG under `name` at `step`."""
        self._check_open()
        self._events.add_summary(self._summaries.image_summary(name, image), step)

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """Add `text` (Markdown) under `name` at `step`."""
        self._check_open()
        self._events.add_summary(self._summaries.text_summary(name, text), step)

    def log_graph(self, model: Any, input_to_model: Any) -> None:
        """Add the graph of the torch module `model`, traced with `input_to_model` (a tensor or a
        tuple of ``forward``'s arguments), as torch's ``SummaryWriter.add_graph`` does."""
        self._check_open()
        self.writer.add_graph(model, input_to_model)

    def flush(self) -> None:
        """Write buffered events to the event file."""
        if not self._closed:
            self._events.flush()

    def _close(self) -> None:
        if self._in_session:
            self._events.add_summary(self._summaries.session_end_summary(self.end_status))
        self._events.close()

    def __repr__(self) -> str:
        return f"TensorboardBackend({self.save_dir!r})"
