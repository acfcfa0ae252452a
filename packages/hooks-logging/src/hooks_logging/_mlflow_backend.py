"""`MlflowBackend`: an MLflow run, in a local store or on a tracking server.

Needs the ``mlflow`` package, the ``hooks-logging[mlflow]`` extra, imported
when a backend is built. Only ``MlflowClient`` is used, never MLflow's
process-global active run, so several backends (and the user's own
``mlflow.start_run``) do not interfere.
"""

from __future__ import annotations

import os
import os.path as osp
import re
import time

from hooks_core import LOG_BACKENDS
from hooks_core.registry import pip_install

from ._artifacts import default_artifact_dir, files_with_suffix
from ._backend import (
    LoggerBackend,
    check_log_model,
    config_to_text,
    image_to_hwc_uint8,
    import_tracker,
    jsonable,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

__all__ = ["MlflowBackend"]

MISSING_MLFLOW = f"MlflowBackend needs mlflow: {pip_install('hooks-logging[mlflow]')}"
NEEDS_SQLITE = (
    "MlflowBackend's default store is a sqlite file in save_dir, which needs the full mlflow "
    f"(mlflow-skinny has no SQLAlchemy): {pip_install('hooks-logging[mlflow]')}, or give "
    "tracking_uri (a tracking server's URL)"
)

# MLflow's limits (mlflow.utils.validation), kept here so a new MLflow cannot make them crash.
MAX_KEY_LENGTH = 250
MAX_PARAM_LENGTH = 500  # MLflow 3 accepts 6000; older servers 500
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_BUFFERED_POINTS = 100_000  # while the store is unreachable; the oldest go first
_BAD_KEY_CHARS = re.compile(r"[^\w\-. /:]")  # MLflow allows alphanumerics and _ - . space / :


@LOG_BACKENDS.register_module(name=["mlflow", "MlflowBackend"])
class MlflowBackend(LoggerBackend):
    """Log to an MLflow run: metrics in batches, params, the config, images, and files.

    Args:
        save_dir: The folder of the default local store. Created if missing.
        exp_name: The experiment, created if missing. None: MLflow's
            ``Default`` experiment, or in the default local store
            ``'hooks-logging'`` (a new store's ``Default`` experiment keeps its
            artifacts in ``./mlruns`` of the current directory).
        run_name: The run's name; MLflow picks one when None.
        tags: Tags of the run.
        params: Params logged when the run starts.
        tracking_uri: Where runs go: a server (``http://host:5000``), a
            database (``sqlite:////abs/mlflow.db``) or ``file:`` store (which
            MLflow 3 only opens with ``MLFLOW_ALLOW_FILE_STORE=true``). None:
            the ``MLFLOW_TRACKING_URI`` environment variable, else a sqlite
            store ``save_dir/mlflow.db`` with artifacts in ``save_dir/mlartifacts``.
        artifact_suffix: At `close`, files under `artifact_dir` ending with
            one of these are logged as artifacts (under ``logs/``).
        tracked_config_keys: Which config keys become params (dotted paths
            such as ``'optim_wrapper.optimizer.lr'``); None: all of them.
        artifact_location: Where a newly created experiment keeps artifacts.
        artifact_dir: The folder whose log files are logged at `close`.
            None: the parent of `save_dir` when it is called ``vis_data`` (the
            logger hook's layout), else `save_dir`.
        checkpoint_dir: When given, the ``*.pth`` files there are logged under
            ``checkpoints/`` at `close` (the MMCV hook's ``log_model``).
        flush_interval: Seconds after which buffered metrics are sent on the
            next `log_scalars`; `flush` and `close` always send.
        log_model: Which checkpoints offered by `log_checkpoint` are logged
            under ``checkpoints/`` (a folder keeps its name), each alias as
            the run tag ``checkpoint_<alias>`` naming its artifact path:
            ``False`` none, ``True`` the latest and best at `close`, ``'all'``
            each one (Lightning's ``MLFlowLogger`` option).
        run_id: Continue this run of the store (set back to ``RUNNING``)
            instead of creating one; `exp_name`, `run_name` and
            `artifact_location` are then not used. A resumed training run
            passes the id saved in its checkpoint (see `run_state`).

    Metrics are buffered and sent with ``log_batch``, up to 1000 per request:
    over HTTP that is about 80 times cheaper than one request per metric.
    MLflow's rules never crash a run: metric and param names are cleaned
    (characters MLflow rejects become ``_``, at most 250 characters), nested
    configs are flattened to dotted names, long values are cut to 500
    characters, params go in requests of 100, and a param already logged
    with another value is left as it is (MLflow refuses to change one).

    A store that stops answering (a server that went away) does not lose
    metrics: they stay buffered (up to 100,000 points, the oldest dropped
    first) and `flush` raises, so the logger hook reports it and retries with
    back-off; `close` sends what is left and ends the run (``FINISHED``, or
    ``FAILED``/``KILLED`` as its status says) however little was logged. If
    points were dropped, `close` raises RuntimeError once the rest is sent,
    before logging the files and ending the run.

    Raises:
        ImportError: mlflow is not installed; the message is the fix,
            ``pip install "hooks-logging[mlflow]"``.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike[str] | None = None,
        exp_name: str | None = None,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        tracking_uri: str | None = None,
        artifact_suffix: str | Sequence[str] = (".json", ".log", ".py", "yaml"),
        tracked_config_keys: Sequence[str] | None = None,
        artifact_location: str | None = None,
        artifact_dir: str | os.PathLike[str] | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        flush_interval: float = 5.0,
        run_id: str | None = None,
        log_model: bool | str = False,
    ) -> None:
        mlflow = _import_mlflow()
        self.log_model = check_log_model(log_model)
        self.save_dir = None if save_dir is None else osp.abspath(os.fspath(save_dir))
        if tracking_uri is None:
            tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or None
        own_store = tracking_uri is None
        if own_store:
            _check_sqlite()
            folder = self.save_dir or osp.abspath("mlruns")
            os.makedirs(folder, exist_ok=True)
            tracking_uri = "sqlite:///" + osp.join(folder, "mlflow.db")
            if artifact_location is None:
                artifact_location = "file://" + osp.join(folder, "mlartifacts")
            if exp_name is None:
                exp_name = "hooks-logging"
        self.tracking_uri = tracking_uri
        self.exp_name = exp_name or "Default"
        self.artifact_suffix = (
            (artifact_suffix,) if isinstance(artifact_suffix, str) else tuple(artifact_suffix)
        )
        self.tracked_config_keys = (
            None if tracked_config_keys is None else list(tracked_config_keys)
        )
        self.artifact_dir = default_artifact_dir(artifact_dir, self.save_dir)
        self.checkpoint_dir = None if checkpoint_dir is None else os.fspath(checkpoint_dir)
        self.flush_interval = flush_interval
        self._entities = mlflow.entities
        self._client = mlflow.MlflowClient(tracking_uri=tracking_uri)
        run_tags = {_clean_key(str(k)): _cut(v) for k, v in (tags or {}).items()}
        self._params: dict[str, str] = {}
        if run_id is None:
            experiment_id = self._experiment_id(artifact_location)
            run = self._client.create_run(experiment_id, tags=run_tags, run_name=run_name)
        else:
            run = self._reopen(run_id, run_tags)
        self.run_id: str = run.info.run_id
        self._keys: dict[str, str] = {}
        self._buffer: list[Any] = []
        self._oldest = 0.0  # when the oldest buffered point was logged (monotonic)
        self._send_failed = False
        self._dropped = 0
        if params:
            self._log_params(_flatten(jsonable(params)))

    @property
    def client(self) -> Any:
        """The ``MlflowClient``, for what the protocol does not cover (use `run_id`)."""
        return self._client

    @property
    def experiment(self) -> Any:
        """The ``MlflowClient`` (Lightning's name for a logger's own object)."""
        return self._client

    def run_state(self) -> dict[str, Any]:
        """The run's id and its store: what `resume_config` continues."""
        return {"run_id": self.run_id, "tracking_uri": self.tracking_uri}

    @classmethod
    def resume_config(cls, config: dict[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
        """`config` continuing the run of `state`, in the store that holds it.

        The default store is a file in each run's own log folder, so the
        resumed run goes on writing to the first run's store. A `config` that
        names another store or run is left as it is.
        """
        if config.get("tracking_uri") not in (None, state["tracking_uri"]):
            return config
        if config.get("run_id") not in (None, state["run_id"]):
            return config
        return {**config, "tracking_uri": state["tracking_uri"], "run_id": state["run_id"]}

    @classmethod
    def named_config(
        cls, config: dict[str, Any], name: str | None, tags: Sequence[str] = ()
    ) -> dict[str, Any]:
        """`config` with `run_name` `name` unless it gives one, and each of `tags` as a run
        tag with an empty value (MLflow's tags are keys with values) beside its own."""
        named = dict(config)
        if name is not None:
            named["run_name"] = named.get("run_name") or name
        if tags:
            named["tags"] = {**dict.fromkeys(tags, ""), **(named.get("tags") or {})}
        return named

    def _experiment_id(self, artifact_location: str | None) -> str:
        """The id of experiment `exp_name`, created if missing."""
        experiment = self._client.get_experiment_by_name(self.exp_name)
        if experiment is not None:
            return str(experiment.experiment_id)
        created = self._client.create_experiment(self.exp_name, artifact_location=artifact_location)
        return str(created)

    def _reopen(self, run_id: str, tags: Mapping[str, str]) -> Any:
        """Run `run_id` set back to ``RUNNING``, its params kept so none is logged again."""
        try:
            run = self._client.get_run(run_id)
        except Exception as err:  # MlflowException: RESOURCE_DOES_NOT_EXIST
            raise ValueError(
                f"MlflowBackend(run_id={run_id!r}): {self.tracking_uri} has no such run ({err}); "
                "give the tracking_uri of the store that holds it, or no run_id for a new run"
            ) from err
        self._client.update_run(run_id, status="RUNNING")
        for key, value in tags.items():
            self._client.set_tag(run_id, key, value)
        self._params.update(run.data.params)
        return run

    # ------------------------------------------------------------ the protocol
    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Buffer the values as metrics at `step`; send when 1000 wait or `flush_interval` is up."""
        self._check_open()
        now = time.time()
        timestamp = int(now * 1000)
        if not self._buffer:
            self._oldest = time.monotonic()
        metric = self._entities.Metric
        self._buffer += [
            metric(self._key(key), float(value), timestamp, int(step))
            for key, value in self.without_own_axis(scalars).items()
        ]
        if len(self._buffer) > MAX_BUFFERED_POINTS:
            excess = len(self._buffer) - MAX_BUFFERED_POINTS
            del self._buffer[:excess]
            self._dropped += excess
        due = (
            len(self._buffer) >= MAX_METRICS_PER_BATCH
            or time.monotonic() - self._oldest >= self.flush_interval
        )
        if due and not self._send_failed:  # after a failure only `flush` retries
            try:
                self._send()
            except Exception:
                self._send_failed = True  # `flush` raises it, so the hook reports and retries

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Log the config as params (all, or `tracked_config_keys`) and as ``config.json``."""
        self._check_open()
        flat = _flatten(jsonable(config))
        if self.tracked_config_keys is not None:
            flat = {
                key: value for key, value in flat.items() if _tracked(key, self.tracked_config_keys)
            }
        self._log_params(flat)
        self._client.log_text(self.run_id, config_to_text(config), "config.json")

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Log `image` (see `LoggerBackend`) as the artifact ``images/<name>_<step>.png``."""
        self._check_open()
        self._client.log_image(
            self.run_id, image_to_hwc_uint8(image), f"images/{_file_name(name)}_{step}.png"
        )

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """Log `text` as the artifact ``text/<name>_<step>.txt``."""
        self._check_open()
        self._client.log_text(self.run_id, text, f"text/{_file_name(name)}_{step}.txt")

    def flush(self) -> None:
        """Send the buffered metrics; raises when the store is unreachable (they stay buffered)."""
        if not self._closed:
            self._send()
            self._send_failed = False

    def _close(self) -> None:
        self._send()
        self._upload_final_checkpoints()
        if self._dropped:
            raise RuntimeError(
                f"MlflowBackend dropped the {self._dropped} oldest metric values while the store "
                "was unreachable (the JSON log has them)"
            )
        if self.artifact_dir is not None:
            for path in files_with_suffix(self.artifact_dir, self.artifact_suffix):
                folder = osp.dirname(osp.relpath(path, self.artifact_dir))
                self._client.log_artifact(self.run_id, path, f"logs/{folder}" if folder else "logs")
        if self.checkpoint_dir is not None:
            for path in files_with_suffix(self.checkpoint_dir, (".pth",)):
                self._client.log_artifact(self.run_id, path, "checkpoints")
        # MLflow's statuses are the end statuses in capitals: FINISHED, FAILED, KILLED.
        self._client.set_terminated(self.run_id, self.end_status.upper())

    def _upload_checkpoint(self, path: str, aliases: tuple[str, ...]) -> None:
        name = osp.basename(osp.normpath(path))
        if osp.isdir(path):
            self._client.log_artifacts(self.run_id, path, f"checkpoints/{name}")
        else:
            self._client.log_artifact(self.run_id, path, "checkpoints")
        for alias in aliases:
            self._client.set_tag(self.run_id, f"checkpoint_{alias}", f"checkpoints/{name}")

    # ------------------------------------------------------------ helpers
    def _key(self, name: str) -> str:
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = _clean_key(name)
        return key

    def _send(self) -> None:
        """Send the buffer in batches of 1000, dropping each batch once MLflow took it."""
        while self._buffer:
            batch = self._buffer[:MAX_METRICS_PER_BATCH]
            self._client.log_batch(self.run_id, metrics=batch, synchronous=True)
            del self._buffer[: len(batch)]

    def _log_params(self, flat: Mapping[str, Any]) -> None:
        param = self._entities.Param
        new = {}
        for name, value in flat.items():
            key, text = _clean_key(name), _cut(value)
            if key not in self._params and key not in new:
                new[key] = text
        for chunk in _chunks(list(new.items()), MAX_PARAMS_PER_BATCH):
            self._client.log_batch(self.run_id, params=[param(k, v) for k, v in chunk])
            self._params.update(chunk)

    def __repr__(self) -> str:
        return f"MlflowBackend({self.tracking_uri!r}, run_id={self.run_id!r})"


def _import_mlflow() -> Any:
    return import_tracker("mlflow", "mlflow.entities", missing=MISSING_MLFLOW)


def _check_sqlite() -> None:
    import importlib

    try:  # MLflow's sqlite store imports it anyway
        importlib.import_module("sqlalchemy")
    except ImportError as err:
        raise ImportError(NEEDS_SQLITE) from err


def _clean_key(name: str) -> str:
    """`name` as MLflow accepts it: allowed characters only, no ``//`` or leading ``/``."""
    key = _BAD_KEY_CHARS.sub("_", name)
    while "//" in key:
        key = key.replace("//", "/")
    key = key.lstrip("/") or "_"
    return key[:MAX_KEY_LENGTH]


def _cut(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_PARAM_LENGTH else text[: MAX_PARAM_LENGTH - 3] + "..."


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (``{'a': {'b': 1}}`` -> ``{'a.b': 1}``); lists stay values."""
    if not isinstance(value, dict):
        return {prefix or "value": value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict) and item:
            flat.update(_flatten(item, name))
        else:
            flat[name] = item
    return flat


def _tracked(key: str, tracked: Iterable[str]) -> bool:
    return any(key == t or key.startswith(t + ".") for t in tracked)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _file_name(name: str) -> str:
    return re.sub(r"[^\w.\-]", "_", name)
