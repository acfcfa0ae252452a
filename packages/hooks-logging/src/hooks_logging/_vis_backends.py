"""MMEngine's visualization backends by their names, each writing through a hooks-logging backend.

``dict(type='TensorboardVisBackend')`` in a ``Visualizer``'s ``vis_backends``
builds a `TensorboardVisBackend`, which has MMEngine's methods (`add_image`,
`add_scalars`, `add_config`, `experiment`, ...) and writes with the
`TensorboardBackend` of this package; likewise for Local (the JSON backend),
W&B, MLflow, Neptune, DVCLive, ClearML and Aim. As in MMEngine, nothing is opened until the
first write (`_init_env`), so building one on every rank costs nothing. Inside
a run, the `LoggerHook` takes these backends over (see `Visualizer`): the
visualizer then writes to them on the hook's writer threads.
"""

from __future__ import annotations

import os
import os.path as osp

from hooks_core.registry import VISBACKENDS

from ._aim_backend import AimBackend
from ._clearml_backend import ClearMLBackend
from ._dvclive_backend import DvcliveBackend
from ._json_backend import JsonBackend
from ._mlflow_backend import MlflowBackend
from ._neptune_backend import NeptuneBackend
from ._tensorboard_backend import TensorboardBackend
from ._vis_backend_base import LoggerVisBackend, ScalarFiles, plain_scalars, same_path
from ._wandb_backend import WandbBackend

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from ._backend import LoggerBackend

__all__ = [
    "LocalVisBackend",
    "TensorboardVisBackend",
    "WandbVisBackend",
    "MLflowVisBackend",
    "NeptuneVisBackend",
    "DVCLiveVisBackend",
    "ClearMLVisBackend",
    "AimVisBackend",
]

_ARTIFACT_SUFFIX = (".json", ".log", ".py", "yaml")


@VISBACKENDS.register_module()
class LocalVisBackend(LoggerVisBackend):
    """MMEngine's ``LocalVisBackend``: scalars, images and the config as files in `save_dir`.

    Args:
        save_dir: The folder (a visualizer gives ``<save_dir>/vis_data``).
        img_save_dir: The folder under `save_dir` of the images,
            ``<name>_<step>.png`` (written without any imaging library).
        config_save_file: The config, as Python assignments; must end in ``.py``.
        scalar_save_file: The JSON-lines file of the scalars; must end in ``.json``.

    `add_scalars(..., file_path='other.json')` also appends the record to
    ``save_dir/other.json``. `experiment` is the backend itself, as in MMEngine.

    Raises:
        ValueError: a file name with the wrong extension (MMEngine: AssertionError).
    """

    backend_type = JsonBackend

    def __init__(
        self,
        save_dir: str | os.PathLike[str],
        img_save_dir: str = "vis_image",
        config_save_file: str = "config.py",
        scalar_save_file: str = "scalars.json",
    ) -> None:
        for option, value, suffix in (
            ("config_save_file", config_save_file, ".py"),
            ("scalar_save_file", scalar_save_file, ".json"),
        ):
            if not value.endswith(suffix):
                raise ValueError(
                    f"LocalVisBackend {option} must end with {suffix!r}, got {value!r}"
                )
        super().__init__(save_dir)
        self._img_save_dir = img_save_dir
        self._config_save_file = config_save_file
        self._scalar_save_file = scalar_save_file
        self._side_files: ScalarFiles | None = None

    def _build(self) -> LoggerBackend:
        assert self._save_dir is not None
        return _LocalBackend(
            self._save_dir, self._scalar_save_file, self._img_save_dir, self._config_save_file
        )

    @property
    def experiment(self) -> LocalVisBackend:
        return self

    def matches(self, backend: Any) -> bool:
        return (
            isinstance(backend, JsonBackend)
            and self._save_dir is not None
            and same_path(backend.path, osp.join(self._save_dir, self._scalar_save_file))
            and getattr(backend, "image_dir", None) == self._img_save_dir
        )

    def add_scalars(
        self,
        scalar_dict: Mapping[str, Any],
        step: int = 0,
        file_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        scalars = plain_scalars(scalar_dict)
        if file_path is not None:  # first: a bad file_path writes nothing
            if self._side_files is None:
                assert self._save_dir is not None
                main = osp.join(self._save_dir, self._scalar_save_file)
                self._side_files = ScalarFiles(self._save_dir, main)
            self._side_files.append(file_path, scalars, step)
        self._call("log_scalars", scalars, step, step=step)

    def close(self) -> None:
        super().close()
        if self._side_files is not None:
            self._side_files.close()
            self._side_files = None


@VISBACKENDS.register_module()
class TensorboardVisBackend(LoggerVisBackend):
    """MMEngine's ``TensorboardVisBackend``: event files in `save_dir`, by `TensorboardBackend`.

    `experiment` is the ``SummaryWriter``.
    """

    backend_type = TensorboardBackend

    def __init__(self, save_dir: str | os.PathLike[str]) -> None:
        super().__init__(save_dir)

    def _build(self) -> LoggerBackend:
        assert self._save_dir is not None
        return TensorboardBackend(self._save_dir)


@VISBACKENDS.register_module()
class WandbVisBackend(LoggerVisBackend):
    """MMEngine's ``WandbVisBackend``: a W&B run, by `WandbBackend`.

    Args:
        save_dir: W&B's ``dir`` unless `init_kwargs` gives one.
        init_kwargs: Arguments of ``wandb.init``.
        define_metric_cfg: ``{metric: summary}`` or a list of ``define_metric``
            keyword dicts, as MMEngine's.
        commit: Accepted for MMEngine's configs; every record is its own row
            here (logged at its step), so it changes nothing.
        log_code_name: Accepted for MMEngine's configs; the source code is
            not uploaded (call ``experiment.run.log_code()`` for that).
        watch_kwargs: Arguments of ``run.watch``, which `add_graph` calls.

    `experiment` is the ``wandb`` module, as in MMEngine (``wandb.run`` is the run).
    """

    backend_type = WandbBackend

    def __init__(
        self,
        save_dir: str | os.PathLike[str],
        init_kwargs: Mapping[str, Any] | None = None,
        define_metric_cfg: Mapping[str, str] | Sequence[Mapping[str, Any]] | None = None,
        commit: bool | None = True,
        log_code_name: str | None = None,
        watch_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(save_dir)
        self._init_kwargs = None if init_kwargs is None else dict(init_kwargs)
        self._define_metric_cfg = define_metric_cfg
        self._commit = commit
        self._log_code_name = log_code_name
        self._watch_kwargs = dict(watch_kwargs or {})

    def _build(self) -> LoggerBackend:
        return WandbBackend(
            self._save_dir,
            init_kwargs=self._init_kwargs,
            define_metric_cfg=self._define_metric_cfg,
            log_artifact=False,
        )

    @property
    def experiment(self) -> Any:
        _ = self.backend  # opens the run
        import importlib

        return importlib.import_module("wandb")

    def add_graph(self, model: Any, data_batch: Sequence[Any] | None, **kwargs: Any) -> None:
        """Watch `model` (gradients and parameters) with `watch_kwargs`, once per model."""
        backend = self.backend
        assert isinstance(backend, WandbBackend)
        backend.watch(model, self._watch_kwargs)  # on this thread: it adds hooks to the model


@VISBACKENDS.register_module()
class MLflowVisBackend(LoggerVisBackend):
    """MMEngine's ``MLflowVisBackend``: an MLflow run, by `MlflowBackend` (same arguments).

    Without `tracking_uri` the store is a sqlite file in `save_dir` (MMEngine: a
    ``file:`` store, which MLflow 3 refuses by default). `experiment` is the
    ``MlflowClient`` of the run (its id: ``get_backend(...).backend.run_id``),
    not MMEngine's ``mlflow`` module with an active run.
    """

    backend_type = MlflowBackend

    def __init__(
        self,
        save_dir: str | os.PathLike[str],
        exp_name: str | None = None,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        tracking_uri: str | None = None,
        artifact_suffix: str | Sequence[str] = _ARTIFACT_SUFFIX,
        tracked_config_keys: Sequence[str] | None = None,
        artifact_location: str | None = None,
    ) -> None:
        super().__init__(save_dir)
        self._options: dict[str, Any] = dict(
            exp_name=exp_name, run_name=run_name, tags=tags, params=params,
            tracking_uri=tracking_uri, artifact_suffix=artifact_suffix,
            tracked_config_keys=tracked_config_keys, artifact_location=artifact_location,
        )  # fmt: skip

    def _build(self) -> LoggerBackend:
        return MlflowBackend(self._save_dir, **self._options)


@VISBACKENDS.register_module()
class NeptuneVisBackend(LoggerVisBackend):
    """MMEngine's ``NeptuneVisBackend``: a Neptune run (offline with no token), by `NeptuneBackend`.

    `experiment` is the ``neptune.Run``.
    """

    backend_type = NeptuneBackend

    def __init__(
        self,
        save_dir: str | os.PathLike[str] | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(save_dir)
        self._init_kwargs = None if init_kwargs is None else dict(init_kwargs)

    def _init_env(self) -> None:
        self._backend = self._build()  # Neptune keeps nothing in save_dir

    def _build(self) -> LoggerBackend:
        return NeptuneBackend(self._init_kwargs)


@VISBACKENDS.register_module(name=["DVCLiveVisBackend", "DvcliveVisBackend"])
class DVCLiveVisBackend(LoggerVisBackend):
    """MMEngine's ``DVCLiveVisBackend``: DVCLive's files in ``save_dir/dvclive`` (`DvcliveBackend`).

    Unlike MMEngine, no DVC experiment is made unless `init_kwargs` asks
    (``save_dvc_exp=True``): a logger does not touch the user's git
    repository. DVCLive gets a folder of its own (MMEngine gives it
    `save_dir` itself), so its ``metrics.json`` is not taken for a log file
    by the backends that upload them; ``init_kwargs=dict(dir=...)`` chooses
    another. `artifact_suffix` is accepted and unused (artifacts need DVC).
    `experiment` is the ``dvclive.Live``.
    """

    backend_type = DvcliveBackend

    def __init__(
        self,
        save_dir: str | os.PathLike[str],
        artifact_suffix: str | Sequence[str] = (".json", ".py", "yaml"),
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(save_dir)
        self._artifact_suffix = artifact_suffix
        self._init_kwargs = None if init_kwargs is None else dict(init_kwargs)

    def _build(self) -> LoggerBackend:
        return DvcliveBackend(self._save_dir, init_kwargs=self._init_kwargs)


@VISBACKENDS.register_module()
class ClearMLVisBackend(LoggerVisBackend):
    """MMEngine's ``ClearMLVisBackend``: a ClearML task (offline, no server), by `ClearMLBackend`.

    Args:
        save_dir: Offline, the session goes to ``<save_dir>/clearml/offline/``;
            None: ClearML's cache folder.
        init_kwargs: Arguments of ``clearml.Task.init``.
        artifact_suffix: At `close`, the files of the run's log folder (the
            parent of ``vis_data``) ending with these are uploaded as
            artifacts; MMEngine takes them from ``cfg.work_dir``, which also
            holds the checkpoints (here: ``log_model``, see `ClearMLBackend`).

    `experiment` is the ``clearml.Task``.
    """

    backend_type = ClearMLBackend

    def __init__(
        self,
        save_dir: str | os.PathLike[str] | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        artifact_suffix: str | Sequence[str] = (".py", ".pth"),
    ) -> None:
        super().__init__(save_dir)
        self._init_kwargs = None if init_kwargs is None else dict(init_kwargs)
        self._artifact_suffix = artifact_suffix

    def _build(self) -> LoggerBackend:
        return ClearMLBackend(
            self._save_dir, init_kwargs=self._init_kwargs, artifact_suffix=self._artifact_suffix
        )


@VISBACKENDS.register_module()
class AimVisBackend(LoggerVisBackend):
    """MMEngine's ``AimVisBackend``: an Aim run, by `AimBackend`.

    Args:
        save_dir: The Aim repository is ``<save_dir>/.aim`` unless `init_kwargs`
            gives ``repo`` (MMEngine: the default repository, from the current
            directory); None: Aim's default.
        init_kwargs: Arguments of ``aim.Run``. The experiment defaults to
            MMEngine's name, the last two parts of `save_dir` joined by ``_``
            (``<timestamp>_vis_data``); Aim's default without `save_dir`.

    `experiment` is the ``aim.Run``.
    """

    backend_type = AimBackend

    def __init__(
        self,
        save_dir: str | os.PathLike[str] | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(save_dir)
        self._init_kwargs = dict(init_kwargs or {})
        if self._save_dir is not None:
            parts = osp.normpath(osp.abspath(self._save_dir)).split(os.sep)
            self._init_kwargs.setdefault("experiment", "_".join(parts[-2:]))

    def _build(self) -> LoggerBackend:
        return AimBackend(self._save_dir, init_kwargs=self._init_kwargs)


# ------------------------------------------------------------ helpers
class _LocalBackend(JsonBackend):
    """The JSON backend, with the Python copy of the config under LocalVisBackend's name."""

    def __init__(self, save_dir: str, filename: str, image_dir: str, config_file: str) -> None:
        super().__init__(save_dir, filename, image_dir=image_dir)
        self.config_file = config_file

    def log_config(self, config: Mapping[str, Any]) -> None:
        super().log_config(config)  # config.json and config.py
        if self.config_file != "config.py":
            python = osp.join(self.save_dir, "config.py")
            os.replace(python, osp.join(self.save_dir, self.config_file))
