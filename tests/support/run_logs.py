"""Reading back what a run logged: JSON-lines files and a runner's ``vis_data/scalars.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json_lines(path: Path | str) -> list[dict[str, Any]]:
    """One dict per line of a JSON-lines file."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def json_records(runner: Any) -> list[dict[str, Any]]:
    """The run's always-on JSON log, ``<log_dir>/vis_data/scalars.json``."""
    return read_json_lines(Path(runner.log_dir) / "vis_data" / "scalars.json")


def as_trackers_see(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON-log records as backends other than JSON get them: validation's timings as ``val/...``.

    (Training records are the ones with a loss.)
    """
    timings = ("time", "data_time")
    return [
        {f"val/{k}" if k in timings and "loss" not in r else k: v for k, v in r.items()}
        for r in records
    ]
