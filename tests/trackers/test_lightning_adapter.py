"""`LightningLogger` with a real ``pytorch_lightning.Trainer.fit`` on a tiny model, read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning_parts import Regression, loaders
from mlflow import MlflowClient
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
from trackers_parts import lightning_trainer

from hooks_logging import JsonBackend, LightningLogger


def test_trainer_fit_forwards_to_json_and_mlflow(tmp_path: Path) -> None:
    torch.manual_seed(0)
    logger = LightningLogger(
        ["json", dict(type="mlflow", exp_name="lightning")], save_dir=tmp_path / "logs"
    )
    trainer = lightning_trainer(logger, tmp_path, max_epochs=3)
    train, val = loaders()
    trainer.fit(Regression(), train, val)
    logger.close()
    assert logger.log_dir == str(tmp_path / "logs" / "hooks" / "version_0")
    json_backend, mlflow_backend = logger.backends
    assert isinstance(json_backend, JsonBackend)
    records = [json.loads(line) for line in Path(json_backend.path).read_text().splitlines()]
    losses = [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]
    assert [step for step, _ in losses] == list(range(12))  # 4 batches x 3 epochs
    assert losses[-1][1] < losses[0][1]
    val_steps = [(r["step"], r["epoch"]) for r in records if "val_loss" in r]
    assert val_steps == [(3, 0), (7, 1), (11, 2)]
    config = json.loads((Path(logger.log_dir) / "config.json").read_text())
    assert config == {"lr": 0.05}  # save_hyperparameters()
    client = MlflowClient(mlflow_backend.tracking_uri)
    run = client.get_run(mlflow_backend.run_id)
    history = sorted(
        (m.step, m.value) for m in client.get_metric_history(run.info.run_id, "train_loss")
    )
    assert history == losses
    assert run.data.params == {"lr": "0.05"} and run.info.status == "FINISHED"


def test_hyperparams_merge_across_calls_and_experiment_is_the_trackers_object(
    tmp_path: Path,
) -> None:
    import yaml

    torch.manual_seed(0)
    logger = LightningLogger(
        [dict(type="mlflow", exp_name="hp"), "json"], save_dir=tmp_path / "logs"
    )
    trainer = lightning_trainer(logger, tmp_path)
    train, val = loaders()
    trainer.fit(Regression(), train, val)  # save_hyperparameters(): lr
    logger.log_hyperparams({"batch_size": 8, "lr": 0.1}, metrics={"hp_metric": 0.5})
    mlflow_backend, json_backend = logger.backends
    assert isinstance(logger.experiment, MlflowClient)  # as Lightning's MLFlowLogger
    assert logger.experiments == [logger.experiment, json_backend]
    logger.close()
    log_dir = Path(logger.log_dir)
    merged = {"lr": 0.1, "batch_size": 8}
    assert json.loads((log_dir / "config.json").read_text()) == merged
    assert yaml.safe_load((log_dir / "hparams.yaml").read_text()) == merged
    records = [json.loads(line) for line in Path(json_backend.path).read_text().splitlines()]
    assert {"hp_metric": 0.5, "step": 0} in records
    run = MlflowClient(mlflow_backend.tracking_uri).get_run(mlflow_backend.run_id)
    assert run.data.params == {
        "lr": "0.05",
        "batch_size": "8",
    }  # MLflow keeps a param's first value
    assert run.data.metrics["hp_metric"] == 0.5


# ------------------------------------------------------------ TensorBoard: HPARAMS tab, graph
# torch's own ``SummaryWriter.add_graph`` traces with torch.jit.trace, which torch 2.13 deprecates.
TRACE_DEPRECATED = "ignore:`torch.jit.trace(_method)?` is deprecated:DeprecationWarning"


def tensorboard_events(logger: LightningLogger) -> event_accumulator.EventAccumulator:
    """The TensorBoard backend's events, by TensorBoard's reader (after ``logger.close()``)."""
    (backend,) = logger.backends
    events = event_accumulator.EventAccumulator(backend.save_dir, size_guidance={"scalars": 0})
    events.Reload()
    return events


def hparams_tab(events: event_accumulator.EventAccumulator) -> dict[str, Any]:
    """The hparams plugin's data of each ``_hparams_/...`` tag."""
    return {
        tag.split("/")[1]: plugin_data_pb2.HParamsPluginData.FromString(content)
        for tag, content in events.PluginTagToContent("hparams").items()
    }


def test_trainer_fit_fills_tensorboards_hparams_tab_with_hp_metric(tmp_path: Path) -> None:
    torch.manual_seed(0)
    logger = LightningLogger(["tensorboard"], save_dir=tmp_path / "logs")
    trainer = lightning_trainer(logger, tmp_path)
    train, val = loaders()
    trainer.fit(Regression(lr=0.05), train, val)  # save_hyperparameters(): lr
    logger.log_hyperparams({}, metrics=0.5)  # a number is hp_metric's value, as in Lightning
    logger.close()
    events = tensorboard_events(logger)
    tab = hparams_tab(events)
    experiment = tab["experiment"].experiment
    assert [(h.name, h.type) for h in experiment.hparam_infos] == [
        ("lr", api_pb2.DATA_TYPE_FLOAT64)
    ]
    assert [m.name.tag for m in experiment.metric_infos] == ["hp_metric"]
    assert tab["session_start_info"].session_start_info.hparams["lr"].number_value == 0.05
    assert tab["session_end_info"].session_end_info.status == api_pb2.STATUS_SUCCESS
    assert [(e.step, e.value) for e in events.Scalars("hp_metric")] == [(0, -1), (0, 0.5)]
    assert len(events.Scalars("train_loss")) == 4
    assert "config/text_summary" in events.Tags()["tensors"]  # the config as text, as before


def test_without_default_hp_metric_the_tab_infers_its_metrics(tmp_path: Path) -> None:
    logger = LightningLogger(["tensorboard"], save_dir=tmp_path / "logs", default_hp_metric=False)
    trainer = lightning_trainer(logger, tmp_path)
    train, val = loaders()
    trainer.fit(Regression(lr=0.05), train, val)
    logger.close()
    events = tensorboard_events(logger)
    tab = hparams_tab(events)
    assert "experiment" not in tab  # TensorBoard makes every scalar a metric column
    assert tab["session_start_info"].session_start_info.hparams["lr"].number_value == 0.05
    assert "hp_metric" not in events.Tags()["scalars"]


class Drawable(Regression):
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.net(inputs))


class WithExampleInput(Drawable):
    def __init__(self) -> None:
        super().__init__()
        self.example_input_array = torch.zeros(2, 3)


@pytest.mark.filterwarnings(TRACE_DEPRECATED)
def test_log_graph_draws_the_example_input_array_at_fit_start(tmp_path: Path) -> None:
    logger = LightningLogger(["tensorboard"], save_dir=tmp_path / "logs", log_graph=True)
    trainer = lightning_trainer(logger, tmp_path)
    train, val = loaders()
    trainer.fit(WithExampleInput(), train, val)  # the Trainer calls log_graph(model)
    logger.close()
    operations = {node.op for node in tensorboard_events(logger).Graph().node}
    assert {"aten::linear", "aten::relu"} <= operations


@pytest.mark.filterwarnings(TRACE_DEPRECATED)
def test_log_graph_with_an_input_array_and_without_any(tmp_path: Path) -> None:
    logger = LightningLogger(["tensorboard"], save_dir=tmp_path / "logs", log_graph=True)
    trainer = lightning_trainer(logger, tmp_path)
    train, val = loaders()
    model = Drawable()
    trainer.fit(model, train, val)  # no example_input_array: nothing drawn, and no warning
    assert not tensorboard_events(logger).Tags()["graph"]  # fit's end flushed the events
    logger.log_graph(model, torch.zeros(4, 3))
    logger.close()
    operations = {node.op for node in tensorboard_events(logger).Graph().node}
    assert {"aten::linear", "aten::relu"} <= operations


def test_log_graph_is_off_by_default_and_other_backends_draw_nothing(tmp_path: Path) -> None:
    logger = LightningLogger(["json"], save_dir=tmp_path / "logs", log_graph=True)
    logger.log_graph(WithExampleInput())  # no TensorBoard backend: nothing to do
    silent = LightningLogger(["tensorboard"], save_dir=tmp_path / "quiet")
    silent.log_metrics({"loss": 1.0}, 0)  # the backend is built
    silent.log_graph(WithExampleInput())  # log_graph=False, as Lightning's default
    logger.close()
    silent.close()
    assert not tensorboard_events(silent).Tags()["graph"]
