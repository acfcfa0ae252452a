"""Run worker scripts under real torchrun agents (gloo) and read what the workers wrote."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from ports import free_port

if TYPE_CHECKING:
    from collections.abc import Sequence


def torchrun(*arguments: str) -> list[str]:
    """The command line of a torchrun agent with these `arguments` (options, script, its own)."""
    return [sys.executable, "-m", "torch.distributed.run", *arguments]


def run_agents(
    commands: Sequence[Sequence[str]], timeout: float = 120
) -> list[subprocess.CompletedProcess[str]]:
    """Start every command (a torchrun agent each) at once and wait until all have ended.

    Warnings are errors in the workers. Past `timeout` seconds every agent and
    every process it started is killed and the test fails. Output goes through
    files, so agents that print a lot never block on a full pipe.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "error"}
    with contextlib.ExitStack() as stack:
        files = [
            (stack.enter_context(tempfile.TemporaryFile("w+")),
             stack.enter_context(tempfile.TemporaryFile("w+")))
            for _ in commands
        ]  # fmt: skip
        processes = [
            subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env,
                             start_new_session=True)
            for command, (out, err) in zip(commands, files, strict=True)
        ]  # fmt: skip
        deadline = time.monotonic() + timeout
        try:
            for process in processes:
                process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for process in processes:
                _kill_tree(process.pid)
                process.wait()
            errors = "\n".join(_read(err)[-4000:] for _, err in files)
            pytest.fail(f"torchrun did not finish in {timeout} s:\n{errors}")
        return [
            subprocess.CompletedProcess(list(command), process.returncode, _read(out), _read(err))
            for command, process, (out, err) in zip(commands, processes, files, strict=True)
        ]


def run_two_ranks(worker: Path, out_dir: Path, timeout: float = 120) -> list[dict[str, Any]]:
    """Run ``worker out_dir`` under torchrun on 2 ranks; each writes ``out_dir/rank{r}.json``.

    Warnings are errors in the workers; a run over `timeout` seconds is killed and fails the test.
    """
    command = torchrun("--nproc_per_node=2", "--master_addr=127.0.0.1",
                       f"--master_port={free_port()}", str(worker), str(out_dir))  # fmt: skip
    (done,) = run_agents([command], timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    return [json.loads((out_dir / f"rank{r}.json").read_text()) for r in (0, 1)]


def _read(file: Any) -> str:
    file.seek(0)
    text: str = file.read()
    return text


def _kill_tree(pid: int) -> None:
    """SIGKILL `pid` and its descendants (torchrun puts each worker in a session of its own)."""
    tree, index = [pid], 0
    while index < len(tree):
        tree.extend(_children(tree[index]))
        index += 1
    for member in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children.extend(int(child) for child in (task / "children").read_text().split())
    return children
