"""Sharded checkpoints (``save_format='dcp'``) for real: FSDP2 on gloo ranks under torchrun.

`dcp_worker.py` trains a tiny MLP on 2 ranks, saving sharded folders at
iterations 4 and 8; resuming iteration 4's folder on 2 ranks must repeat the
rest bit for bit, on 1 or 4 ranks (resharded weights and Adam state) to 1e-6.
A rank dying mid-save leaves ``last_checkpoint`` on the previous folder, and
``tools/convert_checkpoint.py`` turns a folder into the runner's ``.pth`` and back.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from ports import free_port
from torchrun import run_agents, torchrun

from hooks_core.checkpoint import find_latest_checkpoint, load_checkpoint_file

WORKER = Path(__file__).with_name("dcp_worker.py")
CONVERTER = Path(__file__).resolve().parents[2] / "tools" / "convert_checkpoint.py"
TOLERANCE = 1e-6


def run(
    ranks: int, *arguments: str, expect_success: bool = True
) -> subprocess.CompletedProcess[str]:
    command = torchrun(f"--nproc_per_node={ranks}", "--master_addr=127.0.0.1",
                       f"--master_port={free_port()}", str(WORKER), *arguments)  # fmt: skip
    (done,) = run_agents([command], timeout=180)
    assert (done.returncode == 0) == expect_success, done.stderr[-4000:]
    return done


def result(work_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = torch.load(work_dir / "result.pt", weights_only=True)
    return loaded


def difference(actual: Any, expected: Any) -> float:
    """The largest difference between nested tensors and numbers; other values must be equal."""
    if isinstance(expected, dict):
        assert sorted(actual, key=str) == sorted(expected, key=str)
        return max((difference(actual[k], expected[k]) for k in expected), default=0.0)
    if isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        return max((difference(a, e) for a, e in zip(actual, expected, strict=True)), default=0.0)
    if isinstance(expected, torch.Tensor):
        return float((actual.double() - expected.double()).abs().max()) if expected.numel() else 0.0
    if isinstance(expected, float):
        return abs(actual - expected)
    assert actual == expected
    return 0.0


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted 2-rank run with sharded checkpoints at iterations 4 and 8."""
    work_dir = tmp_path_factory.mktemp("reference")
    run(2, "train", str(work_dir))
    return work_dir


def test_folders_are_complete_and_pointed_at(reference: Path) -> None:
    folder = reference / "iter_8.dcp"
    assert find_latest_checkpoint(reference) == str(folder)
    assert {p.name for p in folder.iterdir()} == {".metadata", "__0_0.distcp", "__1_0.distcp",
                                                 "extra.pth"}  # fmt: skip
    assert not list(reference.glob("*.tmp"))
    extra = load_checkpoint_file(folder / "extra.pth")
    assert extra["meta"]["iter"] == 8
    assert len(extra["rng_states"]) == 2


def test_resume_on_as_many_ranks_is_exact(reference: Path, tmp_path: Path) -> None:
    run(2, "resume", str(tmp_path), str(reference / "iter_4.dcp"))
    expected, resumed = result(reference), result(tmp_path)
    assert resumed["losses"] == expected["losses"][4:]
    assert difference(resumed["weights"], expected["weights"]) == 0.0
    assert difference(resumed["optimizer"]["start"], expected["optimizer"]["iter4"]) == 0.0


@pytest.mark.parametrize("ranks", [1, 4])
def test_resume_reshards(reference: Path, tmp_path: Path, ranks: int) -> None:
    """The same global batch on 1 or 4 ranks: weights and Adam state load resharded."""
    run(ranks, "resume", str(tmp_path), str(reference / "iter_4.dcp"))
    expected, resumed = result(reference), result(tmp_path)
    assert difference(resumed["optimizer"]["start"], expected["optimizer"]["iter4"]) <= TOLERANCE
    assert difference(resumed["losses"], expected["losses"][4:]) <= TOLERANCE
    assert difference(resumed["weights"], expected["weights"]) <= TOLERANCE


def test_async_save_writes_the_same_folders(
    reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DCP_ASYNC", "1")
    run(2, "train", str(tmp_path))
    assert find_latest_checkpoint(tmp_path) == str(tmp_path / "iter_8.dcp")
    assert difference(result(tmp_path)["weights"], result(reference)["weights"]) == 0.0
    run(2, "resume", str(tmp_path / "resumed"), str(tmp_path / "iter_4.dcp"))
    assert result(tmp_path / "resumed")["losses"] == result(reference)["losses"][4:]


def test_a_rank_dying_mid_save_keeps_the_previous_folder(tmp_path: Path) -> None:
    run(2, "kill", str(tmp_path), expect_success=False)
    assert find_latest_checkpoint(tmp_path) == str(tmp_path / "iter_2.dcp")
    assert (tmp_path / "iter_2.dcp" / ".metadata").is_file()
    assert not (tmp_path / "iter_4.dcp").exists()


def test_converter_round_trip(reference: Path, tmp_path: Path) -> None:
    whole, back, again = tmp_path / "iter_4.pth", tmp_path / "back.dcp", tmp_path / "again.pth"
    for source, target in ((reference / "iter_4.dcp", whole), (whole, back), (back, again)):
        subprocess.run([sys.executable, "-W", "error", str(CONVERTER), str(source), str(target)],
                       check=True, capture_output=True)  # fmt: skip
    converted = load_checkpoint_file(whole)
    expected = result(reference)["optimizer"]["iter4"]
    assert converted["meta"]["iter"] == 4
    assert difference(converted["optimizer"], expected) == 0.0
    assert "rng_states" not in converted
    round_trip = load_checkpoint_file(again)
    assert difference(round_trip["state_dict"], converted["state_dict"]) == 0.0
    assert difference(round_trip["optimizer"], converted["optimizer"]) == 0.0
    assert round_trip["meta"] == converted["meta"]


def test_a_pth_converted_to_a_folder_resumes_as_the_pth_does(tmp_path: Path) -> None:
    """One process: the folder made from a ``.pth`` carries its momentum into the resumed run."""
    from toy import runner_kwargs

    from hooks_core import Runner

    first = Runner(**runner_kwargs(tmp_path / "first", train_cfg=dict(by_epoch=True, max_epochs=1)))
    first.train()
    pth, folder = Path(first.work_dir) / "epoch_1.pth", tmp_path / "epoch_1.dcp"
    subprocess.run([sys.executable, "-W", "error", str(CONVERTER), str(pth), str(folder)],
                   check=True, capture_output=True)  # fmt: skip
    ends = []
    for source in (pth, folder):
        two_epochs = dict(by_epoch=True, max_epochs=2)
        resumed = Runner(**runner_kwargs(tmp_path / source.name, train_cfg=two_epochs),
                         load_from=str(source), resume=True)  # fmt: skip
        resumed.train()
        ends.append(resumed.model.state_dict())
    for key, value in ends[0].items():
        assert torch.equal(value, ends[1][key]), key
