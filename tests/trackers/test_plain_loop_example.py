"""The plain-loop example of docs/logging-backends.md, run as written, its records read back."""

from __future__ import annotations

import json
import re
from pathlib import Path

import wandb
from mlflow import MlflowClient
from trackers_parts import WandbRun, wandb_run_file

DOC = Path(__file__).resolve().parents[2] / "docs" / "logging-backends.md"


def example() -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- plain-loop-example -->\n```python\n(.*?)```", text, re.S)
    assert found, "the marked example is missing from docs/logging-backends.md"
    return found.group(1)


def test_the_documented_plain_loop_runs_and_every_backend_has_its_records(tmp_path: Path) -> None:
    namespace: dict[str, object] = {}
    exec(compile(example(), str(DOC), "exec"), namespace)
    wandb.teardown()
    run_dir = tmp_path / "runs" / "plain"
    records = [json.loads(line) for line in (run_dir / "scalars.json").read_text().splitlines()]
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    losses = [(r["step"], r["loss"]) for r in records]
    assert losses[-1][1] < losses[0][1]
    client = MlflowClient(f"sqlite:///{run_dir}/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("plain-loop").experiment_id])
    assert sorted(
        (m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss")
    ) == (losses)
    assert run.data.params == {"lr": "0.1", "steps": "20", "model.type": "Linear", "model.in": "3"}
    wandb_run = WandbRun(wandb_run_file(run_dir))
    assert [(row["_step"], row["loss"]) for row in wandb_run.rows_with("loss")] == losses
    assert wandb_run.config["model"] == {"type": "Linear", "in": 3}
