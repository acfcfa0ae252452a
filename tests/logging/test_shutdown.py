"""The end of a run: bounded, said on screen, stopped by Ctrl-C, and the JSON log complete first."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logging_parts import BlockedBackend, RecordingBackend, logged_run
from run_logs import json_records, read_json_lines

from hooks_core import Hook, Runner
from hooks_logging import _delivery as delivery
from hooks_logging._delivery import BackendWorker, Delivery
from hooks_logging._forwarding import Forwarder

if TYPE_CHECKING:
    import pytest

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = dict(by_epoch=True, max_epochs=2, val_interval=1)  # 10 iterations, 2 validations
WAIT_LINE = re.compile(
    r"waiting for (\d+) backends? to (deliver|close): (.*); up to (\d+) s more "
    r"\(close_timeout=([\d.]+) s\)(; press Ctrl-C to stop waiting)?$"
)


class HangingBackend(BlockedBackend):
    """A tracking server that does not answer (the name the reports here show)."""


class Lines(logging.Handler):
    """Keeps the messages of a logger; `on_message` runs for each, on the logging thread."""

    def __init__(self, on_message: Any = None) -> None:
        super().__init__()
        self.messages: list[str] = []
        self._on_message = on_message

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.messages.append(message)
        if self._on_message is not None:
            self._on_message(message)

    def waits(self) -> list[re.Match[str]]:
        return [m for line in self.messages if (m := WAIT_LINE.match(line))]


def listen(runner: Runner, on_message: Any = None) -> Lines:
    lines = Lines(on_message)
    runner.logger.addHandler(lines)
    return lines


def test_a_run_whose_backends_kept_up_ends_silently(tmp_path: Path) -> None:
    backend = RecordingBackend()
    runner = logged_run(tmp_path, dict(interval=1, backends=[backend]), train_cfg=EPOCHS)
    lines = listen(runner)
    runner.train()
    assert backend.closed and len(backend.records) == 12
    assert not lines.waits()
    assert not [m for m in lines.messages if "deliver" in m]


def test_the_wait_says_what_is_left_while_the_json_log_is_already_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "NOTICE_EVERY", 0.2)
    hanging = HangingBackend()
    json_during_wait: list[list[dict[str, Any]]] = []
    delivered_during_wait: list[int] = []

    def on_message(message: str) -> None:
        if WAIT_LINE.match(message) and len(json_during_wait) < 2:
            delivered_during_wait.append(len(hanging.records))
            json_during_wait.append(read_json_lines(Path(runner.log_dir) / "vis_data" /
                                                    "scalars.json"))  # fmt: skip
            if len(json_during_wait) == 2:
                hanging.release.set()

    runner = logged_run(tmp_path, dict(interval=5, backends=[hanging], close_timeout=30.0),
                        train_cfg=EPOCHS)  # fmt: skip
    lines = listen(runner, on_message)
    runner.train()
    # The JSON log was complete on disk while the hook still waited for the other backend.
    final = json_records(runner)
    assert len(final) == 4 and json_during_wait == [final, final]
    assert delivered_during_wait == [0, 0]  # ...while the other backend had got nothing yet
    first, second = lines.waits()[:2]
    assert first.group(1, 2, 3) == ("1", "deliver", "HangingBackend 4 records left")
    assert first.group(5) == "30"
    assert 0 <= int(second.group(4)) <= int(first.group(4)) <= 30
    assert first.group(6) == "; press Ctrl-C to stop waiting"  # pytest runs it on the main thread
    assert len(hanging.records) == 4  # released: it got every record after all
    assert not [m for m in lines.messages if "not delivered" in m]


def test_all_backends_share_one_close_timeout(tmp_path: Path) -> None:
    hanging = [HangingBackend(), HangingBackend()]
    ended: list[float] = []

    class Clock(Hook):
        priority = "HIGHEST"

        def after_run(self, runner: Any) -> None:
            ended.append(time.monotonic())

    runner = logged_run(tmp_path, dict(interval=5, backends=hanging, close_timeout=1.0),
                        train_cfg=EPOCHS, custom_hooks=[Clock()])  # fmt: skip
    lines = listen(runner)
    runner.train()
    waited = time.monotonic() - ended[0]
    for backend in hanging:
        backend.release.set()
    assert 1.0 <= waited < 1.8  # one deadline for both, not one second each
    json_log = Path(runner.log_dir) / "vis_data" / "scalars.json"
    reports = [m for m in lines.messages if "not delivered" in m]
    missed = "4 log_scalars (steps 1..10), 2 flush, 1 define_step_axes"  # 1st one in flight
    assert reports == [
        "close_timeout=1 s ran out while waiting for 2 backends; not delivered to "
        f"HangingBackend: {missed}; to HangingBackend #2: {missed} "
        f"(the JSON log has every record: {json_log})"
    ]
    assert lines.waits()[0].group(3) == (
        "HangingBackend 4 records left, HangingBackend #2 4 records left"
    )


class SlowToClose(RecordingBackend):
    """Its `close` needs the other backend's close to have started (a barrier of two)."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        self._barrier = barrier

    def _close(self) -> None:
        self._barrier.wait()


def test_backends_close_at_the_same_time_not_one_after_the_other(tmp_path: Path) -> None:
    barrier = threading.Barrier(2, timeout=20)  # closed one after the other, it would break
    backends = [SlowToClose(barrier), SlowToClose(barrier)]
    runner = logged_run(tmp_path, dict(interval=5, backends=backends), train_cfg=EPOCHS)
    lines = listen(runner)
    runner.train()
    assert all(backend.closed for backend in backends) and not barrier.broken
    assert not [m for m in lines.messages if "failed to close" in m or "not delivered" in m]


def test_a_flush_waits_for_all_backends_within_one_timeout() -> None:
    hanging = [HangingBackend(), HangingBackend()]
    workers = [BackendWorker(b, f"hanging {i}", print) for i, b in enumerate(hanging)]
    sinks = Delivery(workers, print)
    sinks.call("log_scalars", {"loss": 1.0}, 1, step=1)
    started = time.monotonic()
    assert not sinks.drain(0.5)
    assert time.monotonic() - started < 0.9  # one 0.5 s for both, not 0.5 s each
    for backend in hanging:
        backend.release.set()
    assert sinks.drain(10)
    assert sinks.close() == {}


def test_the_adapters_forwarder_says_what_it_waits_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "FIRST_NOTICE_AFTER", 0.05)
    reports: list[str] = []
    hanging = HangingBackend()
    forwarder = Forwarder([hanging], close_timeout=0.5, report=reports.append)
    forwarder.start("unused")
    forwarder.log_scalars({"loss": 1.0}, 1)
    forwarder.log_scalars({"loss": 0.5}, 2)
    forwarder.close()
    hanging.release.set()
    assert WAIT_LINE.match(reports[0]) and "HangingBackend 2 records left" in reports[0]
    assert reports[-1] == (
        "close_timeout=0.5 s ran out while waiting for 1 backend; not delivered to "
        "HangingBackend: 2 log_scalars (steps 1..2)"
    )


# ---------------------------------------------------------------- Ctrl-C, for real
SLOW_RUN = """
import sys, time
sys.path.insert(0, {support!r})
from toy import runner_kwargs
from hooks_core import Hook, Runner
from hooks_logging import LoggerBackend

class SlowBackend(LoggerBackend):
    '''A tracking server that takes a second per record (the slowness is the fake).'''
    def log_scalars(self, scalars, step):
        time.sleep(1.0)

class Crash(Hook):
    def after_train(self, runner):
        if {crash!r}:
            raise RuntimeError("crash after training")

runner = Runner(**runner_kwargs({work_dir!r}, log_level="INFO", train_cfg=dict(
    by_epoch=True, max_epochs=2, val_interval=1)), custom_hooks=[Crash()],
    default_hooks=dict(logger=dict(type="LoggerHook", interval=1, backends=[SlowBackend()])))
print("log_dir:", runner.log_dir, flush=True)
runner.train()
print("train() returned", flush=True)
"""


def run_until_waiting_then_ctrl_c(work_dir: Path, crash: bool) -> tuple[int, str, float, Path]:
    """Run `SLOW_RUN`, press Ctrl-C at its first waiting line; return what it did."""
    script = SLOW_RUN.format(support=str(ROOT / "tests" / "support"), work_dir=str(work_dir),
                             crash=crash)  # fmt: skip
    output: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-u", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:  # fmt: skip
        assert process.stdout is not None
        timer = threading.Timer(120, process.kill)  # a stuck run fails the test, not hangs it
        timer.start()
        try:
            for line in process.stdout:
                output.append(line)
                if "press Ctrl-C to stop waiting" in line:
                    break
            pressed = time.monotonic()
            process.send_signal(signal.SIGINT)
            output.append(process.stdout.read())
            code = process.wait()
            took = time.monotonic() - pressed
        finally:
            timer.cancel()
    text = "".join(output)
    log_dir = Path(next(line for line in output if line.startswith("log_dir:")).split()[1])
    return code, text, took, log_dir


def test_ctrl_c_stops_the_wait_reports_what_was_lost_and_ends_the_process(tmp_path: Path) -> None:
    code, output, took, log_dir = run_until_waiting_then_ctrl_c(tmp_path, crash=False)
    assert took < 5, output  # the backend had about 11 s of records left
    assert code == -signal.SIGINT, output  # KeyboardInterrupt went on: the script stopped
    assert "train() returned" not in output and "KeyboardInterrupt" in output
    waiting = next(line for line in output.splitlines() if "waiting for" in line)
    assert re.search(r"waiting for 1 backend to deliver: SlowBackend \d+ records left; up to "
                     r"\d+ s more \(close_timeout=60 s\); press Ctrl-C to stop waiting$",
                     waiting)  # fmt: skip
    json_log = log_dir / "vis_data" / "scalars.json"
    report = re.search(
        r"Ctrl-C stopped the wait for 1 backend; not delivered to "
        r"SlowBackend: (\d+) log_scalars \(steps \d+\.\.10\)[^(]*"
        rf"\(the JSON log has every record: {re.escape(str(json_log))}\)",
        output,
    )
    assert report, output
    assert 1 <= int(report.group(1)) <= 12  # the count of the records it did not get
    # The JSON log is complete: 10 training records and 2 validations.
    records = read_json_lines(json_log)
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 11))
    assert [r["step"] for r in records if "mse" in r] == [1, 2]
    assert read_json_lines(log_dir / "vis_data" / f"{log_dir.name}.json") == records  # the copy
    assert report.group(0) in (log_dir / f"{log_dir.name}.log").read_text()  # in the text log too


def test_ctrl_c_stops_the_wait_at_the_exit_of_a_crashed_run(tmp_path: Path) -> None:
    code, output, took, log_dir = run_until_waiting_then_ctrl_c(tmp_path, crash=True)
    assert took < 5, output
    assert code == 1 and "RuntimeError: crash after training" in output  # the crash's exit
    assert "Ctrl-C stopped the wait for 1 backend" in output
    assert "Exception ignored" not in output  # the Ctrl-C ended the wait, nothing else
    assert len(read_json_lines(log_dir / "vis_data" / "scalars.json")) == 12


def test_a_hanging_backend_is_reported_without_holding_the_process(tmp_path: Path) -> None:
    """Without Ctrl-C, a backend that never answers holds the end for close_timeout, no more."""
    script = textwrap.dedent(
        f"""
        import sys, threading
        sys.path.insert(0, {str(ROOT / "tests" / "support")!r})
        from toy import runner_kwargs
        from hooks_core import Runner
        from hooks_logging import LoggerBackend

        class Hanging(LoggerBackend):
            def log_scalars(self, scalars, step):
                threading.Event().wait()

        runner = Runner(**runner_kwargs({str(tmp_path)!r}), default_hooks=dict(logger=dict(
            type="LoggerHook", interval=5, close_timeout=1.5, backends=[Hanging()])))
        runner.train()
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "close_timeout=1.5 s ran out while waiting for 1 backend; not delivered to "
        "Hanging: 6 log_scalars (steps 1..15)"
    ) in result.stdout
