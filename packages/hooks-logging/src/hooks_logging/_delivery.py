"""Non-blocking, failure-isolated delivery of log records to backends.

Each backend gets a bounded queue and a writer thread of its own, so the
training thread only enqueues, and a slow or failing backend delays neither
training nor the other backends. A call that raises is reported once, kept,
and retried with exponential back-off, each backend counting its own attempts;
calls still undelivered at the end are reported with their steps. Essential
backends (the JSON log) never drop a record: when their queue is full the
training thread waits for room.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

__all__ = ["BackendWorker", "Delivery", "Call"]


class Call:
    """One backend method call to make: ``backend.<method>(*args)``, at `step` (for reports).

    The same call goes to every backend's worker, so it holds nothing a worker changes.
    """

    __slots__ = ("args", "method", "step")

    def __init__(self, method: str, args: tuple[Any, ...], step: int | None) -> None:
        self.method = method
        self.args = args
        self.step = step


class _Pending:
    """A call one worker still has to make, with that worker's count of its failures."""

    __slots__ = ("call", "failures")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.failures = 0


class _Marker:
    """Put in a queue to learn when the worker has processed everything before it."""

    __slots__ = ("done", "final")

    def __init__(self, final: bool) -> None:
        self.done = threading.Event()
        self.final = final


class BackendWorker:
    """Deliver calls to one backend from a daemon thread, in order, retrying failures.

    Args:
        backend: The backend whose methods are called.
        name: How reports name it, e.g. ``'TensorboardBackend'``.
        report: Receives one message per event worth a human's attention
            (first failure, recovery, skipped calls, a close that failed or
            timed out); called from the worker thread, except for skipped
            calls (the thread calling `submit`) and a timeout (that of `close`).
        essential: Never drop a call: `submit` waits when the queue is full.
        queue_size: How many calls may wait in the queue.
        first_delay, max_delay: Back-off after a failure: the first wait, doubled
            after each further failure up to `max_delay` seconds.
        max_attempts: After this many failures a call is set aside (so one call
            the backend always rejects does not hold back the rest) and tried
            once more when the worker closes.
    """

    def __init__(
        self,
        backend: Any,
        name: str,
        report: Callable[[str], None],
        essential: bool = False,
        queue_size: int = 10_000,
        first_delay: float = 0.5,
        max_delay: float = 30.0,
        max_attempts: int = 3,
    ) -> None:
        self.backend = backend
        self.name = name
        self.essential = essential
        self._report = report
        self._queue: queue.Queue[Call | _Marker] = queue.Queue(maxsize=queue_size)
        self._first_delay, self._max_delay, self._max_attempts = (
            first_delay,
            max_delay,
            max_attempts,
        )
        self._pending: deque[_Pending] = deque()
        self._set_aside: list[_Pending] = []
        self._delay = first_delay
        self._next_attempt = 0.0
        self._failing: str | None = None  # the method whose failure is being retried
        self._dropped: list[Call] = []
        self._closed = False
        self.undelivered: list[Call] = []  # filled when the worker finishes
        self._thread = threading.Thread(target=self._run, name=f"hooks-logging:{name}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ training thread
    def submit(self, call: Call) -> None:
        """Queue `call`; waits for room only for an essential backend."""
        if self._closed:
            raise ValueError(f"the worker of {self.name} is closed")
        if self.essential:
            self._queue.put(call)
            return
        try:
            self._queue.put_nowait(call)
        except queue.Full:
            if not self._dropped:
                self._report(
                    f"{self.name} cannot keep up: its queue of {self._queue.maxsize} calls is "
                    "full, so calls are skipped for it (the JSON log keeps every record)"
                )
            self._dropped.append(call)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until the worker reached every call queued so far; False if `timeout` ran out.

        On the way it retries the calls it holds, stopping at the first that
        fails again, so behind a failing backend some calls are not attempted.
        A queue that stays full for `timeout` raises ``queue.Full``.
        """
        marker = _Marker(final=False)
        self._queue.put(marker, timeout=timeout)
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = None) -> list[Call]:
        """Deliver what can be delivered, close the backend, and return the undelivered calls.

        Waits for the worker at most `timeout` seconds (twice that if its queue
        is full); the calls it had not delivered by then count as undelivered.
        """
        if self._closed:
            return self.undelivered
        self._closed = True
        marker = _Marker(final=True)
        with contextlib.suppress(queue.Full):  # then the join below times out too
            self._queue.put(marker, timeout=timeout)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._report(
                f"{self.name} did not finish within {timeout} s; what it had not written by then "
                "is reported as undelivered"
            )
            held = [entry.call for entry in (*self._set_aside, *self._pending)]
            return [*held, *_queued_calls(self._queue), *self._dropped]
        return self.undelivered

    # ------------------------------------------------------------ worker thread
    def _run(self) -> None:
        while True:
            timeout = None
            if self._pending:
                timeout = max(0.0, self._next_attempt - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if isinstance(item, Call):
                self._pending.append(_Pending(item))
                self._deliver()
            elif isinstance(item, _Marker):
                if item.final:
                    self._finish()
                    item.done.set()
                    return
                self._deliver(force=True)
                item.done.set()
            else:
                self._deliver()

    def _deliver(self, force: bool = False) -> None:
        """Make the pending calls in order, stopping at a failure (then backing off)."""
        if self._failing and not force and time.monotonic() < self._next_attempt:
            return
        while self._pending:
            entry = self._pending[0]
            error = self._make(entry.call)
            if error is not None:
                self._failed(entry, error)
                return
            self._pending.popleft()

    def _make(self, call: Call) -> Exception | None:
        """Make one call; return its error, or None (reporting a recovery after failures)."""
        try:
            getattr(self.backend, call.method)(*call.args)
        except Exception as err:  # a backend's failure must never reach training
            return err
        if self._failing == call.method:  # the kind of call that failed works again
            self._failing = None
            self._delay = self._first_delay
            self._report(f"{self.name} works again; the calls it had missed are delivered")
        return None

    def _failed(self, entry: _Pending, err: Exception) -> None:
        entry.failures += 1
        call = entry.call
        if self._failing is None:
            self._failing = call.method
            self._report(
                f"{self.name} failed in {call.method} at step {call.step}: "
                f"{type(err).__name__}: {err}. Training goes on; its records are kept and "
                "retried with back-off (the JSON log has every record)"
            )
        if entry.failures >= self._max_attempts:
            self._set_aside.append(self._pending.popleft())
        self._next_attempt = time.monotonic() + self._backoff()

    def _backoff(self) -> float:
        """The wait before the next attempt; each failure doubles the next one."""
        delay = self._delay
        self._delay = min(self._delay * 2, self._max_delay)
        return delay

    def _finish(self) -> None:
        """Deliver everything held back, then close the backend.

        Each call gets the attempts it has left, with back-off, until one has used
        all of them: the backend is then taken to be down, and every call after it
        gets a single attempt, so closing a dead backend does not wait on each call.
        """
        self._pending.extendleft(reversed(self._set_aside))
        self._set_aside = []
        undelivered: list[Call] = []
        backend_up = True
        while self._pending:
            entry = self._pending.popleft()
            while self._make(entry.call) is not None:
                entry.failures += 1
                if not backend_up or entry.failures >= self._max_attempts:
                    undelivered.append(entry.call)
                    backend_up = False
                    break
                time.sleep(self._backoff())
        try:
            self.backend.close()
        except Exception as err:
            self._report(f"{self.name} failed to close: {type(err).__name__}: {err}")
        self.undelivered = undelivered + self._dropped


class Delivery:
    """A set of backend workers fed with the same calls; what the logger hook talks to.

    Args:
        workers: One `BackendWorker` per backend.
        report: Where the close summary goes.
        close_timeout: How long `close` waits for each worker.
    """

    def __init__(
        self,
        workers: Sequence[BackendWorker],
        report: Callable[[str], None],
        close_timeout: float = 60.0,
    ) -> None:
        self.workers = list(workers)
        self._report = report
        self._close_timeout = close_timeout
        self.closed = False

    def call(self, method: str, *args: Any, step: int | None = None) -> None:
        """Queue ``backend.<method>(*args)`` for every backend."""
        call = Call(method, args, step)
        for worker in self.workers:
            worker.submit(call)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every worker reached every call queued so far (see `BackendWorker.drain`)."""
        return all([worker.drain(timeout) for worker in self.workers])

    def close(self) -> dict[str, list[Call]]:
        """Close every worker and report, per backend, the calls it did not deliver."""
        if self.closed:
            return {}
        self.closed = True
        undelivered = {}
        for worker in self.workers:
            missed = worker.close(self._close_timeout)
            if missed:
                undelivered[worker.name] = missed
                self._report(f"{worker.name}: {_describe(missed)} not delivered")
        return undelivered


def _queued_calls(calls: queue.Queue[Call | _Marker]) -> list[Call]:
    found: list[Call] = []
    while True:
        try:
            item = calls.get_nowait()
        except queue.Empty:
            return found
        if isinstance(item, Call):
            found.append(item)


def _describe(calls: Iterable[Call]) -> str:
    """``4 log_scalars (steps 1..10), 2 flush``: the calls counted by method, with their steps."""
    steps_by_method: dict[str, list[int | None]] = {}
    for call in calls:
        steps_by_method.setdefault(call.method, []).append(call.step)
    parts = []
    for method, steps in steps_by_method.items():
        known = [step for step in steps if step is not None]
        where = f" (steps {min(known)}..{max(known)})" if known else ""
        parts.append(f"{len(steps)} {method}{where}")
    return ", ".join(parts)
