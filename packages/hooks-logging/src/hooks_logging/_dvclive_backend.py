"""`DvcliveBackend`: DVCLive's files (TSV per metric, metrics.json, params.yaml, images).

Needs the ``dvclive`` package, the ``hooks-logging[dvclive]`` extra (which
brings all of DVC), imported when a backend is built.
"""

from __future__ import annotations

import os

from hooks_core import LOG_BACKENDS
from hooks_core.registry import pip_install

from ._backend import LoggerBackend, image_to_hwc_uint8, import_tracker, jsonable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["DvcliveBackend"]

OWN_FOLDER = "dvclive"  # DVCLive's default folder name; one of `TRACKER_DIRS`, never uploaded
MISSING_DVCLIVE = f"DvcliveBackend needs dvclive: {pip_install('hooks-logging[dvclive]')}"


@LOG_BACKENDS.register_module(name=["dvclive", "DvcliveBackend"])
class DvcliveBackend(LoggerBackend):
    """Log with DVCLive: a TSV file per metric, the latest values, params and images.

    Args:
        save_dir: The folder DVCLive's own folder goes in: its files are under
            ``<save_dir>/dvclive`` (DVCLive's ``dir``) unless `init_kwargs`
            gives a ``dir``. The logger hook passes ``<log_dir>/vis_data``, so
            DVCLive's ``metrics.json`` and ``params.yaml`` never sit beside the
            run's log files, which other backends upload (MLflow's ``.json``
            and ``yaml`` artifacts).
        init_kwargs: Arguments of ``dvclive.Live``. Defaults here:
            ``save_dvc_exp=False`` and ``dvcyaml=None`` (no DVC experiment, no
            ``dvc.yaml``), ``report=None``.
        live: A ``dvclive.Live`` to log to instead of making one (MMCV's
            ``dvclive`` argument); `close` ends it.

    Files, under ``<save_dir>/dvclive``:
        - ``plots/metrics/<name>.tsv``: ``step`` and value columns, one row per
          `log_scalars` (the column is named after the last part of `name`);
        - ``metrics.json``: the latest value of each metric and the step,
          rewritten by `flush` and `close`;
        - ``params.yaml``: the config, from `log_config`;
        - ``plots/images/<name>_<step>.png``: images.

    DVC and git. ``dvclive.Live`` runs ``dvc init`` in the git repository
    around the current directory, and stages ``.dvc/`` there with ``git add``,
    even when asked for no DVC experiment. A logger must not change the
    user's repository, so unless `init_kwargs` asks for DVC
    (``save_dvc_exp=True`` or a ``dvcyaml``) the backend's ``Live`` skips that
    step; with those options, DVCLive does what it always does.

    Raises:
        ImportError: dvclive is not installed; the message is the fix,
            ``pip install "hooks-logging[dvclive]"``.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike[str] | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        live: Any = None,
    ) -> None:
        self.save_dir = None if save_dir is None else os.fspath(save_dir)
        if live is not None:
            self._live = live
            return
        dvclive = _import_dvclive()
        kwargs: dict[str, Any] = {"save_dvc_exp": False, "dvcyaml": None, "report": None}
        if self.save_dir is not None:
            kwargs["dir"] = os.path.join(self.save_dir, OWN_FOLDER)
        kwargs.update(init_kwargs or {})
        wants_dvc = bool(kwargs["save_dvc_exp"] or kwargs["dvcyaml"])
        live_class = dvclive.Live if wants_dvc else _live_without_dvc(dvclive.Live)
        self._live = live_class(**kwargs)

    @property
    def live(self) -> Any:
        """The ``dvclive.Live``, for what the protocol does not cover."""
        return self._live

    @property
    def experiment(self) -> Any:
        """The ``dvclive.Live`` (Lightning's name for a logger's own object)."""
        return self._live

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Log each value as a metric at `step` (a row of its TSV file)."""
        self._check_open()
        self._live.step = int(step)
        for name, value in self.without_own_axis(scalars).items():
            self._live.log_metric(name, value)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Write the config to ``params.yaml`` (values not of JSON types as their ``repr``)."""
        self._check_open()
        self._live.log_params(jsonable(config))

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Save `image` (see `LoggerBackend`) as ``plots/images/<name>_<step>.png``."""
        self._check_open()
        pixels = image_to_hwc_uint8(image)
        self._live.log_image(
            f"{name}_{step}.png", pixels[:, :, 0] if pixels.shape[2] == 1 else pixels
        )

    def flush(self) -> None:
        """Rewrite ``metrics.json`` with the latest values."""
        if not self._closed:
            self._live.make_summary()

    def _close(self) -> None:
        self._live.end()

    def __repr__(self) -> str:
        return f"DvcliveBackend({self.save_dir!r})"


def _import_dvclive() -> Any:
    return import_tracker("dvclive", missing=MISSING_DVCLIVE)


def _live_without_dvc(live_class: Any) -> Any:
    """A ``Live`` that does not look for, or create, a DVC repository."""

    class Live(live_class):  # type: ignore[misc]  # a class of the dvclive package (typed Any)
        def _init_dvc(self) -> None:
            self._dvc_file = self._init_dvc_file()

    return Live
