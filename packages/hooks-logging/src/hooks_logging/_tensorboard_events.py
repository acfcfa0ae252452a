"""TensorBoard event files and summaries from the ``tensorboard`` package alone (no torch, no TF).

``tensorboard`` ships the event-file writer TensorBoard itself reads
(``tensorboard.summary.writer.event_file_writer``), the summary protos and
each plugin's metadata, so scalars, text, images and the HPARAMS tab need
nothing beyond ``hooks-logging[tensorboard]``; those modules import numpy (a
dependency of tensorboard) but neither TensorFlow nor torch. Imported only
when a `TensorboardBackend` is built.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from tensorboard.compat.proto import (  # type: ignore[import-untyped]
    event_pb2,
    summary_pb2,
    tensor_pb2,
    tensor_shape_pb2,
)
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2  # type: ignore[import-untyped]
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.text import metadata as text_metadata  # type: ignore[import-untyped]
from tensorboard.summary.writer.event_file_writer import (  # type: ignore[import-untyped]
    EventFileWriter,
)

from ._backend import image_to_hwc_uint8
from ._png import encode_png

__all__ = [
    "EventWriter",
    "flatten_hparams",
    "hparams_summaries",
    "image_summary",
    "scalar_summary",
    "session_end_summary",
    "text_summary",
    "torch_summary_writer",
]

# How a run ended (`LoggerBackend.close`) as the HPARAMS tab's session status.
_SESSION_STATUS = {
    "finished": api_pb2.STATUS_SUCCESS,
    "failed": api_pb2.STATUS_FAILURE,
    "killed": api_pb2.STATUS_FAILURE,  # the hparams plugin has no "stopped" status
}


class EventWriter:
    """One event file in `log_dir`, written by a background thread; torch's ``FileWriter`` methods.

    Events wait in a queue of 10 and reach the file at the latest 2 minutes
    later (torch's defaults), or at `flush`. Having torch's ``FileWriter``
    methods lets torch's ``SummaryWriter`` write into this same file (see
    `torch_summary_writer`). Safe to use from several threads.
    """

    def __init__(self, log_dir: str) -> None:
        self._events = EventFileWriter(log_dir, max_queue_size=10, flush_secs=120)

    def get_logdir(self) -> str:
        """The folder of the event file."""
        return str(self._events.get_logdir())

    def add_event(
        self, event: event_pb2.Event, step: int | None = None, walltime: float | None = None
    ) -> None:
        """Write `event`, stamped with `walltime` (now by default) and `step` when given."""
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self._events.add_event(event)

    def add_summary(
        self,
        summary: summary_pb2.Summary,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Write `summary` as an event at `global_step`."""
        self.add_event(event_pb2.Event(summary=summary), global_step, walltime)

    def add_graph(self, graph_profile: tuple[Any, Any], walltime: float | None = None) -> None:
        """Write a ``(GraphDef, RunMetadata)`` pair, as torch's ``add_graph`` traces it."""
        graph, run_metadata = graph_profile
        self.add_event(event_pb2.Event(graph_def=graph.SerializeToString()), None, walltime)
        tagged = event_pb2.TaggedRunMetadata(
            tag="step1", run_metadata=run_metadata.SerializeToString()
        )
        self.add_event(event_pb2.Event(tagged_run_metadata=tagged), None, walltime)

    def add_onnx_graph(self, graph: Any, walltime: float | None = None) -> None:
        """Write a ``GraphDef`` alone (torch's ``SummaryWriter.add_onnx_graph``)."""
        self.add_event(event_pb2.Event(graph_def=graph.SerializeToString()), None, walltime)

    def flush(self) -> None:
        """Write every queued event to the file."""
        self._events.flush()

    def close(self) -> None:
        """Flush and close the file; writing afterwards raises OSError."""
        self._events.close()


class _Borrowed:
    """An `EventWriter` lent to torch's ``SummaryWriter``: its ``close`` only flushes.

    The backend owns the file and closes it; a user's ``experiment.close()``
    (Lightning's ``finalize`` habit) must not stop the backend's own writes.
    """

    def __init__(self, events: EventWriter) -> None:
        self._events = events

    def __getattr__(self, name: str) -> Any:
        return getattr(self._events, name)

    def close(self) -> None:
        self._events.flush()


def torch_summary_writer(events: EventWriter) -> Any:
    """torch's ``SummaryWriter`` writing into the file of `events` (``add_histogram``...).

    One file per folder: two writers appending to two event files of one run
    can make TensorBoard skip the events of the older file.
    """
    from torch.utils.tensorboard import SummaryWriter

    class SharedFileSummaryWriter(SummaryWriter):
        """A ``SummaryWriter`` whose file writer is the backend's `EventWriter`."""

        def _get_file_writer(self) -> Any:
            writer: Any = self.file_writer
            if writer is None:  # at first, and again after ``close``
                writer = _Borrowed(events)
                self.file_writer = writer
                writers: Any = {events.get_logdir(): writer}
                self.all_writers = writers
            return writer

    return SharedFileSummaryWriter(events.get_logdir())


# ------------------------------------------------------------ summaries
def scalar_summary(tag: str, value: float) -> summary_pb2.Summary:
    """`value` under `tag`, as a float32 ``simple_value`` (what torch's ``add_scalar`` writes)."""
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])


def text_summary(name: str, text: str) -> summary_pb2.Summary:
    """`text` (Markdown) for the text plugin, under the tag ``<name>/text_summary``."""
    tensor = tensor_pb2.TensorProto(
        dtype="DT_STRING",
        string_val=[text.encode("utf-8")],
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]
        ),
    )
    metadata = text_metadata.create_summary_metadata(display_name="", description="")
    value = summary_pb2.Summary.Value(tag=f"{name}/text_summary", metadata=metadata, tensor=tensor)
    return summary_pb2.Summary(value=[value])


def image_summary(name: str, image: Any) -> summary_pb2.Summary:
    """`image` (any layout `LoggerBackend.log_image` takes) PNG-encoded under `name`."""
    pixels = image_to_hwc_uint8(image)
    height, width, channels = pixels.shape
    encoded = summary_pb2.Summary.Image(
        height=height, width=width, colorspace=channels, encoded_image_string=encode_png(pixels)
    )
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=name, image=encoded)])


def flatten_hparams(params: Mapping[str, Any], prefix: str = "") -> dict[str, bool | float | str]:
    """`params` as the HPARAMS tab shows them: nested keys joined by ``/``, as Lightning does.

    Mappings, and lists of mappings (by index), are opened; a 0-d array or
    tensor becomes its number; any value not a bool, int, float or str, its str.
    """
    flat: dict[str, bool | float | str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_hparams(value, f"{name}/"))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for index, item in enumerate(value):
                flat.update(flatten_hparams(item, f"{name}/{index}/"))
        else:
            flat[name] = _hparam_value(value)
    return flat


def _hparam_value(value: Any) -> bool | float | str:
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        value = value.item()  # numpy scalars, 0-d tensors
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def hparams_summaries(
    hparams: Mapping[str, bool | float | str], metric_names: list[str]
) -> list[summary_pb2.Summary]:
    """The HPARAMS tab's summaries: the session's values, and the experiment when there are metrics.

    The experiment summary lists the hparams and the metric columns, as
    Lightning's ``TensorBoardLogger`` writes it. Without metrics it is left
    out: TensorBoard then builds the table from the session values of every
    run, and makes every scalar of those runs a metric column.
    """
    start = plugin_data_pb2.SessionStartInfo(start_time_secs=time.time())
    infos = []
    for name, value in hparams.items():
        if isinstance(value, bool):
            start.hparams[name].bool_value = value
            kind = api_pb2.DATA_TYPE_BOOL
        elif isinstance(value, str):
            start.hparams[name].string_value = value
            kind = api_pb2.DATA_TYPE_STRING
        else:
            start.hparams[name].number_value = value
            kind = api_pb2.DATA_TYPE_FLOAT64
        infos.append(api_pb2.HParamInfo(name=name, type=kind))
    summaries = []
    if metric_names:
        experiment = api_pb2.Experiment(
            hparam_infos=infos,
            metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=m)) for m in metric_names],
        )
        summaries.append(
            _hparams_summary(
                hparams_metadata.EXPERIMENT_TAG,
                plugin_data_pb2.HParamsPluginData(experiment=experiment),
            )
        )
    summaries.append(
        _hparams_summary(
            hparams_metadata.SESSION_START_INFO_TAG,
            plugin_data_pb2.HParamsPluginData(session_start_info=start),
        )
    )
    return summaries


def session_end_summary(status: str) -> summary_pb2.Summary:
    """The HPARAMS tab's session end, with `status` (``'finished'``, ``'failed'``, ``'killed'``)."""
    end = plugin_data_pb2.SessionEndInfo(status=_SESSION_STATUS[status], end_time_secs=time.time())
    return _hparams_summary(
        hparams_metadata.SESSION_END_INFO_TAG,
        plugin_data_pb2.HParamsPluginData(session_end_info=end),
    )


def _hparams_summary(tag: str, data: plugin_data_pb2.HParamsPluginData) -> summary_pb2.Summary:
    metadata = hparams_metadata.create_summary_metadata(data)
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, metadata=metadata)])
