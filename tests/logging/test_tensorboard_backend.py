"""`TensorboardBackend` beyond the protocol: no torch needed, HPARAMS tab, torch's writer, graphs.

Everything is read back with TensorBoard's own reader (``EventAccumulator``)
and, for the HPARAMS tab, the hparams plugin's protos.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch
from logging_parts import logged_run, read_events
from PIL import Image
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

from hooks_logging import TensorboardBackend

if TYPE_CHECKING:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).resolve().parents[2]


def hparams_tab(events: EventAccumulator) -> dict[str, plugin_data_pb2.HParamsPluginData]:
    """The hparams plugin's data of each ``_hparams_/...`` tag, as TensorBoard parses it."""
    return {
        tag: plugin_data_pb2.HParamsPluginData.FromString(content)
        for tag, content in events.PluginTagToContent("hparams").items()
    }


def session_values(tab: dict[str, plugin_data_pb2.HParamsPluginData]) -> dict[str, object]:
    start = tab["_hparams_/session_start_info"].session_start_info
    return {name: getattr(value, value.WhichOneof("kind")) for name, value in start.hparams.items()}


# ------------------------------------------------------------ without torch
def test_without_torch_or_tensorboardx_scalars_text_and_images_are_written(
    tmp_path: Path,
) -> None:
    code = f"""
        import sys
        sys.modules['torch'] = None  # how Python marks a module as absent
        sys.modules['tensorboardX'] = None
        import numpy as np
        from hooks_logging import TensorboardBackend
        with TensorboardBackend({str(tmp_path)!r}) as backend:
            backend.log_scalars({{'loss': 0.9, 'lr': 0.25}}, 1)
            backend.log_scalars({{'loss': 0.5}}, 2)
            backend.log_text('notes', 'hello **tb**', 3)
            image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
            backend.log_image('sample', image, 4)
            print(type(backend.experiment).__name__)
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorboardX')
                     and sys.modules[m] is not None))
        """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["EventWriter", "[]"]  # torch was never imported
    events = read_events(tmp_path)
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [
        (1, np.float32(0.9)),
        (2, 0.5),
    ]
    assert [(e.step, e.value) for e in events.Scalars("lr")] == [(1, 0.25)]
    (notes,) = events.Tensors("notes/text_summary")
    assert notes.step == 3 and notes.tensor_proto.string_val == [b"hello **tb**"]
    (image,) = events.Images("sample")
    assert (image.step, image.width, image.height) == (4, 6, 4)
    pixels = np.asarray(Image.open(io.BytesIO(image.encoded_image_string)))
    assert np.array_equal(pixels, np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3))


# ------------------------------------------------------------ the HPARAMS tab
def test_log_hyperparams_fills_the_hparams_tab_as_lightning(tmp_path: Path) -> None:
    params = {
        "lr": 0.1,
        "epochs": 3,
        "amp": True,
        "optimizer": "sgd",
        "model": {"depth": 4, "act": {"type": "relu"}},
        "stages": [{"blocks": 2}, {"blocks": 3}],
        "sizes": [32, 64],
        "seed": None,
        "momentum": np.float64(0.9),
        "scale": torch.tensor(2.5),
    }
    with TensorboardBackend(tmp_path) as backend:
        backend.log_hyperparams(params, {"hp_metric": -1})
        backend.log_scalars({"hp_metric": 0.75}, 10)
    events = read_events(tmp_path)
    tab = hparams_tab(events)
    expected = {
        "lr": 0.1,
        "epochs": 3,
        "amp": True,
        "optimizer": "sgd",
        "model/depth": 4,
        "model/act/type": "relu",
        "stages/0/blocks": 2,
        "stages/1/blocks": 3,
        "sizes": "[32, 64]",
        "seed": "None",
        "momentum": 0.9,
        "scale": 2.5,
    }
    assert session_values(tab) == expected
    experiment = tab["_hparams_/experiment"].experiment
    assert [m.name.tag for m in experiment.metric_infos] == ["hp_metric"]
    kinds = {info.name: api_pb2.DataType.Name(info.type) for info in experiment.hparam_infos}
    assert kinds == {
        name: "DATA_TYPE_BOOL"
        if isinstance(value, bool)
        else "DATA_TYPE_STRING"
        if isinstance(value, str)
        else "DATA_TYPE_FLOAT64"
        for name, value in expected.items()
    }
    assert [(e.step, e.value) for e in events.Scalars("hp_metric")] == [(0, -1), (10, 0.75)]
    end = tab["_hparams_/session_end_info"].session_end_info
    assert end.status == api_pb2.STATUS_SUCCESS


def test_without_metrics_only_the_session_is_written_and_a_failed_run_ends_failed(
    tmp_path: Path,
) -> None:
    backend = TensorboardBackend(tmp_path)
    backend.log_hyperparams({"lr": 0.1})
    backend.close("failed")
    tab = hparams_tab(read_events(tmp_path))
    # No experiment summary: TensorBoard makes every scalar of the run a metric column.
    assert set(tab) == {"_hparams_/session_start_info", "_hparams_/session_end_info"}
    assert session_values(tab) == {"lr": 0.1}
    assert tab["_hparams_/session_end_info"].session_end_info.status == api_pb2.STATUS_FAILURE


def test_the_runners_config_is_text_and_fills_the_hparams_tab(tmp_path: Path) -> None:
    runner = logged_run(
        tmp_path,
        dict(interval=2, backends=["tensorboard"]),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        cfg=dict(model=dict(type="toy", depth=2), wandb=dict(api_key="abc123")),
    )
    runner.train()
    events = read_events(Path(runner.log_dir) / "vis_data")
    (config,) = events.Tensors("config/text_summary")
    assert '"type": "toy"' in config.tensor_proto.string_val[0].decode()
    values = session_values(hparams_tab(events))
    assert values["model/type"] == "toy" and values["model/depth"] == 2
    assert values["wandb/api_key"] == "******"  # masked, as everywhere
    assert "loss" in events.Tags()["scalars"]  # the tab's metric columns


# ------------------------------------------------------------ torch's writer, graphs
def test_experiment_is_torchs_summary_writer_on_the_same_event_file(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    backend = TensorboardBackend(tmp_path)
    backend.log_scalars({"loss": 0.5}, 1)
    writer = backend.experiment
    assert isinstance(writer, SummaryWriter) and writer is backend.writer
    writer.add_histogram("weights", np.arange(10.0), 1)
    writer.close()  # only flushes: the backend goes on writing
    backend.log_scalars({"loss": 0.25}, 2)
    backend.close()
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1
    events = read_events(tmp_path)
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [(1, 0.5), (2, 0.25)]
    (histogram,) = events.Histograms("weights")
    assert histogram.histogram_value.num == 10


# torch's own ``SummaryWriter.add_graph`` traces with torch.jit.trace, which torch 2.13 deprecates.
TRACE_DEPRECATED = "ignore:`torch.jit.trace(_method)?` is deprecated:DeprecationWarning"


@pytest.mark.filterwarnings(TRACE_DEPRECATED)
def test_log_graph_writes_the_traced_graph(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    with TensorboardBackend(tmp_path) as backend:
        backend.log_graph(model, torch.zeros(2, 3))
    graph = read_events(tmp_path).Graph()
    operations = {node.op for node in graph.node}
    assert {"aten::linear", "aten::relu"} <= operations


def test_logging_after_close_raises(tmp_path: Path) -> None:
    backend = TensorboardBackend(tmp_path)
    backend.close()
    with pytest.raises(ValueError, match="closed"):
        backend.log_hyperparams({"lr": 0.1})
