"""Non-blocking, failure-isolated delivery: slow and failing backends never cost a record."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import textwrap
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from logging_parts import BlockedBackend, RecordingBackend, logged_run, read_events
from run_logs import as_trackers_see, json_records

from hooks_core import Hook, Runner
from hooks_logging._delivery import BackendWorker, Delivery

if TYPE_CHECKING:
    import pytest

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = dict(by_epoch=True, max_epochs=2, val_interval=1)
FAST_RETRY = dict(retry_delay=0.01, max_retry_delay=0.05)


def warnings_of(runner: Runner) -> list[str]:
    path = Path(runner.log_dir) / f"{runner.timestamp}.log"
    return [line.split(" - WARNING - ", 1)[1] for line in path.read_text().splitlines()
            if " - WARNING - " in line]  # fmt: skip


def test_records_reach_backends_on_writer_threads_in_order(tmp_path: Path) -> None:
    backend = RecordingBackend()
    runner = logged_run(tmp_path, dict(interval=2, backends=[backend]), train_cfg=EPOCHS)
    runner.train()
    assert [{**r, "step": s} for r, s in backend.records] == as_trackers_see(json_records(runner))
    assert backend.threads == {"hooks-logging:RecordingBackend"}
    assert backend.closed
    # Each name is declared once with its axis before its first record.
    assert backend.axes["loss"] == "iter" and backend.axes["mse"] == "epoch"


def test_a_backend_that_dies_mid_run_loses_nothing_from_the_json_log(tmp_path: Path) -> None:
    dead = RecordingBackend(fail_from=3)
    witness = RecordingBackend()
    runner = logged_run(
        tmp_path, dict(interval=2, backends=[dead, witness], **FAST_RETRY), train_cfg=EPOCHS
    )
    runner.train()  # training is not disturbed
    records = as_trackers_see(json_records(runner))
    assert len(records) == 6  # 4 training records, 2 validations
    assert [{**r, "step": s} for r, s in witness.records] == records  # the others get all
    assert [{**r, "step": s} for r, s in dead.records] == records[:2]
    reports = [w for w in warnings_of(runner) if w.startswith("RecordingBackend")]
    assert reports[0] == (
        "RecordingBackend failed in log_scalars at step 1: ConnectionError: tracking server "
        "unreachable (call 3). Training goes on; its records are kept and retried with "
        "back-off (the JSON log has every record)"
    )  # reported once, however often it failed
    json_log = Path(runner.log_dir) / "vis_data" / "scalars.json"
    assert warnings_of(runner)[-1] == (
        "not delivered to RecordingBackend: 4 log_scalars (steps 1..9) "
        f"(the JSON log has every record: {json_log})"
    )  # one report at the end, with the count, the steps and where they are


def test_a_backend_that_recovers_gets_every_record_in_order(tmp_path: Path) -> None:
    flaky = RecordingBackend(fail_calls={2, 3})
    runner = logged_run(tmp_path, dict(interval=2, backends=[flaky], **FAST_RETRY),
                        train_cfg=EPOCHS)  # fmt: skip
    runner.train()
    assert [{**r, "step": s} for r, s in flaky.records] == as_trackers_see(json_records(runner))
    reports = [w for w in warnings_of(runner) if w.startswith("RecordingBackend")]
    assert len(reports) == 2 and reports[1] == (
        "RecordingBackend works again; the calls it had missed are delivered"
    )


def test_each_backend_counts_its_own_attempts() -> None:
    # One call goes to both workers and each fails it twice. Had they shared one
    # count of attempts, the third failure overall would set the call aside and
    # it would arrive after the next one.
    backends = [RecordingBackend(fail_calls={1, 2}), RecordingBackend(fail_calls={1, 2})]
    workers = [BackendWorker(b, f"backend {i}", print, first_delay=0.0, max_attempts=3)
               for i, b in enumerate(backends)]  # fmt: skip
    delivery = Delivery(workers, print)
    delivery.call("log_scalars", {"loss": 1.0}, 1, step=1)
    assert delivery.drain(10)  # each worker's first attempt fails...
    assert delivery.drain(10)  # ...and its second: two failures each, four in all
    delivery.call("log_scalars", {"loss": 2.0}, 2, step=2)
    assert delivery.drain(10)
    for backend in backends:
        assert backend.records == [({"loss": 1.0}, 1), ({"loss": 2.0}, 2)]
    assert delivery.close() == {}


def test_an_inline_backend_is_called_here_until_a_call_fails_then_in_order_by_its_worker() -> None:
    backend = RecordingBackend(fail_calls={2})
    worker = BackendWorker(backend, "inline", print, inline=True, first_delay=0.0)
    delivery = Delivery([worker], print)
    delivery.call("log_scalars", {"loss": 1.0}, 1, step=1)
    assert backend.records == [({"loss": 1.0}, 1)]  # made before `call` returned
    assert backend.threads == {threading.current_thread().name}
    delivery.call("log_scalars", {"loss": 2.0}, 2, step=2)  # fails here: the worker retries it
    delivery.call("log_scalars", {"loss": 3.0}, 3, step=3)  # queued behind it
    assert delivery.drain(10)
    assert [step for _, step in backend.records] == [1, 2, 3]
    assert "hooks-logging:inline" in backend.threads
    backend.threads.clear()
    delivery.call("log_scalars", {"loss": 4.0}, 4, step=4)  # recovered: here again
    assert backend.threads == {threading.current_thread().name}
    assert backend.records[-1] == ({"loss": 4.0}, 4)
    assert delivery.close() == {}


def test_the_json_log_is_written_before_the_logger_hook_returns(tmp_path: Path) -> None:
    """The JSON log is a local file: written on the training thread, not by a woken one."""
    seen: list[int] = []

    class AfterTheLogger(Hook):
        priority = "LOWEST"

        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            seen.append(len(json_records(runner)))

    runner = logged_run(tmp_path, dict(interval=2), train_cfg=dict(by_epoch=False, max_iters=6),
                        custom_hooks=[AfterTheLogger()])  # fmt: skip
    runner.train()
    assert seen == [0, 1, 1, 2, 2, 3]


def test_training_never_waits_for_a_hanging_backend(tmp_path: Path) -> None:
    blocked = BlockedBackend()
    seen_during_training: list[int] = []

    class Watch(Hook):
        def after_train(self, runner: Any) -> None:
            seen_during_training.append(len(blocked.records))
            blocked.release.set()

    runner = logged_run(tmp_path, dict(interval=1, backends=[blocked]), train_cfg=EPOCHS,
                        custom_hooks=[Watch()])  # fmt: skip
    runner.train()
    assert seen_during_training == [0]  # all 10 iterations ran while it hung
    assert [{**r, "step": s} for r, s in blocked.records] == as_trackers_see(
        json_records(runner)
    )  # caught up


def test_a_full_queue_skips_the_backend_not_the_json_log(tmp_path: Path) -> None:
    blocked = BlockedBackend()

    class Release(Hook):
        def after_train(self, runner: Any) -> None:
            blocked.release.set()

    runner = logged_run(tmp_path, dict(interval=1, backends=[blocked], queue_size=2),
                        train_cfg=EPOCHS, custom_hooks=[Release()])  # fmt: skip
    runner.train()
    records = json_records(runner)
    assert len(records) == 12
    assert len(blocked.records) < len(records)
    reports = warnings_of(runner)
    assert any(w.startswith("BlockedBackend cannot keep up: its queue of 2 calls") for w in reports)
    assert reports[-1].startswith("not delivered to BlockedBackend: ")  # the skipped calls


def test_the_end_of_the_run_waits_for_a_hanging_backend_at_most_close_timeout(
    tmp_path: Path,
) -> None:
    blocked = BlockedBackend()
    runner = logged_run(tmp_path, dict(interval=5, backends=[blocked], close_timeout=0.2),
                        train_cfg=EPOCHS)  # fmt: skip
    runner.train()
    blocked.release.set()
    reports = warnings_of(runner)
    assert len(reports) == 1 and reports[0].startswith(
        "close_timeout=0.2 s ran out while waiting for 1 backend; not delivered to "
        "BlockedBackend: 4 log_scalars (steps 1..10), "
    )
    assert len(json_records(runner)) == 4


def test_no_tensor_is_converted_on_iterations_that_do_not_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Conversions (device syncs) happen on logging iterations only: one `.tolist()` each."""
    conversions: list[tuple[int, str]] = []
    current = {"iter": -1, "armed": False}
    main = threading.main_thread()

    def counting(name: str) -> Any:
        original = getattr(torch.Tensor, name)

        def convert(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            if current["armed"] and threading.current_thread() is main:
                conversions.append((current["iter"], name))
            return original(self, *args, **kwargs)

        return convert

    for name in ("item", "tolist", "__float__", "__int__", "__bool__", "numpy", "cpu"):
        monkeypatch.setattr(torch.Tensor, name, counting(name))

    class Arm(Hook):
        def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
            current.update(iter=runner.iter + 1, armed=True)

    class Disarm(Hook):
        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            current["armed"] = False

    runner = logged_run(tmp_path, dict(interval=3), train_cfg=EPOCHS)
    runner.register_hook(Arm(), priority="HIGHEST")
    runner.register_hook(Disarm(), priority="LOWEST")
    runner.train()
    assert conversions == [(3, "tolist"), (8, "tolist")]
    assert [r["step"] for r in json_records(runner) if "loss" in r] == [3, 8]


def test_records_are_delivered_when_the_process_dies_of_an_exception(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT / "tests" / "support")!r})
        from toy import runner_kwargs
        from hooks_core import Hook, Runner

        class Crash(Hook):
            def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
                if runner.iter + 1 == 8:  # before the logger (NORMAL < BELOW_NORMAL) logs it
                    raise RuntimeError("crash at iteration 8")

        runner = Runner(**runner_kwargs({str(tmp_path)!r}, train_cfg=dict(by_epoch=False,
                        max_iters=20, val_interval=20)), custom_hooks=[Crash()],
                        default_hooks=dict(logger=dict(type="LoggerHook", interval=1,
                                                       backends=["tensorboard"])))
        print(runner.log_dir, flush=True)
        runner.train()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1 and "crash at iteration 8" in result.stderr
    log_dir = Path(result.stdout.splitlines()[0])
    # TensorBoard writes after 10 queued events or 2 minutes: the end of the process flushed it.
    events = read_events(log_dir / "vis_data")
    for key in ("loss", "lr", "time", "data_time"):
        assert [e.step for e in events.Scalars(key)] == [1, 2, 3, 4, 5, 6, 7], key


def run_in_terminal(script: str) -> str:
    """Run `script` with stdout on a pseudo-terminal; return what it printed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=follower, stderr=subprocess.STDOUT, close_fds=True
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


PROGRESS_SCRIPT = """
import sys
sys.path.insert(0, {support!r})
from toy import runner_kwargs
from hooks_core import Runner
runner = Runner(**runner_kwargs({work_dir!r}, log_level="INFO", train_cfg=dict(
    by_epoch=True, max_epochs=2, val_interval=1)))
runner.train()
"""


def test_a_progress_bar_is_drawn_on_a_terminal_only(tmp_path: Path) -> None:
    script = PROGRESS_SCRIPT.format(support=str(ROOT / "tests" / "support"),
                                    work_dir=str(tmp_path))  # fmt: skip
    on_terminal = run_in_terminal(script)
    assert "Epoch 1/2" in on_terminal and "Epoch 2/2" in on_terminal
    assert "5/5" in on_terminal and "it/s]" in on_terminal
    assert "Epoch(train) [1][5/5]" in on_terminal  # log lines still printed, above the bar

    piped = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120, check=True)  # fmt: skip
    assert "Epoch 1/2" not in piped.stdout + piped.stderr
    assert "Epoch(train) [1][5/5]" in piped.stdout
