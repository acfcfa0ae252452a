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
