"""Run a worker script on two real torchrun processes (gloo) and read each rank's JSON result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from ports import free_port

if TYPE_CHECKING:
    from pathlib import Path


def run_two_ranks(worker: Path, out_dir: Path, timeout: float = 120) -> list[dict[str, Any]]:
    """Run ``worker out_dir`` under torchrun on 2 ranks; each writes ``out_dir/rank{r}.json``.

    Warnings are errors in the workers; a run over `timeout` seconds is killed and fails the test.
    """
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(worker), str(out_dir),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "error"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, start_new_session=True) as process:  # fmt: skip
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            _, stderr = process.communicate()
            pytest.fail(f"torchrun did not finish in {timeout} s:\n{stderr[-4000:]}")
    assert process.returncode == 0, stderr[-4000:]
    return [json.loads((out_dir / f"rank{r}.json").read_text()) for r in (0, 1)]
