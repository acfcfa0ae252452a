"""`NeptuneBackend` and `NeptuneLoggerHook` against the real neptune 1.x client, offline.

Neptune's hosted service has been wound down; what can be checked is what the
client stores offline (the operations it would send), read back here from its
op log, ``$NEPTUNE_DATA_DIRECTORY/offline/run__*/data-N.log``.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image
from trackers_parts import (
    neptune_assigned,
    neptune_operations,
    neptune_series,
    toy_run,
    train_records,
    val_records,
)

from hooks_core import LOG_BACKENDS
from hooks_logging import NeptuneBackend

if TYPE_CHECKING:
    from pathlib import Path

LEAN = dict(source_files=[], git_ref=False)  # no files of the test process, no git call


def test_backend_is_offline_without_a_token_and_logs_steps_config_images_text(
    tmp_path: Path,
) -> None:
    backend = LOG_BACKENDS.build(dict(type="neptune", init_kwargs=LEAN))
    assert isinstance(backend, NeptuneBackend) and backend.mode == "offline"
    with backend:
        backend.log_config({"lr": 0.1, "model": {"type": "Toy", "layers": [4, 1]}, "empty": {}})
        backend.log_scalars({"train/loss": 1.0, "epoch": 1}, 2)
        backend.log_scalars({"train/loss": 0.5, "epoch": 1}, 4)
        backend.log_scalars({"val/mse": 0.25, "epoch": 1}, 1)  # epoch 1 at step 1: not above 4
        backend.log_image("sample", np.full((3, 2, 5), 1.0), 4)
        backend.log_text("note", "hello", 4)
        backend.flush()
    operations = neptune_operations(tmp_path / "neptune")
    assert neptune_series(operations, "train/loss") == [(2, 1.0), (4, 0.5)]
    assert neptune_series(operations, "val/mse") == [(1, 0.25)]
    assert neptune_series(operations, "epoch") == [(2, 1.0), (4, 1.0)]
    assert neptune_series(operations, "note") == [(4, "hello")]
    assert neptune_assigned(operations, "config") == {
        "config/lr": 0.1, "config/model/type": "Toy", "config/model/layers": "[4, 1]",
        "config/empty": "{}",
    }  # fmt: skip
    (image,) = [op for op in operations if op["type"] == "LogImages"]
    png = base64.b64decode(image["values"][0]["value"]["data"])
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.size == (5, 2)
    assert not (tmp_path / ".neptune").exists()  # NEPTUNE_DATA_DIRECTORY is honoured


def test_mmcv_neptune_logger_hook_run_matches_the_json_log(tmp_path: Path) -> None:
    runner = toy_run(tmp_path, {"type": "NeptuneLoggerHook", "init_kwargs": LEAN})
    runner.train()
    operations = neptune_operations(tmp_path / "neptune")
    train, val = train_records(runner), val_records(runner)
    assert neptune_series(operations, "loss") == [(r["step"], r["loss"]) for r in train]
    assert neptune_series(operations, "mse") == [(r["step"], r["mse"]) for r in val]
    assert [r["step"] for r in val] == [5, 10, 15]  # MMCV logs at iterations
    config = neptune_assigned(operations, "config")
    assert config["config/train_cfg/max_epochs"] == 3 and config["config/api_key"] == "******"
    assert not [op for op in operations if op["path"][0] == "monitoring"]  # no capture threads


def test_seed_003_neptune_block_on_the_mmcv_runner(tmp_path: Path) -> None:
    """Seed 003's log_config for Neptune (no interval: the default 10), on EpochBasedRunner."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from hooks_core import EpochBasedRunner

    class MmcvModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 1)

        def train_step(self, data: Any, optimizer: Any) -> dict[str, Any]:
            loss = ((self.fc(data[0]) - data[1]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return {"loss": loss, "log_vars": {"loss": loss.item()}, "num_samples": 2}

    torch.manual_seed(0)
    model = MmcvModel()
    log_config = {
        "hooks": [
            {
                "type": "NeptuneLoggerHook",
                "init_kwargs": {"project": "YOUR_WORKSPACE/YOUR_PROJECT", **LEAN},
            },
        ]
    }
    runner = EpochBasedRunner(
        model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        work_dir=str(tmp_path / "work"),
        max_epochs=2,
    )
    runner.register_training_hooks(None, log_config=log_config)
    data = TensorDataset(torch.randn(20, 2), torch.randn(20, 1))
    runner.run([DataLoader(data, batch_size=2)], [("train", 1)])
    series = neptune_series(neptune_operations(tmp_path / "neptune"), "loss")
    assert [step for step, _ in series] == [10, 20]
