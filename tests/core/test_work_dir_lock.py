"""One training run per work_dir, dead writers' temporary files removed, errors in the text log.

The runs that compete for a work_dir are real processes (`work_dir_lock_worker.py`):
the lock is the OS's (``lockf`` on ``<work_dir>/.hooks.lock``), and only real
processes show that a SIGKILLed holder frees it and that a second run fails at
once while the first trains on untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch
from ports import free_port
from toy import SaveEveryIter, runner_kwargs

from hooks_core import EpochBasedRunner, Hook, IterBasedRunner, Runner, TrainingInterrupted
from hooks_core.checkpoint import find_latest_checkpoint

if TYPE_CHECKING:
    from collections.abc import Iterator

WORKER = Path(__file__).with_name("work_dir_lock_worker.py")
LOCK = ".hooks.lock"
TIMEOUT = 60


def worker(work_dir: Path, out: Path, *flags: str) -> list[str]:
    return [sys.executable, str(WORKER), str(work_dir), str(out), *flags]


def run_worker(work_dir: Path, out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        worker(work_dir, out, *flags), capture_output=True, text=True, timeout=TIMEOUT
    )


def start_holding(
    work_dir: Path, out: Path, at: int, release: Path, *flags: str
) -> subprocess.Popen[str]:
    """Start a run that waits after iteration `at` (its checkpoints up to then written)."""
    proc = subprocess.Popen(
        worker(work_dir, out, "--hold-at", str(at), "--release", str(release), *flags),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "holding":
            return proc
    _, stderr = proc.communicate(timeout=TIMEOUT)
    pytest.fail(f"the first run ended before holding (status {proc.returncode}):\n{stderr}")


@pytest.fixture
def cleanup() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test started; any still running at its end are killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def text_log(runner: Runner) -> str:
    return (Path(runner.log_dir) / f"{runner.timestamp}.log").read_text(encoding="utf-8")


def worker_log(stdout: str) -> str:
    """The text log of the worker run that printed `stdout`."""
    log_dir = Path(next(line[4:] for line in stdout.splitlines() if line.startswith("log ")))
    return (log_dir / f"{log_dir.name}.log").read_text(encoding="utf-8")


def iterations(stdout: str) -> list[int]:
    return [int(line.split()[1]) for line in stdout.splitlines() if line.startswith("iter ")]


# ------------------------------------------------------------ two processes, one work_dir
def test_a_second_run_fails_at_once_and_the_first_trains_on_unaffected(
    tmp_path: Path, cleanup: list[subprocess.Popen[str]]
) -> None:
    work_dir, release = tmp_path / "run", tmp_path / "release"
    first = start_holding(work_dir, tmp_path / "first.pt", 7, release)
    cleanup.append(first)
    holder = json.loads((work_dir / LOCK).read_text())
    assert holder["pid"] == first.pid
    assert holder["host"] == socket.gethostname()

    second = run_worker(work_dir, tmp_path / "second.pt")  # the first is still holding
    assert first.poll() is None, "the first run ended while the second ran"
    assert second.returncode == 1
    host = socket.gethostname()
    assert f"work_dir {work_dir} is in use" in second.stderr
    assert f"pid {first.pid} on host {host}, since {holder['since']}" in second.stderr
    assert "wait for that run to end" in second.stderr
    assert "give this run another work_dir" in second.stderr
    assert iterations(second.stdout) == []  # refused before training
    assert f"pid {first.pid} on host {host}" in worker_log(second.stdout)

    release.touch()
    stdout, stderr = first.communicate(timeout=TIMEOUT)
    assert first.returncode == 0, stderr
    assert iterations(stdout) == list(range(8, 16))
    assert (work_dir / LOCK).read_text() == ""  # released: it names no holder
    final = torch.load(tmp_path / "first.pt", weights_only=True)
    for number in (5, 10, 15):
        checkpoint = torch.load(work_dir / f"iter_{number}.pth", weights_only=True)
        assert checkpoint["meta"]["iter"] == number
    assert Path((work_dir / "last_checkpoint").read_text()).name == "iter_15.pth"
    for key, value in checkpoint["state_dict"].items():
        assert torch.equal(value, final[key])
    assert not list(work_dir.glob(".*.tmp"))


def test_a_killed_holder_frees_the_work_dir_for_a_run_that_resumes(
    tmp_path: Path, cleanup: list[subprocess.Popen[str]]
) -> None:
    work_dir = tmp_path / "run"
    first = start_holding(work_dir, tmp_path / "first.pt", 7, tmp_path / "never")
    cleanup.append(first)
    first.kill()
    first.communicate(timeout=TIMEOUT)
    assert json.loads((work_dir / LOCK).read_text())["pid"] == first.pid  # stale, not held

    resumed = run_worker(work_dir, tmp_path / "resumed.pt", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert iterations(resumed.stdout) == list(range(6, 16))  # from iter_5.pth on
    assert (work_dir / LOCK).read_text() == ""


def test_dataloader_workers_outliving_a_killed_holder_do_not_hold_the_work_dir(
    tmp_path: Path, cleanup: list[subprocess.Popen[str]]
) -> None:
    work_dir = tmp_path / "run"
    first = start_holding(work_dir, tmp_path / "first.pt", 7, tmp_path / "never", "--workers", "2")
    cleanup.append(first)
    workers = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(first.pid)],
               capture_output=True, text=True).stdout.split()]  # fmt: skip
    assert len(workers) == 2
    first.kill()  # the main process only: its workers live on until they notice
    first.communicate(timeout=TIMEOUT)
    try:
        resumed = run_worker(work_dir, tmp_path / "resumed.pt", "--resume")
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert resumed.returncode == 0, resumed.stderr
    assert iterations(resumed.stdout) == list(range(6, 16))


# ------------------------------------------------------------ one process
class CallAt(Hook):
    """Call `action(runner)` after training iteration `at` (1-based)."""

    priority = "LOWEST"

    def __init__(self, at: int, action: Any) -> None:
        self.at = at
        self.action = action

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        if runner.iter + 1 == self.at:
            self.action(runner)


def fail(runner: Any) -> None:
    raise ValueError("a hook failed on purpose")


def test_runs_one_after_another_in_one_process_all_train(tmp_path: Path) -> None:
    failed = Runner(**runner_kwargs(tmp_path), custom_hooks=[CallAt(2, fail)])
    with pytest.raises(ValueError, match="on purpose"):
        failed.train()
    first = Runner(**runner_kwargs(tmp_path), custom_hooks=[SaveEveryIter(5)])
    first.train()
    assert first.iter == 15
    again = Runner(
        **runner_kwargs(tmp_path, resume=True, train_cfg=dict(by_epoch=True, max_epochs=4))
    )
    again.train()
    assert again.iter == 20  # resumed at 15, trained one more epoch
    assert (tmp_path / LOCK).read_text() == ""


def test_a_second_runner_of_the_same_process_cannot_train_there_meanwhile(
    tmp_path: Path,
) -> None:
    refusals: list[str] = []

    def train_another(runner: Any) -> None:
        with pytest.raises(RuntimeError, match="is in use") as refused:
            Runner(**runner_kwargs(tmp_path)).train()
        refusals.append(str(refused.value))

    runner = Runner(**runner_kwargs(tmp_path), custom_hooks=[CallAt(3, train_another)])
    runner.train()
    assert runner.iter == 15
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in refusals[0]
    assert repr(runner.experiment_name) in refusals[0]


def test_evaluating_takes_no_lock(tmp_path: Path) -> None:
    def validate_meanwhile(runner: Any) -> None:
        assert "mse" in Runner(**runner_kwargs(tmp_path)).val()

    Runner(**runner_kwargs(tmp_path), custom_hooks=[CallAt(3, validate_meanwhile)]).train()


def test_a_stop_on_sigterm_releases_the_lock(tmp_path: Path) -> None:
    def sigterm(runner: Any) -> None:  # what the SIGTERM handler does
        runner.train_loop.request_stop(signal.SIGTERM)

    stopped = Runner(**runner_kwargs(tmp_path), custom_hooks=[CallAt(4, sigterm)])
    with pytest.raises(TrainingInterrupted):
        stopped.train()
    assert "stopped by an error" not in text_log(stopped)  # a clean stop, not an error
    resumed = Runner(**runner_kwargs(tmp_path, resume=True))
    resumed.train()
    assert resumed.iter == 15


def test_the_mmcv_runners_hold_the_lock_while_they_run(tmp_path: Path) -> None:
    refusals: list[str] = []

    class Contender(Hook):
        def after_train_iter(self, runner: Any, *args: Any, **kwargs: Any) -> None:
            if runner.iter == 0:
                with pytest.raises(RuntimeError, match="is in use") as refused:
                    Runner(**runner_kwargs(tmp_path)).train()
                refusals.append(str(refused.value))

    data = [(torch.randn(4, 4), torch.randn(4, 1)) for _ in range(2)]
    for runner_type, length in ((EpochBasedRunner, "max_epochs"), (IterBasedRunner, "max_iters")):
        model = MmcvStepModel()
        runner = runner_type(
            model,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            work_dir=str(tmp_path),
            **{length: 2},
        )
        runner.register_hook(Contender())
        runner.run([data], [("train", 1)])
        assert (tmp_path / LOCK).read_text() == ""
    assert len(refusals) == 2


class MmcvStepModel(torch.nn.Module):
    """A model written for MMCV's runners: ``train_step`` steps its optimizer itself."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 1)

    def train_step(self, data: Any, optimizer: Any) -> dict[str, Any]:
        x, y = data
        loss = ((self.fc(x) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss, "log_vars": {"loss": loss.item()}, "num_samples": len(x)}


def test_without_fcntl_training_goes_on_unlocked_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "fcntl", None)  # as on Windows: `import fcntl` fails
    leftover = tmp_path / f".iter_3.pth.{dead_pid()}.tmp"
    leftover.write_bytes(b"0" * 10)
    runner = Runner(**runner_kwargs(tmp_path))
    runner.train()
    assert runner.iter == 15
    assert "this platform has no fcntl to lock files with" in text_log(runner)
    assert "not detected" in text_log(runner)
    assert not (tmp_path / LOCK).exists()
    assert leftover.exists()  # with no lock, another writer may still be writing it


# ------------------------------------------------------------ temporary files of dead writers
def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


KILLED_WRITER = """
import sys
from hooks_core.checkpoint import write_atomically

def write(file):
    file.write(b"0" * 1_500_000)
    file.flush()
    print("writing", flush=True)
    sys.stdin.read()  # block here until killed

write_atomically(sys.argv[1], write)
"""


def kill_while_writing(target: Path) -> int:
    """SIGKILL a real process inside `write_atomically(target)`; return its pid."""
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    proc.kill()
    proc.communicate(timeout=TIMEOUT)
    return proc.pid


def test_temporary_files_of_dead_writers_are_removed_at_the_next_start(tmp_path: Path) -> None:
    pid = kill_while_writing(tmp_path / "iter_3.pth")
    killed = tmp_path / f".iter_3.pth.{pid}.tmp"
    assert killed.stat().st_size == 1_500_000
    assert find_latest_checkpoint(tmp_path) is None  # never taken for a checkpoint
    checkpoints = tmp_path / "ckpts"  # where last_checkpoint points: a checkpoint folder
    checkpoints.mkdir()
    (checkpoints / "iter_2.pth").write_bytes(b"")
    (tmp_path / "last_checkpoint").write_text(str(checkpoints / "iter_2.pth"))
    in_checkpoints = checkpoints / f".iter_4.pth.{dead_pid()}.tmp"
    in_checkpoints.write_bytes(b"0" * 400_000)
    same_pid_earlier = tmp_path / f".epoch_1.pth.{os.getpid()}.tmp"  # a previous process's
    same_pid_earlier.write_bytes(b"0" * 100_000)
    an_hour_ago = time.time() - 3600
    os.utime(same_pid_earlier, (an_hour_ago, an_hour_ago))
    kept = [
        tmp_path / ".notes.tmp",
        tmp_path / "iter_3.pth.tmp",
        tmp_path / ".iter_3.pth.tmp",
        tmp_path / f"iter_3.pth.{pid}.tmp",
        tmp_path / f".iter_3.pth.{pid}a.tmp",
        tmp_path / f".iter_3.pth.{pid}.tmp.bak",
        tmp_path / f".iter_5.pth.{os.getpid()}.tmp",  # this process's: it may be writing it
        tmp_path / f".iter_6.pth.{os.getppid()}.tmp",  # a live process's
        tmp_path / "deeper" / f".iter_7.pth.{pid}.tmp",  # not a checkpoint folder
    ]
    for path in kept:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"mine")
    (tmp_path / f".folder.{pid}.tmp").mkdir()

    runner = Runner(**runner_kwargs(tmp_path, log_level="INFO"))
    runner.train()
    assert not killed.exists()
    assert not in_checkpoints.exists()
    assert not same_pid_earlier.exists()
    assert all(path.read_bytes() == b"mine" for path in kept)
    assert (tmp_path / f".folder.{pid}.tmp").is_dir()
    assert (
        f"Removed 3 temporary files (2.00 MB) that killed runs left in {tmp_path} and "
        f"{checkpoints} while writing them"
    ) in text_log(runner)


# ------------------------------------------------------------ errors in the text log
def test_an_error_in_a_hook_is_in_the_text_log_once_and_on_the_console_once(
    tmp_path: Path,
) -> None:
    done = run_worker(tmp_path / "run", tmp_path / "out.pt", "--fail-at", "3")
    assert done.returncode == 1
    assert done.stderr.count("Traceback") == 1
    assert done.stderr.count("ValueError: a hook failed on purpose at iteration 3") == 1
    assert "Traceback" not in done.stdout  # the logger's console
    assert "stopped by an error" not in done.stdout
    log = worker_log(done.stdout)
    assert log.count("Training stopped by an error:") == 1
    assert log.count("Traceback") == 1
    assert log.count("ValueError: a hook failed on purpose at iteration 3") == 1
    assert "in after_train_iter" in log  # the traceback reaches into the hook


def test_a_failed_checkpoint_write_is_in_the_text_log(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the checkpoints' folder should be")

    def save(runner: Any) -> None:
        runner.save_checkpoint(str(blocker), "iter_2.pth")

    runner = Runner(**runner_kwargs(tmp_path / "run"), custom_hooks=[CallAt(2, save)])
    with pytest.raises(OSError, match="not_a_folder") as raised:
        runner.train()
    log = text_log(runner)
    assert log.count("Training stopped by an error:") == 1
    assert f"{type(raised.value).__name__}: {raised.value}" in log


# ------------------------------------------------------------ distributed
def test_every_rank_fails_when_rank_0_finds_the_work_dir_taken(tmp_path: Path) -> None:
    import fcntl

    work_dir = tmp_path / "run"
    work_dir.mkdir()
    with open(work_dir / LOCK, "w") as held:  # another process holds it: this one
        fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        command = [
            sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
            "--master_addr=127.0.0.1", f"--master_port={free_port()}",
            *worker(work_dir, tmp_path / "out.pt", "--launcher", "pytorch")[1:],
        ]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, start_new_session=True) as proc:  # fmt: skip
            try:
                stdout, stderr = proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                pytest.fail("a rank waited for rank 0 instead of failing")
    assert proc.returncode != 0
    assert f"work_dir {work_dir} is in use" in stderr  # rank 0
    assert "rank 0 could not start training: work_dir" in stderr  # rank 1
    assert iterations(stdout) == []
