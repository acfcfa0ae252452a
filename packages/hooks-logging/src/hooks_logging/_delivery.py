"""Non-blocking, failure-isolated delivery of log records to backends.

Each backend gets a bounded queue and a writer thread of its own, so the
training thread only enqueues, and a slow or failing backend delays neither
training nor the other backends. A call that raises is reported once, kept,
and retried with exponential back-off, each backend counting its own attempts;
calls still undelivered at the end are reported with their steps. Essential
backends (the JSON log) never drop a record: when their queue is full the
training thread waits for room. An inline backend (the JSON log, a local
file) is called on the submitting thread while its worker holds nothing:
waking a thread costs more CPU than the write itself; once a call fails, it
and the calls after it go through the worker as for any other backend.

Closing is bounded: every backend finishes at the same time, within one
shared deadline; while that takes long, a line says what is waited for, and
Ctrl-C (or the deadline) ends the wait at once with one report of what each
backend had not delivered.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import deque

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

__all__ = ["BackendWorker", "Delivery", "Call", "backend_names", "numbered_name"]

FIRST_NOTICE_AFTER = 0.5  # seconds of waiting at the end before saying so (when records are left)
NOTICE_EVERY = 5.0  # seconds between the lines that say what the end of a run waits for
CTRL_C = "Ctrl-C stopped the wait for"  # the reason `Delivery.abandon` gives after a Ctrl-C


class Call:
    """One backend method call to make: ``backend.<method>(*args)``, at `step` (for reports).

    The same call goes to every backend's worker, so it holds nothing a worker changes.
    """

    __slots__ = ("args", "method", "step")

    def __init__(self, method: str, args: tuple[Any, ...], step: int | None) -> None:
        self.method = method
        self.args = args
        self.step = step

    @property
    def is_record(self) -> bool:
        """Whether the call carries data (``log_*``), not bookkeeping (``flush``...)."""
        return self.method.startswith("log_")


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

    What the worker holds (queued, being retried, set aside, given up, skipped)
    changes only under its lock, so `undelivered_now` is exact from any thread.

    Args:
        backend: The backend whose methods are called.
        name: How reports name it, e.g. ``'TensorboardBackend'``.
        report: Receives one message per event worth a human's attention
            (first failure, recovery, skipped calls, a close that failed);
            called from the worker thread, except for skipped calls (the
            thread calling `submit`).
        essential: Never drop a call: `submit` waits when the queue is full.
        inline: Make a call on the thread submitting it when nothing is queued,
            being made or backing off; a failed call then goes to the worker.
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
        inline: bool = False,
        queue_size: int = 10_000,
        first_delay: float = 0.5,
        max_delay: float = 30.0,
        max_attempts: int = 3,
    ) -> None:
        self.backend = backend
        self.name = name
        self.essential = essential
        self._inline = inline
        self._report = report
        self._lock = threading.Condition()
        self._queue: deque[Call | _Marker] = deque()
        self._queue_size = queue_size
        self._queued = 0  # calls (not markers) in the queue
        self._first_delay, self._max_delay, self._max_attempts = (
            first_delay,
            max_delay,
            max_attempts,
        )
        self._pending: deque[_Pending] = deque()  # taken from the queue, not delivered yet
        self._set_aside: list[_Pending] = []
        self._given_up: list[Call] = []  # failed their last attempt while closing
        self._dropped: list[Call] = []
        self._delay = first_delay
        self._next_attempt = 0.0
        self._failing: str | None = None  # the method whose failure is being retried
        self._closing = False
        self._status = "finished"  # how the run ended: what `begin_close` passes to the backend
        self._abandoned = threading.Event()
        self.finished = threading.Event()  # set when the backend was closed
        self.undelivered: list[Call] = []  # filled when the worker finishes
        self._thread = threading.Thread(target=self._run, name=f"hooks-logging:{name}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ other threads
    def submit(self, call: Call) -> None:
        """Queue `call`; waits for room only for an essential backend."""
        with self._lock:
            if self.essential:
                while self._queued >= self._queue_size and not self._closing:
                    self._lock.wait()
            if self._closing:
                raise ValueError(f"the worker of {self.name} is closed")
            if self._inline and not (self._queue or self._pending or self._failing):
                self._make_inline(call)
                return
            if self._queued >= self._queue_size:
                first_skip = not self._dropped
                self._dropped.append(call)
            else:
                self._put(call)
                return
        if first_skip:
            self._report(
                f"{self.name} cannot keep up: its queue of {self._queue_size} calls is "
                "full, so calls are skipped for it (the JSON log keeps every record)"
            )

    def _make_inline(self, call: Call) -> None:
        """Make `call` on this thread (lock held, worker idle); a failed one goes to the worker."""
        error = self._make(call)
        if error is not None:
            entry = _Pending(call)
            self._pending.append(entry)
            self._failed(entry, error)
            self._lock.notify_all()

    def mark(self) -> threading.Event:
        """An event set once the worker reached every call queued so far (or finished).

        On the way it retries the calls it holds, stopping at the first that
        fails again, so behind a failing backend some calls are not attempted.
        """
        with self._lock:
            if self._closing:
                return self.finished
            marker = _Marker(final=False)
            self._put(marker)
        return marker.done

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until the worker reached every call queued so far; False if `timeout` ran out."""
        return self.mark().wait(timeout)

    def begin_close(self, status: str = "finished") -> None:
        """Refuse new calls; the worker delivers what it holds, then closes the backend.

        `status` is how the run ended, for ``backend.close`` (the first call's counts).
        """
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._status = status
            self._put(_Marker(final=True))

    def abandon(self) -> list[Call]:
        """Stop delivering and return the calls not delivered by now.

        A call the backend is in the middle of counts as undelivered. The worker
        stops when that call returns and then closes the backend on its own
        thread; nothing here waits for it.
        """
        self.begin_close()
        with self._lock:
            self._abandoned.set()
            self._lock.notify_all()
            if self.finished.is_set():
                return self.undelivered
            return self._not_delivered()

    def records_left(self) -> int:
        """How many ``log_*`` calls the worker still means to deliver."""
        with self._lock:
            held = [entry.call for entry in (*self._set_aside, *self._pending)]
            return sum(call.is_record for call in (*held, *_calls(self._queue)))

    def _put(self, item: Call | _Marker) -> None:
        """Append `item` to the queue and wake the worker (the lock is held)."""
        self._queue.append(item)
        self._queued += isinstance(item, Call)
        self._lock.notify_all()

    def _not_delivered(self) -> list[Call]:
        """Every call not delivered yet, in order (the lock is held)."""
        held = [entry.call for entry in (*self._set_aside, *self._pending)]
        return [*self._given_up, *held, *_calls(self._queue), *self._dropped]

    # ------------------------------------------------------------ worker thread
    def _run(self) -> None:
        while True:
            item = self._take()
            if (isinstance(item, _Marker) and item.final) or self._abandoned.is_set():
                self._finish()
                return
            if isinstance(item, _Marker):
                self._deliver(force=True)
                item.done.set()
            else:  # a new call, or the time to retry the ones held
                self._deliver()

    def _take(self) -> Call | _Marker | None:
        """The next item of the queue (a call joins `_pending`), or None when a retry is due."""
        with self._lock:
            if not self._queue and not self._abandoned.is_set():
                timeout = None
                if self._pending:
                    timeout = max(0.0, self._next_attempt - time.monotonic())
                self._lock.wait(timeout)
            if not self._queue:
                return None
            item = self._queue.popleft()
            if isinstance(item, Call):
                self._queued -= 1
                self._pending.append(_Pending(item))
                self._lock.notify_all()  # room for an essential backend's caller
            return item

    def _deliver(self, force: bool = False) -> None:
        """Make the pending calls in order, stopping at a failure (then backing off)."""
        if self._failing and not force and time.monotonic() < self._next_attempt:
            return
        while self._pending and not self._abandoned.is_set():
            entry = self._pending[0]
            error = self._make(entry.call)
            if error is not None:
                self._failed(entry, error)
                return
            with self._lock:
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
            with self._lock:
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
        gets a single attempt, so closing a dead backend does not wait on each
        call. `abandon` stops this at the next call or back-off.
        """
        with self._lock:
            self._pending.extendleft(reversed(self._set_aside))
            self._set_aside = []
        backend_up = True
        while self._pending and not self._abandoned.is_set():
            entry = self._pending[0]
            while (error := self._make(entry.call)) is not None:
                entry.failures += 1
                if not backend_up or entry.failures >= self._max_attempts:
                    backend_up = False
                    break
                if self._abandoned.wait(self._backoff()):
                    break
            with self._lock:
                self._pending.popleft()
                if error is not None:
                    self._given_up.append(entry.call)
        try:
            self.backend.close(self._status)
        except Exception as err:
            self._report(f"{self.name} failed to close: {type(err).__name__}: {err}")
        with self._lock:
            self.undelivered = self._not_delivered()
            self.finished.set()


class Delivery:
    """A set of backend workers fed with the same calls; what the logger hook talks to.

    Args:
        workers: One `BackendWorker` per backend.
        report: Where the close summary goes (a warning).
        close_timeout: How long `close` waits for all the workers together.
        progress: Where the lines saying what `close` waits for go (info);
            `report` by default.
    """

    def __init__(
        self,
        workers: Sequence[BackendWorker],
        report: Callable[[str], None],
        close_timeout: float = 60.0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.workers = list(workers)
        self._report = report
        self._progress = progress or report
        self._close_timeout = close_timeout
        self.closed = False
        self._settled = False  # the close's outcome was reported

    def call(self, method: str, *args: Any, step: int | None = None) -> None:
        """Queue ``backend.<method>(*args)`` for every backend."""
        call = Call(method, args, step)
        for worker in self.workers:
            worker.submit(call)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every worker reached every call queued so far, all within `timeout`."""
        events = [worker.mark() for worker in self.workers]
        deadline = None if timeout is None else time.monotonic() + timeout
        return all(event.wait(_left(deadline)) for event in events)

    def begin_close(self, status: str = "finished") -> None:
        """Let every worker deliver what it holds and close its backend, without waiting.

        `status` is how the run ended (see `LoggerBackend.close`).
        """
        self.closed = True
        for worker in self.workers:
            worker.begin_close(status)

    def close(
        self, deadline: float | None = None, note: str = "", status: str = "finished"
    ) -> dict[str, list[Call]]:
        """Close every backend by `deadline` and report, per backend, what it did not deliver.

        Every worker finishes at once, so all share the one deadline
        (``time.monotonic()`` seconds; by default `close_timeout` from now).
        While the wait lasts, a line every few seconds says what is left.
        Workers still busy at the deadline are abandoned (`BackendWorker.abandon`).

        Args:
            deadline: When to stop waiting.
            note: Added to the report of undelivered calls (where else they are).
            status: How the run ended, for each backend's ``close``.

        Returns:
            The undelivered calls of each backend that missed some.

        Raises:
            KeyboardInterrupt: Ctrl-C ended the wait; the undelivered calls
                were reported first (see `abandon`).
        """
        if self._settled:
            return {}
        self.begin_close(status)
        if deadline is None:
            deadline = time.monotonic() + self._close_timeout
        try:
            finished = self._wait(deadline)
        except KeyboardInterrupt:
            self.abandon(CTRL_C, note)
            raise
        timed_out = f"close_timeout={self._close_timeout:g} s ran out while waiting for"
        return self.abandon("" if finished else timed_out, note)

    def abandon(self, reason: str, note: str = "") -> dict[str, list[Call]]:
        """Stop waiting, and report in one warning, per backend, the calls not delivered.

        `reason` says why workers still delivering were stopped ("" when none
        is), as the start of a sentence ended by their number: `CTRL_C` or
        ``close_timeout=60 s ran out while waiting for``. Each such worker stops
        at its next call and closes its backend on its own thread; nothing here
        waits. Does nothing once reported.
        """
        if self._settled:
            return {}
        self.begin_close()
        self._settled = True
        busy = sum(not worker.finished.is_set() for worker in self.workers)
        undelivered = {w.name: missed for w in self.workers if (missed := w.abandon())}
        if not undelivered:
            return undelivered
        parts = "; to ".join(f"{name}: {_describe(calls)}" for name, calls in undelivered.items())
        lead = f"{reason} {_backends(busy)}; " if reason and busy else ""
        self._report(f"{lead}not delivered to {parts}" + (f" ({note})" if note else ""))
        return undelivered

    def _wait(self, deadline: float) -> bool:
        """Wait for every worker until `deadline`, saying now and then what is waited for.

        The first line comes after `FIRST_NOTICE_AFTER` seconds if records are
        still to deliver (a wait for the backends' own closing only gets one
        from `NOTICE_EVERY` seconds on); when all finish sooner, nothing is said.
        """
        notice, first = time.monotonic() + FIRST_NOTICE_AFTER, True
        for worker in self.workers:
            while not worker.finished.wait(_left(min(deadline, notice))):
                now = time.monotonic()
                if now >= deadline:
                    return False
                if now >= notice:
                    self._tell_waiting(deadline, quiet_unless_records=first)
                    notice, first = now + NOTICE_EVERY, False
        return True

    def _tell_waiting(self, deadline: float, quiet_unless_records: bool) -> None:
        busy = [w for w in self.workers if not w.finished.is_set()]
        left = [worker.records_left() for worker in busy]
        if not busy or (quiet_unless_records and not any(left)):
            return
        what = "deliver" if any(left) else "close"
        states = ", ".join(
            f"{w.name} {count} record{'s' * (count != 1)} left" if count else f"{w.name} closing"
            for w, count in zip(busy, left, strict=True)
        )
        line = (
            f"waiting for {_backends(len(busy))} to {what}: {states}; up to "
            f"{max(0.0, deadline - time.monotonic()):.0f} s more "
            f"(close_timeout={self._close_timeout:g} s)"
        )
        if _ctrl_c_interrupts():
            line += "; press Ctrl-C to stop waiting"
        self._progress(line)


def backend_names(backends: Iterable[Any]) -> list[str]:
    """What reports call each backend: its class name, numbered from the second of a class on."""
    counts: dict[str, int] = {}
    return [numbered_name(type(backend).__name__, counts) for backend in backends]


def numbered_name(class_name: str, counts: dict[str, int]) -> str:
    """`class_name`, numbered from its second backend on; `counts` (per class so far) is updated."""
    counts[class_name] = count = counts.get(class_name, 0) + 1
    return f"{class_name} #{count}" if count > 1 else class_name


def _calls(items: Iterable[Call | _Marker]) -> list[Call]:
    return [item for item in items if isinstance(item, Call)]


def _left(deadline: float | None) -> float | None:
    """Seconds until `deadline` (never negative), or None for no deadline."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _backends(count: int) -> str:
    return f"{count} backend{'s' * (count != 1)}"


def _ctrl_c_interrupts() -> bool:
    """Whether Ctrl-C raises KeyboardInterrupt here: the main thread, Python's own handler."""
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )


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
