"""`Visualizer`: MMEngine's visualizer, writing images, scalars and configs through logger backends.

Standalone, it writes through its own ``vis_backends`` (MMEngine's names,
see `_vis_backends`). In a run, the `LoggerHook` connects it to the run's
backends at ``before_run`` (`VisualizerLink`): from then on everything the
visualizer writes goes to every backend of the logger hook, on the hook's
writer threads, so images land in the same TensorBoard, W&B, MLflow, Neptune
and DVCLive runs as the scalars, without blocking training and without
being lost when a tracker is slow. The visualizer's own vis backends join
the hook's (one that the hook has already, such as the JSON log in
``vis_data``, is not opened twice).
"""

from __future__ import annotations

import os
import os.path as osp
import warnings

from hooks_core.dist import master_only
from hooks_core.registry import VISBACKENDS, VISUALIZERS
from hooks_core.utils import ManagerMixin

from ._backend import image_to_hwc_uint8
from ._drawing import Drawing
from ._json_backend import JsonBackend
from ._vis_backend_base import (
    BaseVisBackend,
    LoggerVisBackend,
    ScalarFiles,
    config_dict,
    plain_scalars,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from typing_extensions import Self

    from ._delivery import BackendWorker, Delivery

__all__ = ["Visualizer", "VisualizerLink"]


@VISUALIZERS.register_module()
class Visualizer(Drawing, ManagerMixin):
    """MMEngine's ``Visualizer``: draw on an image, and write images, scalars and configs.

    Args:
        name: The instance's name, for `get_instance`.
        image: An image to draw on (HxWx3 uint8 RGB), as `set_image`.
        vis_backends: Vis backends (configs such as
            ``dict(type='TensorboardVisBackend')``, with an optional
            ``name`` key, or built `BaseVisBackend` objects), or one of them.
        save_dir: Backends built from configs get ``<save_dir>/vis_data``
            unless their config gives ``save_dir``. Backends that need a
            folder are left out, with a warning, when there is none.
        fig_save_cfg, fig_show_cfg: Keyword arguments of the matplotlib
            figures for drawing and for `show`; None: ``dict(frameon=False)``.

    Drawing (``draw_*``, `show`) needs matplotlib, the ``hooks-logging[plot]``
    extra; writing does not. Images are numpy ``(H, W, 3)`` uint8 RGB arrays,
    as in MMEngine; anything `LoggerBackend.log_image` reads is accepted.

    Raises:
        TypeError: `vis_backends` holds something other than configs and
            vis backends.
        RuntimeError: two vis backends have the same name.

    Example:
        >>> vis = Visualizer(vis_backends=[dict(type='LocalVisBackend')], save_dir='out')
        >>> vis.add_image('sample', image, step=3)   # out/vis_data/vis_image/sample_3.png
        >>> vis.add_scalars({'loss': 0.5}, step=3)  # out/vis_data/scalars.json
    """

    def __init__(
        self,
        name: str = "visualizer",
        image: Any = None,
        vis_backends: Any = None,
        save_dir: str | os.PathLike[str] | None = None,
        fig_save_cfg: Mapping[str, Any] | None = None,
        fig_show_cfg: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(name)
        self.save_dir = None if save_dir is None else os.fspath(save_dir)
        self.fig_save_cfg = dict(fig_save_cfg if fig_save_cfg is not None else {"frameon": False})
        self.fig_show_cfg = dict(fig_show_cfg if fig_show_cfg is not None else {"frameon": False})
        self._dataset_meta: dict[str, Any] | None = None
        self._vis_backends = _build_vis_backends(vis_backends, self.save_dir)
        self._deliveries: tuple[Delivery, ...] = ()  # a logger hook's, while connected
        self._run_files: ScalarFiles | None = None  # `file_path` records while connected
        if image is not None:
            self.set_image(image)

    @classmethod
    def get_instance(cls, name: str, **kwargs: Any) -> Self:
        """The instance called `name` (made from `kwargs` if new), also current for ``Visualizer``.

        So ``Visualizer.get_current_instance()`` finds the latest visualizer of
        any subclass (a detector's visualizer, say), as in MMEngine.
        """
        instance = super().get_instance(name, **kwargs)
        Visualizer._instances[name] = instance
        Visualizer._current = instance
        return instance

    @property
    def dataset_meta(self) -> dict[str, Any] | None:
        """The dataset's meta information (class names, palette), which loops set."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict[str, Any] | None) -> None:
        self._dataset_meta = dataset_meta

    def get_backend(self, name: str) -> BaseVisBackend | None:
        """The vis backend called `name` (its config's ``name``, else its class name), or None."""
        return self._vis_backends.get(name)

    # ------------------------------------------------------------ writing
    @master_only
    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Record the config (a dict or an object with ``to_dict()``); credentials are masked."""
        if self._deliveries:
            self._send("log_config", config_dict(config))
        for backend in self._direct_backends():
            backend.add_config(config, **kwargs)

    @master_only
    def add_graph(self, model: Any, data_batch: Sequence[Any] | None = None, **kwargs: Any) -> None:
        """Record the model's graph: W&B watches the model; the other backends show none."""
        for backend in self._vis_backends.values():
            backend.add_graph(model, data_batch, **kwargs)

    @master_only
    def add_image(self, name: str, image: Any, step: int = 0) -> None:
        """Record `image` under `name` at `step` (locally ``vis_image/<name>_<step>.png``)."""
        if self._deliveries:
            self._send("log_image", name, image_to_hwc_uint8(image).copy(), step, step=step)
        for backend in self._direct_backends():
            backend.add_image(name, image, step)

    @master_only
    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Record the number `value` under `name` at `step`."""
        self.add_scalars({name: value}, step, **kwargs)

    @master_only
    def add_scalars(
        self,
        scalar_dict: Mapping[str, Any],
        step: int = 0,
        file_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Record the numbers in `scalar_dict` at `step`.

        Args:
            scalar_dict: Name to value; tensors and numpy numbers are accepted.
            step: The step of the record.
            file_path: Also append the record to this JSON-lines file, next
                to ``scalars.json`` (in the run's ``vis_data`` while a logger
                hook is connected; else where a `LocalVisBackend` writes).

        Raises:
            TypeError, ValueError: `scalar_dict` is not a dict or has a
                ``step`` key; `file_path` does not end in ``.json`` or names
                ``scalars.json`` itself.
        """
        scalars = plain_scalars(scalar_dict)
        if self._deliveries:
            if file_path is not None and self._run_files is not None:
                self._run_files.append(file_path, scalars, step)
            self._send("log_scalars", scalars, step, step=step)
        for backend in self._direct_backends():
            backend.add_scalars(scalars, step, file_path, **kwargs)

    @master_only
    def add_datasample(
        self,
        name: str,
        image: Any,
        data_sample: Any = None,
        draw_gt: bool = True,
        draw_pred: bool = True,
        show: bool = False,
        wait_time: float = 0,
        step: int = 0,
    ) -> None:
        """Show or record `image` for one sample; subclasses draw `data_sample` on it first.

        MMEngine's base class does nothing here and leaves it to subclasses
        (a detector's visualizer draws boxes); this one shows the image
        (`show`) or records it with `add_image`, so `NaiveVisualizationHook`
        with a plain visualizer keeps the inputs of each test sample.
        """
        if show:
            self.show(image, win_name=name, wait_time=wait_time)
        else:
            self.add_image(name, image, step)

    def close(self) -> None:
        """Close the vis backends (those a running logger hook uses are closed by the hook)."""
        for backend in self._vis_backends.values():
            backend.close()
        self._close_figures()

    # ------------------------------------------------------------ a logger hook's connection
    def _direct_backends(self) -> list[BaseVisBackend]:
        """The backends this visualizer calls itself: all of them, or while connected, only
        those a logger hook cannot deliver to (vis backends of other packages)."""
        if not self._deliveries:
            return list(self._vis_backends.values())
        return [b for b in self._vis_backends.values() if not isinstance(b, LoggerVisBackend)]

    def _send(self, method: str, *args: Any, step: int | None = None) -> None:
        for delivery in self._deliveries:
            delivery.call(method, *args, step=step)


class VisualizerLink:
    """A logger hook's connection to the runner's visualizer, for one run.

    Made in the hook's ``before_run`` with the backends the hook built:
    `extra_backends` are the visualizer's own backends that the hook does
    not have yet, for the hook to add (and close). `start` routes the
    visualizer's writes through the hook's deliveries; `stop`, before the
    hook closes them, routes them back.

    Args:
        runner: The runner; its ``visualizer`` attribute is used when it is a
            `Visualizer` (anything else, or none, links nothing).
        backends: The logger hook's backends.
    """

    def __init__(self, runner: Any, backends: Sequence[Any]) -> None:
        visualizer = getattr(runner, "visualizer", None)
        self.visualizer = visualizer if isinstance(visualizer, Visualizer) else None
        self.extra_backends: list[Any] = []
        self._json_dir = next(
            (b.save_dir for b in backends if isinstance(b, JsonBackend)), None
        )  # where `file_path` records go
        self._main_json = next((b.path for b in backends if isinstance(b, JsonBackend)), "")
        if self.visualizer is None:
            return
        for vis_backend in self._shared_backends():
            lent = vis_backend._lend(backends)
            if lent is not None:
                self.extra_backends.append(lent)

    def start(self, deliveries: Sequence[Delivery], workers: Sequence[BackendWorker]) -> None:
        """Route the visualizer's writes to `deliveries`, and its backends' to their workers."""
        if self.visualizer is None:
            return
        for vis_backend in self._shared_backends():
            vis_backend._route(workers)
        if self._json_dir is not None:
            self.visualizer._run_files = ScalarFiles(self._json_dir, self._main_json)
        self.visualizer._deliveries = tuple(deliveries)

    def stop(self) -> None:
        """Write directly again; the next write opens new backends (the hook closes these)."""
        visualizer = self.visualizer
        if visualizer is None or not visualizer._deliveries:
            return
        visualizer._deliveries = ()
        if visualizer._run_files is not None:
            visualizer._run_files.close()
            visualizer._run_files = None
        for vis_backend in self._shared_backends():
            vis_backend._give_back()

    def _shared_backends(self) -> list[LoggerVisBackend]:
        assert self.visualizer is not None
        return [
            b for b in self.visualizer._vis_backends.values() if isinstance(b, LoggerVisBackend)
        ]


def _build_vis_backends(vis_backends: Any, save_dir: str | None) -> dict[str, BaseVisBackend]:
    """MMEngine's reading of ``vis_backends``: configs built with ``<save_dir>/vis_data``."""
    if vis_backends is None:
        vis_backends = []
    if isinstance(vis_backends, (dict, BaseVisBackend)):
        vis_backends = [vis_backends]
    if not isinstance(vis_backends, (list, tuple)) or not all(
        isinstance(item, (dict, BaseVisBackend)) for item in vis_backends
    ):
        raise TypeError(
            "Visualizer vis_backends must be a list of config dicts or BaseVisBackend "
            f"objects, got {vis_backends!r}"
        )
    vis_dir = None if save_dir is None else osp.join(save_dir, "vis_data")
    built: dict[str, BaseVisBackend] = {}
    for item in vis_backends:
        name = None
        if isinstance(item, dict):
            cfg = dict(item)  # the caller's config stays as it is
            name = cfg.pop("name", None)
            cfg.setdefault("save_dir", vis_dir)
            if cfg["save_dir"] is None and _needs_save_dir(cfg.get("type")):
                warnings.warn(
                    f"Visualizer leaves out {cfg.get('type')}: it needs a folder; give the "
                    "Visualizer a save_dir (or the backend's config one)",
                    stacklevel=3,
                )
                continue
            item = VISBACKENDS.build(cfg)
        elif item._save_dir is None and _needs_save_dir(type(item)):
            warnings.warn(
                f"Visualizer leaves out {type(item).__name__}: it was built without the "
                "save_dir it needs",
                stacklevel=3,
            )
            continue
        name = name or type(item).__name__
        if name in built:
            raise RuntimeError(
                f"Visualizer vis_backends: two backends are called {name!r}; give one a "
                "'name' key in its config"
            )
        built[name] = item
    return built


def _needs_save_dir(backend_type: Any) -> bool:
    """Whether the vis backend class (or registered name) has a ``save_dir`` with no default."""
    import inspect

    cls = VISBACKENDS.get(backend_type) if isinstance(backend_type, str) else backend_type
    if not isinstance(cls, type):
        return False
    parameter = inspect.signature(cls).parameters.get("save_dir")
    return parameter is not None and parameter.default is inspect.Parameter.empty
