"""`Forwarder`: our backends behind another framework's logging calls, each on its own thread.

The Lightning logger and the Hugging Face callback are thin: they turn the
framework's calls into `log_scalars`/`log_config` records and hand them to a
`Forwarder`, which builds the backends (names, configs or objects, as for
`LoggerHook`) on first use and delivers to each from a writer thread of its
own (see `_delivery`), so a slow tracking server does not slow training.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os

from hooks_core import LOG_BACKENDS

from ._backend import LoggerBackend
from ._delivery import BackendWorker, Call, Delivery, backend_names
from ._logger_hook import _build_backends, _is_json, run_states
from ._secrets import mask_secrets

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

__all__ = ["Forwarder", "load_tracker_runs", "save_tracker_runs"]

# The file, beside a framework's checkpoint, of the tracker runs it continues (`run_states`).
TRACKER_RUNS_FILE = "tracker_runs.json"


class Forwarder:
    """Deliver records to a set of backends without blocking the caller.

    Args:
        backends: Backend names (``'mlflow'``), configs (``dict(type='wandb',
            init_kwargs=...)``) or `LoggerBackend` objects. Configs whose class
            takes ``save_dir`` get the `save_dir` given to `start`.
        queue_size: Records a backend may have waiting before it is skipped
            (a JSON backend never skips: the caller waits for room).
        close_timeout: Seconds `flush` and `close` wait, at most, for all the
            backends together (see `LoggerHook` for what `close` reports).
        report: Where failures, undelivered records and what `close` waits
            for are reported; a warning of the ``hooks_logging`` logger by
            default (so it shows without any logging set up).
    """

    def __init__(
        self,
        backends: Sequence[Any],
        queue_size: int = 10_000,
        close_timeout: float = 60.0,
        report: Callable[[str], None] | None = None,
    ) -> None:
        if isinstance(backends, (str, dict)) or not hasattr(backends, "__iter__"):
            backends = [backends]
        self.configs = list(backends)
        if not self.configs:
            raise ValueError("give at least one backend: a name, a config dict or a backend")
        self.queue_size = queue_size
        self.close_timeout = close_timeout
        self._report = report or logging.getLogger("hooks_logging").warning
        self._delivery: Delivery | None = None
        self.backends: list[Any] = []

    @property
    def started(self) -> bool:
        """Whether the backends were built."""
        return self._delivery is not None

    def start(
        self,
        save_dir: str | os.PathLike[str],
        tracker_runs: Mapping[str, Any] | None = None,
        run_name: str | None = None,
        tags: Sequence[str] = (),
    ) -> None:
        """Build the backends (once), with `save_dir` for configs that take one.

        `tracker_runs` (what `run_states` gave in an earlier process) makes
        each backend built from a config continue its run there. `run_name`
        and `tags` name the runs of the backends built from configs, where
        the config names none (`LoggerBackend.named_config`).
        """
        if self._delivery is not None:
            return
        configs = _named_configs(self.configs, run_name, tags)
        self.backends = _build_backends(
            configs, os.fspath(save_dir), with_json=False, tracker_runs=tracker_runs
        )
        workers = [
            BackendWorker(
                backend,
                name,
                self._report,
                essential=_is_json(backend),
                inline=_is_json(backend),
                queue_size=self.queue_size,
            )
            for backend, name in zip(self.backends, backend_names(self.backends), strict=True)
        ]
        self._delivery = Delivery(workers, self._report, self.close_timeout)
        atexit.register(self._close_at_exit)

    def run_states(self) -> dict[str, Any]:
        """Each backend's run to continue, by backend name (`LoggerBackend.run_state`)."""
        return run_states(self._started().workers)

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Queue one record for every backend."""
        self._started().call("log_scalars", dict(scalars), step, step=step)

    def log_summary(self, values: Mapping[str, float], step: int) -> None:
        """Queue the run's end numbers: a summary where a backend keeps one, else a record."""
        self.call_where(_keeps_summary, "log_summary", dict(values), step, step=step)
        self.call_where(_keeps_no_summary, "log_scalars", dict(values), step, step=step)

    def call_where(
        self, chosen: Callable[[Any], bool], method: str, *args: Any, step: int | None = None
    ) -> None:
        """Queue ``backend.<method>(*args)`` for each backend for which `chosen` is true."""
        call = Call(method, args, step)
        for worker in self._started().workers:
            if chosen(worker.backend):
                worker.submit(call)

    def define_step_axes(self, axes: Mapping[str, str]) -> None:
        """Queue `LoggerBackend.define_step_axes` (name -> the record key of its x axis)."""
        self._started().call("define_step_axes", dict(axes))

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Queue the config, with credentials masked, for every backend."""
        self._started().call("log_config", mask_secrets(dict(config)))

    def log_image(self, name: str, image: Any, step: int) -> None:
        """Queue an image for every backend."""
        self._started().call("log_image", name, image, step, step=step)

    def log_checkpoint(self, path: str, aliases: Sequence[str] = ()) -> None:
        """Queue a checkpoint for the backends with `log_model` (`LoggerBackend.log_checkpoint`)."""
        call = Call("log_checkpoint", (os.fspath(path), tuple(aliases)), None)
        for worker in self._started().workers:
            if getattr(worker.backend, "log_model", False):
                worker.submit(call)

    def flush(self) -> bool:
        """Flush every backend and wait as `Delivery.drain`; False if `close_timeout` ran out."""
        if self._delivery is None or self._delivery.closed:
            return True
        self._delivery.call("flush")
        return self._delivery.drain(self.close_timeout)

    def close(self, status: str = "finished") -> None:
        """Deliver what is queued, close every backend, and report what was not delivered.

        `status` is how the run ended (see `LoggerBackend.close`). While that
        lasts, a line every few seconds says what is left; Ctrl-C stops the
        wait, reports what was not delivered and raises KeyboardInterrupt.
        """
        if self._delivery is not None and not self._delivery.closed:
            atexit.unregister(self._close_at_exit)
            self._delivery.close(status=status)

    def _close_at_exit(self) -> None:
        """`close` at the end of the process, where a Ctrl-C only ends the wait."""
        with contextlib.suppress(KeyboardInterrupt):
            self.close()

    def _started(self) -> Delivery:
        if self._delivery is None:
            raise RuntimeError("the backends are built when the run starts (Forwarder.start)")
        if self._delivery.closed:
            raise ValueError("the backends are closed; they cannot log any more")
        return self._delivery


def _keeps_summary(backend: Any) -> bool:
    """Whether `backend` has `log_summary` (a `LoggerBackend`; W&B keeps a run summary)."""
    return callable(getattr(backend, "log_summary", None))


def _keeps_no_summary(backend: Any) -> bool:
    return not _keeps_summary(backend)


def _named_configs(configs: Sequence[Any], name: str | None, tags: Sequence[str]) -> list[Any]:
    """`configs` with the runs of the registered backend classes named (`named_config`)."""
    if name is None and not tags:
        return list(configs)
    named = []
    for config in configs:
        cfg = {"type": config} if isinstance(config, str) else config
        kind = cfg.get("type") if isinstance(cfg, dict) else None
        cls = LOG_BACKENDS.get(kind) if isinstance(kind, str) else None
        if isinstance(cls, type) and issubclass(cls, LoggerBackend):
            config = cls.named_config(dict(cfg), name, tags)
        named.append(config)
    return named


def load_tracker_runs(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The tracker runs saved in `folder` by `save_tracker_runs`; None if it has none."""
    path = os.path.join(folder, TRACKER_RUNS_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as file:
        runs: dict[str, Any] = json.load(file)
    return runs


def save_tracker_runs(folder: str | os.PathLike[str], runs: Mapping[str, Any]) -> None:
    """Write `runs` (`Forwarder.run_states`) to ``tracker_runs.json`` in `folder`, when any."""
    if runs:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, TRACKER_RUNS_FILE), "w", encoding="utf-8") as file:
            json.dump(dict(runs), file, indent=2)
