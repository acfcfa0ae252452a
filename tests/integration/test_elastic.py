"""Elastic restarts under torchrun, for real: killed workers, and ranks that raise or hang.

`elastic_worker.py` trains with ``Runner(launcher='pytorch', resume=True)`` on 2
gloo ranks sharing one work dir and fails once as its FAULT argument says. A
worker killed with SIGKILL makes torchrun restart the group (``--max-restarts 1``),
and the new group resumes the newest complete checkpoint by itself: its final
weights are bit-identical to an uninterrupted run's. Bit-identical, not merely
close: resuming restores the weights, the optimizer's momentum, the data order
(`DefaultSampler` skips what was trained on) and the random state exactly, and
DDP's two-rank gradient average is computed the same way in both runs. The
restarted ranks of the two-agent test fail to connect (torch reuses the agent's
store and its stale addresses) unless the runner gives each attempt keys of its
own. A rank that raises or hangs, or a rank 0 that cannot choose the checkpoint
to resume, ends every process with the error in the output.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch
from elastic_worker import HANG_TIMEOUT, RAISED
from ports import free_port
from torchrun import run_agents, torchrun

if TYPE_CHECKING:
    import subprocess

WORKER = Path(__file__).with_name("elastic_worker.py")


def c10d(nnodes: str, nproc: int, port: int, *options: str) -> list[str]:
    """torchrun options for one agent of an elastic job meeting at 127.0.0.1:`port`."""
    return [
        f"--nnodes={nnodes}", f"--nproc-per-node={nproc}", "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{port}", f"--rdzv-id=elastic-{port}",
        "--rdzv-conf=last_call_timeout=1",  # close an elastic round 1 s after MIN nodes joined
        *options,
    ]  # fmt: skip


def run(out_dir: Path, fault: str, *agents: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Run the worker with `fault` under each agent's torchrun options, all at once."""
    out_dir.mkdir(exist_ok=True)
    return run_agents([torchrun(*options, str(WORKER), str(out_dir), fault) for options in agents])


def processes(out_dir: Path) -> dict[int, list[dict[str, Any]]]:
    """Each rank's worker processes, by rank: what each wrote (restart count, resumed iteration)."""
    found: dict[int, list[dict[str, Any]]] = {0: [], 1: []}
    for report in sorted(out_dir.glob("rank*_pid*.json")):
        rank, pid = (int(part) for part in report.stem[len("rank") :].split("_pid"))
        found[rank].append({"pid": pid, **json.loads(report.read_text())})
    return found


def assert_all_ended(out_dir: Path) -> None:
    """No worker process outlives its torchrun agents."""
    for reports in processes(out_dir).values():
        for report in reports:
            with pytest.raises(ProcessLookupError):
                os.kill(report["pid"], 0)


def final_weights(out_dir: Path) -> list[dict[str, torch.Tensor]]:
    return [torch.load(out_dir / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]


def assert_bit_identical(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert got.keys() == want.keys()
    for key in want:
        assert torch.equal(got[key], want[key]), key


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    """The final weights of the same training, uninterrupted, on one agent with 2 ranks."""
    out_dir = tmp_path_factory.mktemp("reference") / "run"
    (done,) = run(out_dir, "none", ["--standalone", "--nproc-per-node=2"])
    assert done.returncode == 0, done.stderr[-4000:]
    rank0, rank1 = final_weights(out_dir)
    assert_bit_identical(rank1, rank0)
    initial = torch.load(out_dir / "work" / "iter_2.pth", weights_only=True)["state_dict"]
    assert not torch.equal(rank0["net.0.weight"], initial["net.0.weight"])  # it trained
    return rank0


def test_a_killed_worker_restarts_the_group_which_resumes_the_newest_checkpoint(
    tmp_path: Path, reference: dict[str, torch.Tensor]
) -> None:
    out_dir = tmp_path / "run"
    agent = c10d("1:2", 2, free_port(), "--max-restarts=1")
    (done,) = run(out_dir, "kill-rank1", agent)
    assert done.returncode == 0, done.stderr[-4000:]
    for rank, reports in processes(out_dir).items():
        first, second = reports if reports[0]["restart_count"] == 0 else reports[::-1]
        assert (first["restart_count"], second["restart_count"]) == (0, 1), rank
        assert "resumed_iter" not in first  # killed, or stopped by torchrun, before the end
        # iter_8.pth, or interrupted_iter_9.pth if rank 0 finished iteration 9 before the stop.
        assert second["resumed_iter"] in (8, 9), rank
    restarted = "torchrun restarted the workers (restart 1 of at most 1): resuming from"
    assert done.stdout.count(restarted) == 1  # rank 0's console
    for weights in final_weights(out_dir):
        assert_bit_identical(weights, reference)
    assert_all_ended(out_dir)


def test_two_agents_restart_after_rank_0_dies_writing_a_checkpoint(
    tmp_path: Path, reference: dict[str, torch.Tensor]
) -> None:
    """Two nodes on 127.0.0.1; rank 0 is SIGKILLed holding the work dir's lock, mid-write."""
    out_dir, port = tmp_path / "run", free_port()
    agent = c10d("2", 1, port, "--max-restarts=1")
    results = run(out_dir, "kill-rank0-saving", agent, agent)
    for done in results:
        assert done.returncode == 0, done.stderr[-4000:]
    work = out_dir / "work"
    # The half-written iter_10.pth never replaced anything: the restart resumed iter_8.pth,
    # removed the dead writer's temporary file, and took the dead holder's lock.
    for reports in processes(out_dir).values():
        assert sorted(report.get("resumed_iter", -1) for report in reports) == [-1, 8]
    assert not list(work.glob(".*.tmp"))
    output = "".join(done.stdout for done in results)
    assert "Removed 1 temporary files (0 bytes) that killed runs left in" in output
    assert (work / "last_checkpoint").read_text() == str(work / "iter_12.pth")
    for weights in final_weights(out_dir):
        assert_bit_identical(weights, reference)
    assert_all_ended(out_dir)


def test_a_rank_that_raises_ends_every_process_and_names_the_error(tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    (done,) = run(out_dir, "raise-rank1", ["--standalone", "--nproc-per-node=2"])
    assert done.returncode != 0
    assert f"RuntimeError: {RAISED}" in done.stderr  # rank 1's traceback
    assert "elastic_worker.py FAILED" in done.stderr  # torchrun's summary
    assert [len(reports) for reports in processes(out_dir).values()] == [1, 1]
    assert_all_ended(out_dir)


def test_every_rank_stops_with_rank_0s_reason_when_no_checkpoint_can_be_resumed(
    tmp_path: Path,
) -> None:
    """Rank 0 alone chooses the checkpoint to resume; when it cannot, no rank waits for it."""
    out_dir = tmp_path / "run"
    work = out_dir / "work"
    work.mkdir(parents=True)
    (work / "iter_2.pth").write_bytes(b"not a checkpoint")
    (work / "last_checkpoint").write_text(str(work / "iter_2.pth"))
    (done,) = run(out_dir, "none", ["--standalone", "--nproc-per-node=2"])
    assert done.returncode != 0
    assert re.search(r"\[rank0\]: \S*CheckpointError: cannot resume in", done.stderr)
    reason = "[rank1]: RuntimeError: rank 0 could not choose the checkpoint to resume: "
    assert reason + "CheckpointError: cannot resume in" in done.stderr
    assert_all_ended(out_dir)


def test_a_hung_rank_ends_after_the_process_group_timeout_from_dist_cfg(tmp_path: Path) -> None:
    """Rank 0 waits in a collective for a rank that never comes, for dist_cfg's timeout only."""
    out_dir = tmp_path / "run"
    (done,) = run(out_dir, "hang-rank1", ["--standalone", "--nproc-per-node=2"])
    assert done.returncode != 0
    assert f"Timed out waiting {HANG_TIMEOUT * 1000}ms" in done.stderr, done.stderr[-4000:]
    assert_all_ended(out_dir)
