"""The hooks-logging wheel: a compatible hooks-core range, one extra per backend, its plugins."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

from wheels import build_wheel, release_problems

import hooks_logging

if TYPE_CHECKING:
    from pathlib import Path


def test_wheel_metadata_extras_and_entry_points(tmp_path: Path) -> None:
    wheel = build_wheel("hooks-logging", tmp_path)
    names, metadata = wheel.names, wheel.metadata
    entry_points = wheel.entry_points
    assert "hooks_logging/py.typed" in names
    assert release_problems(wheel) == []  # license, authors, URLs, absolute README links
    assert metadata["Version"] == hooks_logging.__version__
    requires = metadata.get_all("Requires-Dist") or []
    assert "hooks-core<0.2,>=0.1" in requires
    assert "tensorboard>=2.10; extra == 'tensorboard'" in requires
    assert not any(r.startswith("torch") for r in requires)  # JSON and text need nothing
    assert "tqdm>=4.60; extra == 'progress'" in requires
    assert "mlflow>=2.12; extra == 'mlflow'" in requires
    assert "pytorch-lightning>=2.0; extra == 'lightning'" in requires
    extras = {"tensorboard", "wandb", "mlflow", "neptune", "dvclive", "lightning", "transformers"}
    extras |= {"comet", "clearml", "aim", "swanlab", "progress", "plot", "s3", "all"}
    assert set(metadata.get_all("Provides-Extra") or []) == extras
    assert "tensorboard = hooks_logging:TensorboardBackend" in entry_points
    assert "logger = hooks_logging:LoggerHook" in entry_points  # the default hook


def test_backends_build_by_name_in_a_fresh_process(tmp_path: Path) -> None:
    code = (
        "import json, sys; from hooks_core import LOG_BACKENDS;"
        f"b = LOG_BACKENDS.build(dict(type='json', save_dir={str(tmp_path)!r}));"
        "b.log_scalars({'loss': 0.5}, step=3); b.close();"
        "print(type(b).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "JsonBackend"
    assert (tmp_path / "scalars.json").read_text().strip() == '{"loss": 0.5, "step": 3}'
