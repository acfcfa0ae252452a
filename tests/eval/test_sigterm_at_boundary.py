"""SIGTERM on any iteration, also one that ends at a validation, then resume: as if never stopped.

Each run is a real process that sends itself SIGTERM after a chosen iteration.
The runner finishes that iteration's validation and checkpoint before it stops,
so the resumed run validates at the same points, early stopping counts the same
validations, and the final weights are bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("sigterm_worker.py")


def run(work_dir: Path, mode: str, out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(WORKER), str(work_dir), mode, str(out), *flags],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def outcome(out: Path) -> tuple[int, dict[str, torch.Tensor], list[list[float]]]:
    final = torch.load(out, weights_only=True)
    records = [json.loads(line) for line in Path(f"{out}.val").read_text().splitlines()]
    return final["iter"], final["weights"], records


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, ...]]:
    root = tmp_path_factory.mktemp("reference")
    results = {}
    for mode in ("iter", "epoch"):
        run(root / mode, mode, root / f"{mode}.pt")
        results[mode] = outcome(root / f"{mode}.pt")
    return results


def test_the_uninterrupted_runs_stop_early(reference: dict[str, tuple[object, ...]]) -> None:
    assert reference["iter"][0] == 20  # of 50: early stopping after the 4th validation
    assert [record[0] for record in reference["iter"][2]] == [5, 10, 15, 20]
    assert reference["epoch"][0] == 20  # epoch 4 of 10, 5 iterations each


# Iteration-based: every validation boundary (at the last, 20, early stopping ends the
# run) and one iteration between two of them. Epoch-based: the end of an epoch (whose
# validation follows) and the middle of one.
POINTS = [("iter", at) for at in (5, 7, 10, 15, 20)] + [("epoch", at) for at in (10, 13)]


@pytest.mark.parametrize(("mode", "at"), POINTS)
def test_sigterm_then_resume_equals_the_uninterrupted_run(
    tmp_path: Path, reference: dict[str, tuple[object, ...]], mode: str, at: int
) -> None:
    out = tmp_path / "final.pt"
    stopped = run(tmp_path / "run", mode, out, "--term-at", str(at))
    expected_iter, expected_weights, expected_records = reference[mode]
    if at == expected_iter:  # the signal came as the run was ending anyway: it just ends
        assert out.exists()
    else:
        assert not out.exists(), "the run did not stop on SIGTERM"
        assert f"stopped after iteration {at}" in stopped.stdout + stopped.stderr
        validated = [record[0] for record in expected_records if record[0] <= at]
        log = Path(f"{out}.val")  # absent when nothing was validated yet
        done = (
            [json.loads(line)[0] for line in log.read_text().splitlines()] if log.exists() else []
        )
        assert done == validated  # the interrupted iteration's validation happened before exit
        run(tmp_path / "run", mode, out, "--resume")
    final_iter, weights, records = outcome(out)
    assert final_iter == expected_iter
    assert records == expected_records
    assert weights.keys() == expected_weights.keys()  # type: ignore[attr-defined]
    for key, value in weights.items():
        assert torch.equal(value, expected_weights[key]), key  # type: ignore[index]
