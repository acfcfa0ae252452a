"""`SwanLabBackend`: a SwanLab run, offline (a run folder to ``swanlab sync``) without an API key.

Needs the ``swanlab`` package, the ``hooks-logging[swanlab]`` extra, imported
when a backend is built. SwanLab keeps one run per process: a second backend
cannot start while the first one is open.
"""

from __future__ import annotations

import os
import os.path as osp

from hooks_core import LOG_BACKENDS
from hooks_core.registry import pip_install

from ._backend import (
    LoggerBackend,
    check_log_model,
    image_to_hwc_uint8,
    import_tracker,
    jsonable,
    named_init_kwargs,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["SwanLabBackend"]

MISSING_SWANLAB = f"SwanLabBackend needs swanlab: {pip_install('hooks-logging[swanlab]')}"

# How a run's end status reads in SwanLab (``swanlab.finish(state=...)``).
FINISH_STATES = {"finished": "success", "failed": "crashed", "killed": "aborted"}

# What the logger hook and its text log already record, which SwanLab would capture
# again: the console (a proxy over stdout and stderr), hardware, packages and git; and
# no login prompt in the middle of a training job (online without a key fails instead).
_QUIET: dict[str, Any] = dict(
    interactive=False,
    terminal=dict(proxy_type="none"),
    probe=dict(hardware=False, monitor=False, requirements=False, conda=False, git=False),
)


@LOG_BACKENDS.register_module(name=["swanlab", "SwanLabBackend"])
class SwanLabBackend(LoggerBackend):
    """Log to a SwanLab run: scalars at their steps, the config, images, text, checkpoints.

    Args:
        save_dir: The run folder goes under ``<save_dir>/swanlog`` (SwanLab's
            ``log_dir``) unless `init_kwargs` gives ``log_dir``; the logger
            hook passes ``<log_dir>/vis_data``. None: SwanLab's default
            (``SWANLAB_LOGDIR``, else ``./swanlog``).
        init_kwargs: Arguments of ``swanlab.init`` (``workspace``, ``project``,
            ``name``, ``tags``, ``description``, ``id``, ``resume``,
            ``settings``...); they win over the arguments below. Console
            capture, hardware monitoring, the package, git and hardware
            snapshots and the login prompt default to off (the text log has
            what matters); a ``swanlab.Settings`` given as ``settings`` turns
            them back on, key by key.
        project: The SwanLab project (``swanlab.init(project=...)``).
        experiment_name: The run's name (``swanlab.init(experiment_name=...)``).
        mode: ``'online'``, ``'offline'`` (a folder for ``swanlab sync``),
            ``'local'`` (needs ``swanlab[dashboard]``) or ``'disabled'``. None:
            SwanLab's configured mode (``SWANLAB_MODE``, ``swanlab.yaml``),
            but ``'offline'`` where that is ``'online'`` and no API key is
            configured (``SWANLAB_API_KEY`` or ``swanlab login``).
        log_model: Which checkpoints offered by `log_checkpoint` are saved with
            ``run.save``, a folder's files under its name: ``False`` none,
            ``True`` the latest and best at `close`, ``'all'`` each one
            (Lightning's option). SwanLab keeps no aliases. Offline, the run
            folder's ``files/`` links to the checkpoints, it does not copy
            them: ``swanlab sync`` uploads what is at those paths then.

    What goes where: `log_scalars` is ``run.log(scalars, step=step)``,
    without the key that is their axis; `log_config` is
    ``run.config.update`` (the run folder's ``files/config.yaml``);
    `log_image` is a ``swanlab.Image`` and `log_text` a ``swanlab.Text``,
    each logged under `name` at `step`. Steps may go back (validation at
    its epoch after training at its iteration), but SwanLab keeps the first
    value of a name at a step: logging that name at that step again is
    dropped. SwanLab writes from a thread of its own and has no flush: the
    run file (``run-<id>.swanlab``) is complete once the backend is closed.

    End status: ``swanlab.finish(state=...)`` with ``'success'``,
    ``'crashed'`` (failed) or ``'aborted'`` (killed); a run that did not
    finish has the exception being handled, if any, as its error.

    Resuming: `run_state` is the run's id and project; a resumed run passes
    them to ``swanlab.init`` with ``resume='allow'``. Offline, that is a
    second run folder under the same id: ``swanlab sync`` the first, then the
    second, to see one run.

    The run starts on a thread of its own, so SwanLab leaves Ctrl-C to the
    training loop (the run ends through `close`, killed) and the backend can
    be closed from any thread; SwanLab's hooks for uncaught exceptions and
    for the end of the process, which finish a run left open, stay.

    Raises:
        ImportError: swanlab is not installed; the message is the fix,
            ``pip install "hooks-logging[swanlab]"``.
        RuntimeError: another SwanLab run is open in this process.
        ValueError: `mode` is ``'local'`` and SwanLab's dashboard
            (``swanlab[dashboard]``) is not installed.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike[str] | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        project: str | None = None,
        experiment_name: str | None = None,
        mode: str | None = None,
        log_model: bool | str = False,
    ) -> None:
        self.log_model = check_log_model(log_model)
        swanlab = _import_swanlab()
        if swanlab.has_run():
            raise RuntimeError(
                f"SwanLab keeps one run per process, and run {swanlab.get_run().id!r} is open: "
                "close the SwanLabBackend (or call swanlab.finish()) that started it first"
            )
        self.save_dir = None if save_dir is None else os.fspath(save_dir)
        kwargs = dict(init_kwargs or {})
        if "experiment_name" in kwargs:  # swanlab.init's other name for `name`
            kwargs.setdefault("name", kwargs.pop("experiment_name"))
        for option, value in (("project", project), ("name", experiment_name), ("mode", mode)):
            if value is not None:
                kwargs.setdefault(option, value)
        if self.save_dir is not None and "logdir" not in kwargs:
            kwargs.setdefault("log_dir", osp.join(self.save_dir, "swanlog"))
        given = kwargs.get("settings")
        settings = swanlab.Settings(**_merged(_QUIET, {} if given is None else _fields(given)))
        kwargs["settings"] = settings
        if kwargs.get("mode") is None:  # online would fail: no key to log in with
            online_without_key = settings.mode == "online" and not settings.api_key
            kwargs["mode"] = "offline" if online_without_key else settings.mode
        _check_mode(kwargs["mode"])
        self._swanlab = swanlab
        self._run = _start_run(swanlab, kwargs)

    @property
    def experiment(self) -> Any:
        """The ``swanlab`` run (Lightning's name for a logger's own object)."""
        return self._run

    @property
    def mode(self) -> str:
        """The run's mode: ``'offline'``, ``'online'``, ``'local'`` or ``'disabled'``."""
        return str(self._run.mode)

    def run_state(self) -> dict[str, Any]:
        """The run's id and project: what `resume_config` continues."""
        # No public attribute of the run gives its project; its settings do.
        return {"id": self._run.id, "project": self._run._ctx.config.settings.project.name}

    @classmethod
    def resume_config(cls, config: dict[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
        """`config` with ``init_kwargs`` continuing the run of `state` (its id, ``resume='allow'``).

        An ``init_kwargs`` that names another run id is left as it is.
        """
        init = dict(config.get("init_kwargs") or {})
        if init.get("id") not in (None, state["id"]):
            return config
        init.update(id=state["id"], resume="allow")
        if config.get("project") is None:
            init.setdefault("project", state["project"])
        return {**config, "init_kwargs": init}

    @classmethod
    def named_config(
        cls, config: dict[str, Any], name: str | None, tags: Sequence[str] = ()
    ) -> dict[str, Any]:
        """`config` whose ``init_kwargs`` give ``swanlab.init`` the run's `name` and `tags`."""
        init = config.get("init_kwargs") or {}
        if config.get("experiment_name") is not None or "experiment_name" in init:
            name = None  # the config names its run itself
        return named_init_kwargs(config, name, tags)

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Log `scalars` at `step` (without the key that is their axis)."""
        self._check_open()
        self._run.log(dict(self.without_own_axis(scalars)), step=int(step))

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Update the run's config (values that are not JSON types as their ``repr``)."""
        self._check_open()
        self._run.config.update(jsonable(config))

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Log `image` (see `LoggerBackend`) as a PNG ``swanlab.Image`` under `name` at `step`."""
        self._check_open()
        pixels = image_to_hwc_uint8(image)
        picture = self._swanlab.Image(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
        self._run.log({name: picture}, step=int(step))

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """Log the string `text` as a ``swanlab.Text`` under `name` at `step`."""
        self._check_open()
        self._run.log({name: self._swanlab.Text(text)}, step=int(step))

    def _upload_checkpoint(self, path: str, aliases: tuple[str, ...]) -> None:
        import glob

        path = osp.normpath(path)
        pattern = osp.join(glob.escape(path), "**") if osp.isdir(path) else glob.escape(path)
        self._run.save(pattern, base_path=osp.dirname(path), policy="now")

    def _close(self) -> None:
        try:
            self._upload_final_checkpoints()
        finally:
            if self._run.alive:  # unless SwanLab's own exit hooks finished it
                state = FINISH_STATES[self.end_status]
                self._run.finish(state=state, error=_error_text(self.end_status))

    def __repr__(self) -> str:
        return f"SwanLabBackend({self.save_dir!r}, mode={self.mode!r})"


def _import_swanlab() -> Any:
    return import_tracker("swanlab", missing=MISSING_SWANLAB)


def _check_mode(mode: str) -> None:
    """Refuse ``'local'`` without SwanLab's dashboard, where SwanLab logs an error and goes on."""
    import importlib.util

    if mode == "local" and importlib.util.find_spec("swanboard") is None:
        raise ValueError(
            "mode='local' needs SwanLab's dashboard: pip install \"swanlab[dashboard]\"; "
            "or use mode='offline' (a run folder for swanlab sync)"
        )


def _fields(settings: Any) -> dict[str, Any]:
    """What a ``swanlab.Settings`` (or a dict of its fields) sets, as a dict."""
    if isinstance(settings, dict):
        return settings
    return dict(settings.model_dump(exclude_unset=True))


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`base` updated with `over`, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            value = _merged(below, value)
        merged[key] = value
    return merged


def _start_run(swanlab: Any, kwargs: dict[str, Any]) -> Any:
    """``swanlab.init(**kwargs)`` on a thread of its own, which SwanLab takes as "not the main one".

    Started on the main thread, a run takes over Ctrl-C (and finishes itself
    inside the signal handler), and its ``finish`` puts the old handler back,
    which raises off the main thread: the logger hook closes each backend on
    a thread of its own.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="SwanLabBackend-init") as pool:
        return pool.submit(swanlab.init, **kwargs).result()


def _error_text(status: str) -> str | None:
    """What SwanLab shows as the error of a run that ended with `status`: the exception
    being handled (the one that stopped the run), else the status."""
    import sys
    import traceback

    if status == "finished":
        return None
    exc = sys.exc_info()[1]
    if exc is None:
        return f"the run ended {status}"
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
