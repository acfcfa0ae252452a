"""`LoggerBackend`: what every logger backend implements, usable from any training loop.

A backend is a sink. It receives records that are already plain Python values
(the caller converts tensors once per record) and writes them somewhere: a
file, TensorBoard, a tracking service. It knows nothing of hooks or runners, so
a hand-written loop can use one directly::

    with JsonBackend('work_dirs/run1') as backend:
        for step in range(100):
            loss = train_one_step()
            backend.log_scalars({'loss': loss.item()}, step)

The helpers at the bottom (`image_to_hwc_uint8`, `config_to_text`) give every
backend the same reading of images and configs. numpy is imported only when
an image is logged.
"""

from __future__ import annotations

import abc
import os

TYPE_CHECKING = False  # `typing` costs more to import than this whole module
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import TracebackType
    from typing import Any

    import numpy as np
    from typing_extensions import Self

__all__ = [
    "LoggerBackend",
    "END_STATUSES",
    "exit_status",
    "image_to_hwc_uint8",
    "config_to_text",
    "jsonable",
]


class LoggerBackend(abc.ABC):
    """The protocol of a logger backend, with no-op defaults for what a backend cannot show.

    Subclasses implement `log_scalars`, and override `log_config`, `log_image`,
    `log_text` and `flush` where they can show or buffer those. Resources are
    released in `_close`, which `close` calls exactly once however often
    `close` itself is called (closing twice is fine). Logging to a closed
    backend raises ValueError, as writing to a closed file does.

    Values: `log_scalars` takes Python numbers (int, float, bool). NaN and
    infinities are logged as given, never dropped or rejected: a diverging loss
    is exactly what a log must show.

    Images: `log_image` accepts a numpy array or a tensor (anything with
    ``.detach()``/``.cpu()``/``.numpy()``), in one of these layouts:

    - ``(H, W)``: grayscale;
    - ``(H, W, C)`` with C in 1, 3, 4: channels last, as numpy, PIL and
      matplotlib use; this reading wins when both would fit, e.g. ``(3, 5, 3)``;
    - ``(C, H, W)`` with C in 1, 3, 4: channels first, as torch uses.

    uint8 values are taken as 0..255; floating-point values as 0..1 (scaled
    by 255 and clipped); other integer types as 0..255, clipped.

    Use as a context manager to close it at the end of a block::

        with TensorboardBackend('runs/exp') as backend:
            backend.log_scalars({'loss': 0.5}, step=1)
    """

    _closed: bool = False
    log_model: bool | str = False  # which checkpoints to upload; see `log_checkpoint`
    _final_checkpoints: dict[str, str] | None = None  # alias -> path, for ``log_model=True``
    end_status: str = "finished"  # how the run ended, set by `close` before `_close` runs
    _axes: Mapping[str, str] = {}  # name -> its step axis, from `define_step_axes`; replaced there

    # ------------------------------------------------------------ the protocol
    @abc.abstractmethod
    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Record the numbers in `scalars` (name to value) at `step`, as one record."""

    def log_summary(self, values: Mapping[str, float], step: int) -> None:
        """Record the run's end numbers (run time, throughput, the mean loss), seen once.

        Trackers with a run summary keep them there, out of the history (W&B,
        as transformers' integration does); elsewhere they are a record at `step`.
        """
        self.log_scalars(values, step)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Record the run's configuration; a no-op where the backend cannot show it.

        The config arrives already masked (no credentials); values that are not
        JSON types are shown by their ``repr``.
        """
        self._check_open()

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Record `image` under `name` at `step`; a no-op where the backend cannot show it.

        See the class docstring for the accepted shapes and value ranges.
        """
        self._check_open()

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """Record the string `text` under `name` at `step`; a no-op where not shown."""
        self._check_open()

    def define_step_axes(self, axes: Mapping[str, str]) -> None:
        """Declare, per scalar name, the record key that is its x axis (``'iter'``, ``'epoch'``).

        The logger hook calls this before the first record with a new name, and
        each of its records carries the axis value under that key, so trackers
        with several step axes (W&B's ``define_metric``) plot validation metrics
        against epochs and training scalars against iterations. Backends with
        one step axis remember the axes, to leave out of each record the key
        that is its own axis (`without_own_axis`).
        """
        self._check_open()
        self._axes = {**self._axes, **axes}

    def without_own_axis(self, scalars: Mapping[str, float]) -> Mapping[str, float]:
        """`scalars` without the key their names are plotted against: its value is the step.

        On a backend with one step axis, logging a validation record's ``epoch``
        at step = epoch beside training's ``epoch`` at step = iteration would make
        one curve that goes back and forth. Without declared axes, all is kept.
        """
        axes = self._axes
        own = {axes[name] for name in scalars if name in axes}
        return {name: value for name, value in scalars.items() if name not in own}

    def flush(self) -> None:
        """Make everything logged so far visible to readers (files, dashboards)."""
        return  # nothing is buffered by default

    # ------------------------------------------------------------ checkpoints as artifacts
    def log_checkpoint(self, path: str | os.PathLike[str], aliases: Sequence[str] = ()) -> None:
        """Offer the checkpoint at `path` (a file, or a folder like HF's ``checkpoint-N``).

        `aliases` tag it: ``'latest'`` for the newest, ``'best'`` for the best
        so far. Backends that keep files upload it as `log_model` says
        (Lightning's option): ``False`` never; ``True`` the latest and the best
        when the run ends; ``'all'`` each one now. Elsewhere a no-op.
        """
        self._check_open()
        if not self.log_model:
            return
        path = os.fspath(path)
        if self.log_model == "all":
            self._upload_checkpoint(path, tuple(aliases))
            return
        if self._final_checkpoints is None:
            self._final_checkpoints = {}
        for alias in aliases:
            self._final_checkpoints[alias] = path

    def _upload_final_checkpoints(self) -> None:
        """With ``log_model=True``: upload the latest and best checkpoints offered (`_close`)."""
        by_path: dict[str, list[str]] = {}
        for alias, path in (self._final_checkpoints or {}).items():
            by_path.setdefault(path, []).append(alias)
        for path, aliases in by_path.items():
            if os.path.exists(path):  # not removed since (max_keep_ckpts)
                self._upload_checkpoint(path, tuple(aliases))

    def _upload_checkpoint(self, path: str, aliases: tuple[str, ...]) -> None:
        """Store the checkpoint file or folder `path` with the run, tagged `aliases`."""
        raise NotImplementedError(f"{type(self).__name__} does not upload checkpoints")

    @property
    def experiment(self) -> Any:
        """The tracker's own object, as Lightning's ``logger.experiment``: this backend by default.

        A W&B or Neptune run, MLflow's client, TensorBoard's writer, DVCLive's
        ``Live``, for what the protocol does not cover.
        """
        return self

    # ------------------------------------------------------------ resuming a tracker's run
    def run_state(self) -> dict[str, Any] | None:
        """What a later process needs to continue this backend's run (a tracker's run id).

        The logger hook saves it in each checkpoint (``meta['tracker_runs']``),
        and a run resumed from that checkpoint builds the backend with
        `resume_config`, so the tracker shows one run, not one per restart.
        None (the default): there is no run to continue, e.g. for local files.
        """
        return None

    @classmethod
    def resume_config(cls, config: dict[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
        """`config` (this class's constructor arguments) changed to continue the run of `state`.

        `state` is what `run_state` returned in the process that saved the
        checkpoint. The default changes nothing.
        """
        return config

    # ------------------------------------------------------------ naming a tracker's run
    @classmethod
    def named_config(
        cls, config: dict[str, Any], name: str | None, tags: Sequence[str] = ()
    ) -> dict[str, Any]:
        """`config` (this class's constructor arguments) naming its run `name`, tagged `tags`.

        What the config gives itself wins; `name` None and empty `tags` change
        nothing. The framework adapters call it before building a backend (the
        Hugging Face callback with ``args.run_name``). The default changes
        nothing: the backend has no run to name.
        """
        return config

    def close(self, status: str = "finished") -> None:
        """Flush and release the backend's resources; calling it again does nothing.

        `status` says how the run ended: ``'finished'``, ``'failed'`` (an
        error stopped it) or ``'killed'`` (Ctrl-C, a stop signal). Trackers
        with a run status show it (MLflow ``FAILED``/``KILLED``, a non-zero W&B
        exit code, Neptune's ``sys/failed``); it is `end_status` in `_close`.
        Leaving a ``with`` block by an exception closes with ``'failed'``
        (``'killed'`` for Ctrl-C).

        Raises:
            ValueError: for another `status`.
        """
        if status not in END_STATUSES:
            raise ValueError(
                f"close(status={status!r}): a run ends as one of {', '.join(END_STATUSES)}"
            )
        if self._closed:
            return
        self._closed = True
        self.end_status = status
        self._close()

    @property
    def closed(self) -> bool:
        """Whether `close` has been called."""
        return self._closed

    # ------------------------------------------------------------ for subclasses
    def _close(self) -> None:
        """Release resources; runs once, from the first `close`. The default does nothing."""
        return

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{type(self).__name__} is closed; it cannot log any more")

    # ------------------------------------------------------------ context manager
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close(exit_status(exc))


def named_init_kwargs(
    config: dict[str, Any], name: str | None, tags: Sequence[str] = (), name_key: str = "name"
) -> dict[str, Any]:
    """`config` whose ``init_kwargs`` name the run `name` with `tags`, unless they give theirs.

    `LoggerBackend.named_config` of the trackers whose run starts with a call
    taking a name (as `name_key`) and ``tags``: ``wandb.init``,
    ``neptune.init_run``, Comet's ``ExperimentConfig``, ClearML's
    ``Task.init(task_name=...)``.
    """
    if name is None and not tags:
        return config
    init = dict(config.get("init_kwargs") or {})
    if name is not None:
        init.setdefault(name_key, name)
    if tags:
        init.setdefault("tags", list(tags))
    return {**config, "init_kwargs": init}


def import_tracker(*modules: str, missing: str) -> Any:
    """Import a tracker's package and the submodules a backend uses; return the package.

    Raises:
        ImportError: one of them is not installed; `missing` is the message (the
            ``pip install`` that fixes it), the original error its cause.
    """
    import importlib

    try:
        imported = [importlib.import_module(name) for name in modules]
    except ImportError as err:
        raise ImportError(missing) from err
    return imported[0]


def check_log_model(log_model: bool | str) -> bool | str:
    """`log_model` if it is ``False``, ``True`` or ``'all'`` (Lightning's values)."""
    if not (isinstance(log_model, bool) or log_model == "all"):
        raise ValueError(
            f"log_model={log_model!r}: give False (no checkpoints), True (the latest and the "
            "best, when the run ends) or 'all' (each checkpoint as it is saved)"
        )
    return log_model


# How a run can end, as `LoggerBackend.close` takes it.
END_STATUSES = ("finished", "failed", "killed")


def exit_status(exc: BaseException | None) -> str:
    """The end status of a run stopped by `exc`: none finished; Ctrl-C or a stop signal
    (the runner's `StopRequested` on SIGTERM) killed; any other exception failed."""
    from hooks_core.runtime import StopRequested

    if exc is None:
        return "finished"
    return "killed" if isinstance(exc, (KeyboardInterrupt, StopRequested)) else "failed"


# ------------------------------------------------------------ shared helpers
def image_to_hwc_uint8(image: Any) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Convert an image (see `LoggerBackend`) to a ``(H, W, C)`` uint8 numpy array.

    Raises:
        ValueError: the shape is none of ``(H, W)``, ``(H, W, C)``, ``(C, H, W)``
            with C in 1, 3, 4.
    """
    import numpy as np

    if hasattr(image, "detach"):  # a tensor; torch itself is never imported here
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]
    elif array.ndim == 3 and array.shape[2] in (1, 3, 4):
        pass
    elif array.ndim == 3 and array.shape[0] in (1, 3, 4):
        array = array.transpose(1, 2, 0)
    else:
        raise ValueError(
            f"cannot read an image of shape {array.shape}: expected (H, W), "
            "(H, W, C) or (C, H, W) with C = 1, 3 or 4 channels"
        )
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype == np.bool_:
        array = array.astype(np.float64)
    if np.issubdtype(array.dtype, np.floating):
        array = np.nan_to_num(array.astype(np.float64), nan=0.0) * 255.0
    elif not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"cannot read an image of dtype {array.dtype}; give numbers")
    return np.ascontiguousarray(np.clip(np.rint(array), 0, 255).astype(np.uint8))


def jsonable(value: Any) -> Any:
    """`value` with containers made JSON-friendly: mappings to dicts (keys str-able), sequences
    to lists, numbers and strings as they are, and anything else as its ``repr``."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict) or _is_mapping(value):
        return {
            key if isinstance(key, (str, int, float, bool)) or key is None else repr(key): (
                jsonable(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return repr(value)


def config_to_text(config: Mapping[str, Any]) -> str:
    """The config as indented JSON, the form every text-showing backend uses."""
    import json

    return json.dumps(jsonable(config), indent=2)


def _is_mapping(value: object) -> bool:
    from collections.abc import Mapping

    return isinstance(value, Mapping)
