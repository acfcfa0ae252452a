"""`ClearMLBackend`: a ClearML task, offline (a session folder to import later) without a server.

Needs the ``clearml`` package, the ``hooks-logging[clearml]`` extra, imported
when a backend is built. ClearML's offline mode is process-wide
(``Task.set_offline``), so with no server configured every ClearML task of
the process is offline.
"""

from __future__ import annotations

import contextlib
import os
import os.path as osp

from hooks_core import LOG_BACKENDS
from hooks_core.registry import pip_install

from ._artifacts import default_artifact_dir, files_with_suffix
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
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any

__all__ = ["ClearMLBackend"]

MISSING_CLEARML = f"ClearMLBackend needs clearml: {pip_install('hooks-logging[clearml]')}"

# The libraries ClearML would patch to log on its own, and its repository scan: all off, as
# the logger hook logs what matters (an empty dict would mean the same to ClearML, but says less).
_FRAMEWORKS = (
    "hydra", "scikit", "joblib", "matplotlib", "tensorflow", "tensorboard", "pytorch",
    "megengine", "xgboost", "catboost", "fastai", "lightgbm", "gradio", "jsonargparse",
    "detect_repository",
)  # fmt: skip

# A new task per run, and none of ClearML's capture of what the text log already has.
_QUIET = dict(
    reuse_last_task_id=False,
    auto_connect_frameworks=dict.fromkeys(_FRAMEWORKS, False),
    auto_connect_arg_parser=False,
    auto_resource_monitoring=False,
    auto_connect_streams=False,
)


@LOG_BACKENDS.register_module(name=["clearml", "ClearMLBackend"])
class ClearMLBackend(LoggerBackend):
    """Log to a ClearML task: scalars at their iterations, the config, images, text, files.

    Args:
        save_dir: Offline, the session goes to
            ``<save_dir>/clearml/offline/<task id>/`` (and a ``.zip`` of it at
            `close`); the logger hook passes ``<log_dir>/vis_data``. None:
            ClearML's cache folder (``CLEARML_CACHE_DIR``, by default
            ``~/.clearml/cache``).
        init_kwargs: Arguments of ``clearml.Task.init`` (``project_name``,
            ``task_name``, ``tags``, ``output_uri``...). Defaults here: a new
            task each time (``reuse_last_task_id=False``), and no patching of
            other libraries, no repository scan, no argument parser, console
            or resource capture.
        offline: True writes the offline session, False talks to the
            server. None: offline unless ClearML credentials are configured
            (``CLEARML_API_ACCESS_KEY``, ``CLEARML_AUTH_TOKEN`` or
            ``api.credentials`` in ``clearml.conf``) or the process is
            already offline.
        artifact_suffix: At `close`, the files under `artifact_dir` ending
            with one of these are uploaded with ``task.upload_artifact``,
            named by their path there (MMEngine's ``ClearMLVisBackend``
            option); none by default.
        artifact_dir: The folder of those files. None: the parent of
            `save_dir` when `save_dir` is called ``vis_data`` (the run's log
            folder), else `save_dir`.
        log_model: Which checkpoints offered by `log_checkpoint` are uploaded
            as artifacts named after their file, their aliases in the
            artifact's metadata: ``False`` none, ``True`` the latest and best
            at `close`, ``'all'`` each one. A folder becomes a zip.

    What goes where: `log_scalars` is ``report_scalar(title=name,
    series=name, value, iteration=step)``, as in MMEngine; `log_config` is
    ``task.connect_configuration(config, name='config')``; `log_image` is
    ``report_image`` (a debug sample); `log_text` is a line of the task's
    console log, ``report_text('<name> (step <step>): <text>')``. Offline,
    the session folder has ``task.json`` (the config, the artifacts),
    ``metrics.jsonl`` (the scalars and images, JSON lists of events),
    ``log.jsonl`` (the text) and ``data/`` (image and artifact files);
    ``Task.import_offline_session(<folder or zip>)`` sends it to a server.
    ClearML also notes each task in ``~/.clearml/.session.json``.

    End status: `close` ends the task with ``task.close()``, which marks it
    completed; a failed run is then marked with ``mark_failed``, a killed one
    with ``mark_stopped``. Offline, ClearML keeps no status (``task.json``
    has none, and importing a session marks it completed).

    Resuming: ClearML cannot continue a task offline (``continue_last_task``
    and ``reuse_last_task_id`` need the server to find it), so a resumed run
    is a new task and `run_state` is None. Against a server, pass
    ``init_kwargs=dict(continue_last_task='<task id>')``; an offline session
    can be appended to a task already on a server with
    ``Task.import_offline_session(folder, previous_task_id=...)``.

    Raises:
        ImportError: clearml is not installed; the message is the fix,
            ``pip install "hooks-logging[clearml]"``.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike[str] | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        offline: bool | None = None,
        artifact_suffix: str | Sequence[str] = (),
        artifact_dir: str | os.PathLike[str] | None = None,
        log_model: bool | str = False,
    ) -> None:
        self.log_model = check_log_model(log_model)
        clearml = _import_clearml()
        self.save_dir = None if save_dir is None else os.fspath(save_dir)
        self.artifact_suffix = (
            (artifact_suffix,) if isinstance(artifact_suffix, str) else tuple(artifact_suffix)
        )
        self.artifact_dir = default_artifact_dir(artifact_dir, self.save_dir)
        task_class = clearml.Task
        if offline is None:
            offline = task_class.is_offline() or not _has_credentials()
        if offline:
            task_class.set_offline(True)
        self.offline = task_class.is_offline()
        kwargs = {**_QUIET, **(init_kwargs or {})}
        cache_dir = None if self.save_dir is None else osp.join(self.save_dir, "clearml")
        with _offline_folder_in(cache_dir if self.offline else None):
            self._task = task_class.init(**kwargs)
        self._logger = self._task.get_logger()

    @classmethod
    def named_config(
        cls, config: dict[str, Any], name: str | None, tags: Sequence[str] = ()
    ) -> dict[str, Any]:
        """`config` whose ``init_kwargs`` give ``Task.init`` the `task_name` `name` and `tags`."""
        return named_init_kwargs(config, name, tags, name_key="task_name")

    @property
    def task(self) -> Any:
        """The ``clearml.Task``, for what the protocol does not cover."""
        return self._task

    @property
    def experiment(self) -> Any:
        """The ``clearml.Task`` (Lightning's name for a logger's own object)."""
        return self._task

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Report each value at iteration `step`, its name as both title and series."""
        self._check_open()
        for name, value in self.without_own_axis(scalars).items():
            self._logger.report_scalar(title=name, series=name, value=value, iteration=step)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Connect the config as the task's configuration object ``config``."""
        self._check_open()
        self._task.connect_configuration(jsonable(config), name="config")

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Report `image` (see `LoggerBackend`) as a debug sample `name` at iteration `step`."""
        self._check_open()
        pixels = image_to_hwc_uint8(image)
        pixels = pixels[:, :, 0] if pixels.shape[2] == 1 else pixels
        self._logger.report_image(title=name, series=name, iteration=step, image=pixels)

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """Add ``<name> (step <step>): <text>`` to the task's console log."""
        self._check_open()
        self._logger.report_text(f"{name} (step {step}): {text}", print_console=False)

    def flush(self) -> None:
        """Write (offline) or send what was reported so far."""
        if not self._closed:
            self._task.flush(wait_for_uploads=True)

    def _upload_checkpoint(self, path: str, aliases: tuple[str, ...]) -> None:
        self._task.upload_artifact(
            osp.basename(osp.normpath(path)),
            artifact_object=path,
            metadata={"aliases": ",".join(aliases)},
            wait_on_upload=True,
        )

    def _close(self) -> None:
        try:
            self._upload_final_checkpoints()
            if self.artifact_suffix and self.artifact_dir is not None:
                for path in files_with_suffix(self.artifact_dir, self.artifact_suffix):
                    name = osp.relpath(path, self.artifact_dir)
                    self._task.upload_artifact(name, artifact_object=path, wait_on_upload=True)
        finally:
            self._task.close()  # marks it completed; offline, zips the session
            if self.end_status == "failed":
                self._task.mark_failed(status_reason="the run failed", force=True)
            elif self.end_status == "killed":
                self._task.mark_stopped(force=True, status_message="the run was killed")

    def __repr__(self) -> str:
        return f"ClearMLBackend({self.save_dir!r}, offline={self.offline})"


def _import_clearml() -> Any:
    import importlib
    import warnings

    clearml = import_tracker("clearml", "clearml.config", missing=MISSING_CLEARML)
    config = importlib.import_module("clearml.config")
    with warnings.catch_warnings():
        # ClearML's copy of pyhocon parses its config files with pyparsing APIs pyparsing 3
        # deprecates; reading the config once here parses them, for this process.
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, module=r"(clearml\.utilities\.pyhocon|pyparsing)"
        )
        config.config_obj.get("api.credentials.access_key", None)
    return clearml


def _has_credentials() -> bool:
    """Whether ClearML has credentials for a server, from its environment variables or config."""
    import importlib

    defs = importlib.import_module("clearml.backend_api.session.defs")
    configured = importlib.import_module("clearml.config").config_obj.get(
        "api.credentials.access_key", None
    )
    return bool(defs.ENV_AUTH_TOKEN.get() or defs.ENV_ACCESS_KEY.get() or configured)


@contextlib.contextmanager
def _offline_folder_in(cache_dir: str | None) -> Iterator[None]:
    """While a task starts: ClearML's cache in `cache_dir`, so its offline session goes there.

    The task keeps the folder it started with; ClearML's other caches stay where they are.
    """
    if cache_dir is None:
        yield
        return
    before = os.environ.get("CLEARML_CACHE_DIR")
    os.environ["CLEARML_CACHE_DIR"] = cache_dir
    try:
        yield
    finally:
        if before is None:
            del os.environ["CLEARML_CACHE_DIR"]
        else:
            os.environ["CLEARML_CACHE_DIR"] = before
