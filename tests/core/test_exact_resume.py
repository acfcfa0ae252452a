"""A run killed at a random iteration and resumed ends bit-identical to an uninterrupted one.

Each run is a real separate process: SIGKILL gives the run no chance to clean
up, so only atomic checkpoint writes and the `last_checkpoint` pointer stand
between it and a corrupt resume. SIGTERM must finish the iteration, save, and
exit with status 0.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from killable_run import signal_at

WORKER = Path(__file__).with_name("resume_worker.py")

# Kill points drawn once from a fixed seed, so a failure can be replayed.
_rng = random.Random(20261123)
KILL_POINTS = [("epoch", k) for k in sorted(_rng.sample(range(1, 15), 2))] + [
    ("iter", k) for k in sorted(_rng.sample(range(1, 15), 2))
]


def run_worker(work_dir: Path, mode: str, out: Path, *flags: str) -> int:
    result = subprocess.run(
        [sys.executable, str(WORKER), str(work_dir), mode, str(out), *flags],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.returncode


def run_until_signal(
    work_dir: Path, mode: str, out: Path, at: int, sig: int, *flags: str
) -> tuple[int, int]:
    """Send `sig` once the run reports iteration `at` done; return its status and last iteration."""
    command = [sys.executable, str(WORKER), str(work_dir), mode, str(out), *flags]
    status, rest, stderr = signal_at(command, at, sig)
    assert not out.exists(), "the run finished before the signal arrived"
    if status not in (0, -sig):
        pytest.fail(f"worker exited with {status}:\n{stderr}")
    reported = [int(line.split()[1]) for line in rest.splitlines() if line.startswith("iter ")]
    return status, max(reported, default=at)


def assert_same_weights(a: Path, b: Path) -> None:
    first = torch.load(a, weights_only=True)
    second = torch.load(b, weights_only=True)
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), f"{key} differs after resume"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Final weights of an uninterrupted run, per mode."""
    root = tmp_path_factory.mktemp("reference")
    weights = {}
    for mode in ("epoch", "iter"):
        weights[mode] = root / f"{mode}.pt"
        run_worker(root / mode, mode, weights[mode])
    return weights


@pytest.mark.parametrize(("mode", "kill_at"), KILL_POINTS)
def test_sigkill_then_resume_is_bit_identical(
    tmp_path: Path, reference: dict[str, Path], mode: str, kill_at: int
) -> None:
    out = tmp_path / "final.pt"
    status, _ = run_until_signal(tmp_path / "run", mode, out, kill_at, signal.SIGKILL)
    assert status == -signal.SIGKILL
    assert (tmp_path / "run" / "last_checkpoint").exists()
    run_worker(tmp_path / "run", mode, out, "--resume")
    assert_same_weights(out, reference[mode])


def test_sigterm_saves_exits_cleanly_and_resumes(
    tmp_path: Path, reference: dict[str, Path]
) -> None:
    out = tmp_path / "final.pt"
    status, last = run_until_signal(tmp_path / "run", "epoch", out, 7, signal.SIGTERM, "--no-save")
    assert status == 0
    pointer = (tmp_path / "run" / "last_checkpoint").read_text()
    assert Path(pointer).name == f"interrupted_iter_{last}.pth"
    saved = torch.load(pointer, weights_only=True)
    assert saved["meta"]["iter"] == last  # the iteration in flight was finished, then saved
    run_worker(tmp_path / "run", "epoch", out, "--resume", "--no-save")
    assert_same_weights(out, reference["epoch"])
