"""`CometBackend`: a Comet experiment, offline (a ``.zip`` to ``comet upload``) without an API key.

Needs the ``comet-ml`` package, the ``hooks-logging[comet]`` extra, imported
when a backend is built. Before that import, ``COMET_DISABLE_AUTO_LOGGING``
defaults to ``1`` (as Lightning's ``CometLogger`` sets it): Comet would
otherwise patch torch and other libraries to log on its own, beside what
this backend logs.
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

__all__ = ["CometBackend"]

MISSING_COMET = f"CometBackend needs comet-ml: {pip_install('hooks-logging[comet]')}"

# The arguments of ``comet_ml.start``; the other `init_kwargs` make its ``ExperimentConfig``.
_START_ARGS = ("api_key", "workspace", "project", "project_name", "experiment_key", "mode")

# What the logger hook and its text log already record; the backend does not capture it again.
_QUIET = dict(
    log_code=False,
    log_graph=False,
    auto_param_logging=False,
    auto_metric_logging=False,
    parse_args=False,
    auto_output_logging=False,
    log_env_details=False,
    log_git_metadata=False,
    log_git_patch=False,
    display_summary_level=0,
)


@LOG_BACKENDS.register_module(name=["comet", "CometBackend"])
class CometBackend(LoggerBackend):
    """Log to a Comet experiment: scalars at their steps, the config, images, text, checkpoints.

    Args:
        save_dir: Offline, the archive goes to ``<save_dir>/comet/<key>[-<suffix>].zip``
            unless `init_kwargs` gives ``offline_directory``; the logger hook
            passes ``<log_dir>/vis_data``. Created if missing.
        init_kwargs: Arguments of ``comet_ml.start`` (``api_key``,
            ``workspace``, ``project``, ``experiment_key``, ``mode``); the
            others (``name``, ``tags``, ``offline_directory``, ``log_code``...)
            make its ``comet_ml.ExperimentConfig``. Code, graph, command line,
            console, environment and git capture default to off (the text log
            and the config have them).
        project: The Comet project (Lightning's ``CometLogger(project=...)``).
        name: The experiment's name (Lightning's ``name``).
        online: True sends to Comet, False writes the offline archive. None:
            online only when an API key is configured (``api_key``,
            ``COMET_API_KEY`` or a ``.comet.config`` file).
        log_model: Which checkpoints offered by `log_checkpoint` are logged
            with ``experiment.log_model(<checkpoint name>, path)``, their
            aliases as its metadata: ``False`` none, ``True`` the latest and
            best at `close`, ``'all'`` each one. Offline, the files are in the
            archive.

    What goes where: `log_scalars` is ``log_metrics(..., step=step)``;
    `log_config` is ``log_parameters`` (nested keys joined by ``|``);
    `log_image` is ``log_image(..., name=name, step=step)``; `log_text` is
    ``log_text(text, step=step, metadata={'name': name})``. Offline, the
    archive's ``messages.json`` holds one JSON message per line, and its
    ``experiment.json`` the key, project, tags and error state.

    End status: Comet has no finished/failed/killed state of its own. A run
    that did not finish gets a tag with its status (``'failed'`` or
    ``'killed'``) and is reported as an experiment error, as Comet's own
    hook for uncaught exceptions does (``customer_error_reported`` in the
    offline ``experiment.json``).

    Resuming: `run_state` is the experiment key; a resumed run continues it
    with ``mode='get'``. Offline that is a second archive with the same key;
    ``comet upload`` the first, then the second, to see one experiment.

    Raises:
        ImportError: comet-ml is not installed; the message is the fix,
            ``pip install "hooks-logging[comet]"``.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike[str] | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        project: str | None = None,
        name: str | None = None,
        online: bool | None = None,
        log_model: bool | str = False,
    ) -> None:
        self.log_model = check_log_model(log_model)
        comet_ml = _import_comet()
        self.save_dir = None if save_dir is None else os.fspath(save_dir)
        kwargs = {**_QUIET, **(init_kwargs or {})}
        for option, value in (("project", project), ("name", name), ("online", online)):
            if value is not None:
                kwargs.setdefault(option, value)
        if kwargs.get("online") is None:
            key = comet_ml.config.get_api_key(kwargs.get("api_key"), comet_ml.get_config())
            kwargs["online"] = key is not None
        self.online = bool(kwargs.pop("online"))
        if self.save_dir is not None:
            kwargs.setdefault("offline_directory", osp.join(self.save_dir, "comet"))
        if not self.online and kwargs.get("offline_directory") is not None:
            os.makedirs(kwargs["offline_directory"], exist_ok=True)
        start = {option: kwargs.pop(option) for option in _START_ARGS if option in kwargs}
        self._experiment = comet_ml.start(
            online=self.online, experiment_config=comet_ml.ExperimentConfig(**kwargs), **start
        )

    @property
    def experiment(self) -> Any:
        """The Comet experiment (Lightning's name for a logger's own object)."""
        return self._experiment

    def run_state(self) -> dict[str, Any]:
        """The experiment's key: what `resume_config` continues."""
        return {"experiment_key": self._experiment.get_key()}

    @classmethod
    def resume_config(cls, config: dict[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
        """`config` with ``init_kwargs`` continuing the experiment of `state` (``mode='get'``).

        An ``init_kwargs`` that names another experiment key is left as it is.
        """
        init = dict(config.get("init_kwargs") or {})
        if init.get("experiment_key") not in (None, state["experiment_key"]):
            return config
        init.update(experiment_key=state["experiment_key"], mode="get")
        return {**config, "init_kwargs": init}

    @classmethod
    def named_config(
        cls, config: dict[str, Any], name: str | None, tags: Sequence[str] = ()
    ) -> dict[str, Any]:
        """`config` whose experiment is also tagged `tags`, and named `name` unless it names it."""
        if config.get("name") is not None:
            name = None
        return named_init_kwargs(config, name, tags)

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Log `scalars` as metrics at `step` (without the key that is their axis)."""
        self._check_open()
        self._experiment.log_metrics(dict(self.without_own_axis(scalars)), step=step)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Log the config as parameters (values that are not JSON types as their ``repr``)."""
        self._check_open()
        self._experiment.log_parameters(jsonable(config))

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Log `image` (see `LoggerBackend`) as a PNG named `name` at `step`."""
        self._check_open()
        from PIL import Image

        pixels = image_to_hwc_uint8(image)
        picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
        self._experiment.log_image(picture, name=name, step=step)

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """Log `text` at `step` to the experiment's text samples, `name` in its metadata."""
        self._check_open()
        self._experiment.log_text(text, step=step, metadata={"name": name})

    def flush(self) -> None:
        """Write (offline) or send what was logged so far."""
        if not self._closed:
            self._experiment.flush()

    def _upload_checkpoint(self, path: str, aliases: tuple[str, ...]) -> None:
        name = osp.splitext(osp.basename(osp.normpath(path)))[0]
        self._experiment.log_model(name, path, metadata={"aliases": list(aliases)})

    def _close(self) -> None:
        try:
            self._upload_final_checkpoints()
            if self.end_status != "finished":
                self._experiment.add_tag(self.end_status)
                # What Comet's own hook for uncaught exceptions records (no public API does).
                self._experiment._report_experiment_error(f"the run ended {self.end_status}")
        finally:
            self._experiment.end()

    def __repr__(self) -> str:
        return f"CometBackend({self.save_dir!r}, online={self.online})"


def _import_comet() -> Any:
    os.environ.setdefault("COMET_DISABLE_AUTO_LOGGING", "1")  # before comet_ml's import
    return import_tracker("comet_ml", "comet_ml.config", missing=MISSING_COMET)
