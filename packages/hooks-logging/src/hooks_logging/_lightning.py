"""`LightningLogger`: a PyTorch Lightning ``Logger`` that forwards to hooks-logging backends.

Importing this module imports Lightning (``lightning.pytorch`` when the
``lightning`` package is installed, else ``pytorch_lightning``); ``import
hooks_logging`` does not, and imports it only when ``LightningLogger`` is
first used. Extra: ``hooks-logging[lightning]``.
"""

from __future__ import annotations

import importlib
import os
import os.path as osp
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from hooks_core.registry import pip_install

from ._forwarding import Forwarder, load_tracker_runs, save_tracker_runs
from ._secrets import mask_secrets

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["LightningLogger"]

MISSING_LIGHTNING = (
    f"LightningLogger needs PyTorch Lightning: {pip_install('hooks-logging[lightning]')}"
)


def _lightning() -> Any:
    """``lightning.pytorch`` or ``pytorch_lightning``, whichever is installed (that order)."""
    for name in ("lightning.pytorch", "pytorch_lightning"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError(MISSING_LIGHTNING)


_pl = _lightning()
_Logger: Any = importlib.import_module(_pl.__name__ + ".loggers").Logger
_rank_zero_experiment: Any = importlib.import_module(
    _pl.__name__ + ".loggers.logger"
).rank_zero_experiment
_save_hparams_to_yaml: Any = importlib.import_module(
    _pl.__name__ + ".core.saving"
).save_hparams_to_yaml
_rank_zero: Any = importlib.import_module(_pl.__name__ + ".utilities.rank_zero").rank_zero_only
_jit_is_scripting: Any = importlib.import_module(_pl.__name__ + ".core.module")._jit_is_scripting
_F = TypeVar("_F", bound=Callable[..., Any])


def _rank_zero_only(method: _F) -> _F:
    """Lightning's ``rank_zero_only``: the method does nothing on other ranks."""
    return cast("_F", _rank_zero(method))


def _rank_zero_object(method: _F) -> _F:
    """Lightning's ``rank_zero_experiment``: other ranks get a stand-in accepting any call."""
    return cast("_F", _rank_zero_experiment(method))


class LightningLogger(_Logger):  # type: ignore[misc]  # Lightning's Logger base (typed Any here)
    """Forward a Lightning ``Trainer``'s metrics and hyperparameters to our backends.

    Args:
        backends: Backend names (``'mlflow'``), configs (``dict(type='wandb',
            init_kwargs=dict(project='p'))``) or `LoggerBackend` objects, as
            `LoggerHook`'s ``backends``. Configs without ``save_dir`` get
            `log_dir`.
        save_dir: The root folder of the runs (Lightning's ``save_dir``).
        name: The experiment's folder under `save_dir`.
        version: The run's folder under it; None: ``version_<n>`` with the
            next free n, as Lightning's own loggers do. A version that ran
            before continues its tracker runs (see below).
        queue_size, close_timeout: As in `LoggerHook`.
        default_hp_metric: Lightning's: `log_hyperparams` without metrics
            gives TensorBoard's HPARAMS tab the column ``hp_metric`` (-1 until
            a ``self.log('hp_metric', ...)``); other backends get no such record.
        log_graph: Lightning's: draw the model's graph in TensorBoard
            (`log_graph`, which the ``Trainer`` calls when ``fit`` starts).

    Each backend gets the records from a writer thread of its own, so a slow
    or failing backend (a tracking server that went away) does not slow or
    stop training. Only rank 0 logs (Lightning's ``rank_zero_only``), and the
    backends are built on rank 0 when the first record arrives.

    Resuming: the tracker runs (an MLflow run id, a W&B run id) are recorded
    in ``tracker_runs.json`` in `log_dir`, beside ``checkpoints/`` where
    ``ModelCheckpoint`` saves by default. A logger given the same `version`
    continues them, steps going on, so ``trainer.fit(model,
    ckpt_path=...)`` with ``LightningLogger(..., version=<the run's>)``
    makes one run per tracker, as TensorBoard's folder of that version does.
    The ids are not read from the ``.ckpt`` file: Lightning builds the
    loggers' runs (``logger.experiment`` in ``setup``) before it loads
    ``ckpt_path``, which is why its own loggers take ``id=``/``run_id=``.

    Lightning calls `finalize` at the end of ``fit`` and ``test``; it flushes
    every backend and waits for it. `close` (or the end of the process) ends
    the backends' runs; the logger can keep logging (``trainer.test`` after
    ``trainer.fit``) until then.

    Example:
        >>> logger = LightningLogger(["json", dict(type="mlflow", exp_name="demo")])
        >>> trainer = pl.Trainer(logger=logger, max_epochs=3)  # doctest: +SKIP
    """

    def __init__(
        self,
        backends: Sequence[Any],
        save_dir: str | os.PathLike[str] = "lightning_logs",
        name: str = "hooks",
        version: int | str | None = None,
        queue_size: int = 10_000,
        close_timeout: float = 60.0,
        default_hp_metric: bool = True,
        log_graph: bool = False,
    ) -> None:
        super().__init__()
        self._root = os.fspath(save_dir)
        self._name = name
        self._version = version
        self._forwarder = Forwarder(backends, queue_size=queue_size, close_timeout=close_timeout)
        self._default_hp_metric = default_hp_metric
        self._log_graph = log_graph
        self._step = 0  # for records without a step
        self._hparams: dict[str, Any] = {}  # every call's, merged: what the config shows
        self._offered: dict[str, list[str]] = {}  # checkpoint path -> aliases offered

    # ------------------------------------------------------------ where
    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> int | str:
        if self._version is None:
            self._version = _next_version(osp.join(self._root, self._name))
        return self._version

    @property
    def root_dir(self) -> str:
        return osp.join(self._root, self._name)

    @property
    def save_dir(self) -> str:
        return self._root

    @property
    def log_dir(self) -> str:
        """``save_dir/name/version``: where checkpoints and backends without ``save_dir`` go."""
        version = self.version
        return osp.join(
            self.root_dir, version if isinstance(version, str) else f"version_{version}"
        )

    @property
    def backends(self) -> list[Any]:
        """The backends, once built (on rank 0, at the first record)."""
        return self._forwarder.backends

    @property
    @_rank_zero_object
    def experiment(self) -> Any:
        """The first backend's own object (a W&B run, MLflow's client, ...); see `experiments`.

        On ranks other than 0, Lightning's stand-in that accepts any call.
        """
        return self.experiments[0]

    @property
    def experiments(self) -> list[Any]:
        """Every backend's own object (`LoggerBackend.experiment`), in order; built if needed."""
        self._start()
        return [getattr(backend, "experiment", backend) for backend in self.backends]

    # ------------------------------------------------------------ logging
    @_rank_zero_only
    def log_hyperparams(
        self,
        params: Any,
        metrics: Mapping[str, Any] | float | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Log the hyperparameters (a dict or an ``argparse.Namespace``) as the config.

        Successive calls add to the earlier ones (a key given again takes the
        new value), and the backends get the merged config; ``hparams.yaml``
        in `log_dir` has it too, as Lightning's own loggers write it.
        `metrics` (a number is ``{'hp_metric': number}``) are logged as a
        record at step 0, as Lightning's ``TensorBoardLogger`` does; TensorBoard
        backends also get the merged hyperparameters and the metric names for
        the HPARAMS tab (`TensorboardBackend.log_hyperparams`), with
        ``hp_metric=-1`` when no metrics are given and `default_hp_metric` is on.
        """
        self._start()
        self._hparams.update(_as_dict(params))
        self._forwarder.log_config(dict(self._hparams))
        os.makedirs(self.log_dir, exist_ok=True)
        _save_hparams_to_yaml(osp.join(self.log_dir, "hparams.yaml"), self._hparams)
        if metrics is not None and not isinstance(metrics, Mapping):
            metrics = {"hp_metric": metrics}
        numbers = {key: _number(value) for key, value in (metrics or {}).items()}
        columns = {"hp_metric": -1} if metrics is None and self._default_hp_metric else numbers
        if columns:  # without, `log_config` gave the tab everything it shows
            hparams = mask_secrets(dict(self._hparams))
            self._forwarder.call_where(_fills_hparams_tab, "log_hyperparams", hparams, columns)
        if numbers:  # the HPARAMS-tab backends log them themselves
            self._step = max(self._step, 1)
            self._forwarder.call_where(_other_than_tab, "log_scalars", numbers, 0, step=0)

    @_rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log the metrics as one record at `step` (the trainer's global step)."""
        self._start()
        if step is None:
            step = self._step
        self._step = max(self._step, step + 1)
        self._forwarder.log_scalars(
            {key: _number(value) for key, value in metrics.items()}, int(step)
        )

    @_rank_zero_only
    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Log an image (see `LoggerBackend`), e.g. from a ``LightningModule``."""
        self._start()
        self._forwarder.log_image(name, image, step)

    @_rank_zero_only
    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Draw `model`'s graph in TensorBoard's GRAPHS tab, when built with `log_graph` on.

        `input_array` is ``forward``'s input (a tensor, or a tuple of its
        arguments); None: ``model.example_input_array``, as Lightning's
        ``TensorBoardLogger``. Without either there is nothing to trace, and
        nothing is drawn. The model is traced here, on the caller's thread
        (training must not change it meanwhile), by each backend with a
        ``log_graph`` (TensorBoard's); other backends draw no graph.
        """
        if not self._log_graph:
            return
        if input_array is None:
            input_array = getattr(model, "example_input_array", None)
        if input_array is None:
            return
        self._start()
        drawing = [backend for backend in self.backends if hasattr(backend, "log_graph")]
        if not drawing:
            return
        if isinstance(model, _pl.LightningModule):  # its batch hooks, its device
            input_array = model._on_before_batch_transfer(input_array)
            input_array = model._apply_batch_transfer_handler(input_array)
        with _jit_is_scripting():  # Lightning's own: ``module.trainer`` may be read in tracing
            for backend in drawing:
                backend.log_graph(model, input_array)

    @_rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Offer what a ``ModelCheckpoint`` just saved to the backends with `log_model`.

        The newest of its files is ``latest`` and its best model ``best``, as
        Lightning's own loggers tag them; a file is offered again only when it
        gains an alias (it becomes the best).
        """
        self._start()
        paths = [
            *getattr(checkpoint_callback, "best_k_models", {}),
            getattr(checkpoint_callback, "last_model_path", ""),
            getattr(checkpoint_callback, "best_model_path", ""),
        ]
        found = sorted({p for p in paths if p and osp.isfile(p)}, key=osp.getmtime)
        best = getattr(checkpoint_callback, "best_model_path", "")
        for path in found:
            aliases = [
                name
                for name, chosen in (("latest", path == found[-1]), ("best", path == best))
                if chosen
            ]
            offered = self._offered.setdefault(path, [])
            if set(aliases) - set(offered):  # a new file, or newly the best
                offered += [name for name in aliases if name not in offered]
                self._forwarder.log_checkpoint(path, aliases)

    @_rank_zero_only
    def finalize(self, status: str) -> None:
        """Flush every backend and wait for it (the end of ``fit`` or ``test``).

        Lightning says ``'failed'`` when an exception (Ctrl-C included) ended
        the run: the backends are then closed with the ``failed`` status, so
        their runs show it. After ``'success'`` they stay open for a later
        ``test``; `close` (or the end of the process) ends them.
        """
        if status == "failed":
            self._forwarder.close("failed")
        else:
            self._forwarder.flush()

    def close(self, status: str = "finished") -> None:
        """Close the backends (end their runs as `status`); later records raise ValueError."""
        self._forwarder.close(status)

    def _start(self) -> None:
        """Build the backends, continuing the runs recorded in `log_dir`, and record theirs."""
        if self._forwarder.started:
            return
        self._forwarder.start(self.log_dir, tracker_runs=load_tracker_runs(self.log_dir))
        save_tracker_runs(self.log_dir, self._forwarder.run_states())


def _fills_hparams_tab(backend: Any) -> bool:
    """Whether `backend` has TensorBoard's HPARAMS tab (`TensorboardBackend.log_hyperparams`)."""
    return callable(getattr(backend, "log_hyperparams", None))


def _other_than_tab(backend: Any) -> bool:
    return not _fills_hparams_tab(backend)


def _next_version(root: str) -> int:
    if not osp.isdir(root):
        return 0
    taken = [int(m.group(1)) for d in os.listdir(root) if (m := re.fullmatch(r"version_(\d+)", d))]
    return max(taken, default=-1) + 1


def _as_dict(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict) and hasattr(params, "__dict__"):
        return dict(vars(params))
    return dict(params)


def _number(value: Any) -> Any:
    """A one-element tensor's ``.item()``; numbers as they are."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
