"""`AimBackend`: an Aim run in a local Aim repository (no server needed; ``aim up`` shows it).

Needs the ``aim`` package, the ``hooks-logging[aim]`` extra, imported when a
backend is built. Aim writes each value straight into its repository (RocksDB
files under ``<repo>/.aim``); readers and the UI see a run once the repository
is indexed, which ``aim up`` does when it starts.
"""

from __future__ import annotations

import os
import os.path as osp

from hooks_core import LOG_BACKENDS
from hooks_core.registry import pip_install

from ._backend import LoggerBackend, check_log_model, image_to_hwc_uint8, import_tracker, jsonable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["AimBackend"]

MISSING_AIM = f"AimBackend needs aim: {pip_install('hooks-logging[aim]')}"

# What the logger hook and its text log already record, and Aim's background threads for it:
# no terminal capture, no system metrics (CPU, memory) every few seconds, no package list.
_QUIET = dict(capture_terminal_logs=False, system_tracking_interval=None, log_system_params=False)

# The tags `close` gives a run that did not finish; a resumed run is live again and loses them.
_END_TAGS = ("failed", "killed")


@LOG_BACKENDS.register_module(name=["aim", "AimBackend"])
class AimBackend(LoggerBackend):
    """Log to an Aim run: scalars at their steps, the config, images, text, checkpoints.

    Args:
        save_dir: The Aim repository is ``<save_dir>/.aim`` unless `init_kwargs`
            gives ``repo``; the logger hook passes ``<log_dir>/vis_data``, so
            each run keeps its repository in its own log folder, as the other
            trackers keep their files. None: Aim's default, the nearest
            ``.aim`` above the current directory, else the current directory
            (MMEngine's and Aim's Lightning logger's choice). To compare runs
            in one ``aim up``, give them one repository:
            ``init_kwargs=dict(repo='work_dirs')``.
        init_kwargs: Arguments of ``aim.Run`` (``repo``, ``experiment``,
            ``run_hash``, ``force_resume``, ``system_tracking_interval``,
            ``capture_terminal_logs``, ``log_system_params``). Terminal
            capture, system metrics and the package list default to off (the
            text log has them); turning them on starts Aim's threads for them,
            stopped at `close`.
        experiment: The run's Aim experiment (Aim's Lightning ``AimLogger(experiment=...)``),
            unless `init_kwargs` gives one; Aim's default is ``'default'``.
        run_name: The run's name (``run.name``; ``AimLogger(run_name=...)``).
        tags: Tags of the run (``run.add_tag``).
        artifacts_uri: Where checkpoints go (``run.set_artifacts_uri``):
            ``file://...`` or ``s3://...``. None: ``file://<repo>/.aim/artifacts``,
            inside the repository, when `log_model` asks for checkpoints.
        log_model: Which checkpoints offered by `log_checkpoint` are stored as
            artifacts ``checkpoints/<file or folder name>`` (Aim keeps them
            under ``<artifacts_uri>/<run hash>/``), each alias in the run
            parameter ``checkpoints.<alias>``: ``False`` none, ``True`` the
            latest and best at `close`, ``'all'`` each one.

    What goes where: `log_scalars` is ``run.track(value, name=name,
    step=step, epoch=epoch)`` for each value, with the record's ``epoch``
    (when it is a whole number) as Aim's epoch, so the UI can also align
    the values by epoch. Names are kept as the logger hook gives them (``loss``,
    ``accuracy/top1``), with an empty context: Aim's own integrations turn
    ``train_``/``val_`` prefixes into a ``subset`` context, but these names
    carry no such prefix, a ``/`` is a metric family rather than a subset,
    and the same names as the JSON log and the other trackers let one query
    (``metric.name == 'loss'``) find them. A value logged again at a step
    replaces the one there (Aim keeps one value per step). `log_config`
    sets the run parameter ``hparams`` key by key (values that are not JSON
    types as their ``repr``); `log_image` tracks an ``aim.Image`` and
    `log_text` an ``aim.Text`` under their names at their steps.

    End status: Aim counts a run as finished only when it reports so
    (``run.report_successful_finish``, a check-in its run-status watcher
    reads), which `close` does for a finished run. A run that did not
    finish gets a tag with its status (``'failed'`` or ``'killed'``) and an
    error in its logs (``run.log_error``), both shown in Aim's UI.

    Resuming: `run_state` is the run hash and the repository; a resumed run
    continues that run (``run_hash``) in that repository, its steps going
    on, and loses the ``failed``/``killed`` tag. Aim refuses a run still
    locked by a live process; ``init_kwargs=dict(force_resume=True)``
    takes it over.

    Raises:
        ImportError: aim is not installed; the message is the fix,
            ``pip install "hooks-logging[aim]"``.
        ValueError: `log_model` with a remote repository (``aim://``) and no
            `artifacts_uri`.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike[str] | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        experiment: str | None = None,
        run_name: str | None = None,
        tags: Sequence[str] = (),
        artifacts_uri: str | None = None,
        log_model: bool | str = False,
    ) -> None:
        self.log_model = check_log_model(log_model)
        aim = _import_aim()
        self.save_dir = None if save_dir is None else os.fspath(save_dir)
        kwargs = {**_QUIET, **(init_kwargs or {})}
        if self.save_dir is not None:
            kwargs.setdefault("repo", self.save_dir)
        if experiment is not None:
            kwargs.setdefault("experiment", experiment)
        self._aim = aim
        self._run = aim.Run(**kwargs)
        try:
            self._describe(kwargs.get("run_hash") is not None, run_name, tags, artifacts_uri)
        except BaseException:
            self._run.close()  # its threads would outlive the failed constructor
            raise

    def _describe(
        self, resumed: bool, run_name: str | None, tags: Sequence[str], artifacts_uri: str | None
    ) -> None:
        """Name and tag the run, and say where its checkpoints go."""
        run = self._run
        if resumed:
            for tag in _END_TAGS:
                run.remove_tag(tag)
        if run_name is not None:
            run.name = run_name
        for tag in tags:
            if tag not in run.tags:  # Aim prints a complaint for a tag it has
                run.add_tag(tag)
        if artifacts_uri is not None:
            run.set_artifacts_uri(artifacts_uri)
        elif self.log_model and run.artifacts_uri is None:
            run.set_artifacts_uri(_default_artifacts_uri(run.repo))

    @property
    def run(self) -> Any:
        """The ``aim.Run``, for what the protocol does not cover."""
        return self._run

    @property
    def experiment(self) -> Any:
        """The ``aim.Run`` (Lightning's name for a logger's own object)."""
        return self._run

    def run_state(self) -> dict[str, Any]:
        """The run's hash and its repository's folder: what `resume_config` continues."""
        return {"run_hash": self._run.hash, "repo": self._run.repo.root_path}

    @classmethod
    def resume_config(cls, config: dict[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
        """`config` with ``init_kwargs`` continuing the run of `state` (its hash and repository).

        An ``init_kwargs`` that names another run hash is left as it is.
        """
        init = dict(config.get("init_kwargs") or {})
        if init.get("run_hash") not in (None, state["run_hash"]):
            return config
        init.update(run_hash=state["run_hash"], repo=state["repo"])
        return {**config, "init_kwargs": init}

    @classmethod
    def named_config(
        cls, config: dict[str, Any], name: str | None, tags: Sequence[str] = ()
    ) -> dict[str, Any]:
        """`config` whose run is also tagged `tags`, and named `name` unless it names it."""
        named = dict(config)
        if name is not None and named.get("run_name") is None:
            named["run_name"] = name
        if tags:
            own = list(named.get("tags") or ())
            named["tags"] = own + [tag for tag in tags if tag not in own]
        return named

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Track each value at `step` (without the key that is their axis), the record's
        whole-number ``epoch`` as Aim's epoch."""
        self._check_open()
        epoch = _whole(scalars.get("epoch"))
        for name, value in self.without_own_axis(scalars).items():
            self._run.track(value, name=name, step=step, epoch=epoch)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Set the run parameter ``hparams``, key by key (non-JSON values as their ``repr``)."""
        self._check_open()
        for key, value in jsonable(config).items():
            self._run.set(("hparams", key), value, strict=False)

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Track `image` (see `LoggerBackend`) as an ``aim.Image`` named `name` at `step`."""
        self._check_open()
        self._run.track(self._aim.Image(image_to_hwc_uint8(image)), name=name, step=step)

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """Track `text` as an ``aim.Text`` named `name` at `step`."""
        self._check_open()
        self._run.track(self._aim.Text(text), name=name, step=step)

    def _upload_checkpoint(self, path: str, aliases: tuple[str, ...]) -> None:
        name = f"checkpoints/{osp.basename(osp.normpath(path))}"
        if osp.isdir(path):
            self._run.log_artifacts(path, name=name)
        else:
            self._run.log_artifact(path, name=name)
        for alias in aliases:
            self._run.set(("checkpoints", alias), name, strict=False)

    def _close(self) -> None:
        try:
            self._upload_final_checkpoints()
            if self.end_status == "finished":
                self._run.report_successful_finish()
            else:
                self._run.add_tag(self.end_status)
                self._run.log_error(f"the run ended {self.end_status}")
        finally:
            self._run.close()

    def __repr__(self) -> str:
        return f"AimBackend({self.save_dir!r})"


def _import_aim() -> Any:
    import warnings

    with warnings.catch_warnings():
        # Aim's run-metadata models use SQLAlchemy 1.x's `declarative_base`.
        warnings.filterwarnings("ignore", message=r".*declarative_base\(\)")
        return import_tracker("aim", missing=MISSING_AIM)


def _default_artifacts_uri(repo: Any) -> str:
    """``file://<repo>/.aim/artifacts`` for a local repository `repo`."""
    if repo.is_remote_repo:
        raise ValueError(
            f"AimBackend(log_model=...) with the remote repository {repo.root_path!r}: give "
            "artifacts_uri (s3://... or file://...), where its checkpoints should go"
        )
    return "file://" + osp.join(osp.abspath(repo.path), "artifacts")


def _whole(value: Any) -> int | None:
    """`value` as an int when it is a whole number (an epoch), else None."""
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
