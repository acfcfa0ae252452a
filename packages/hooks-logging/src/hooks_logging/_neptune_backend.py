"""`NeptuneBackend`: a Neptune run through the ``neptune`` 1.x client, offline by default.

Needs the ``neptune`` package, the ``hooks-logging[neptune]`` extra, imported
when a backend is built. Neptune's hosted service has been wound down, so the
practical use is offline mode: the client writes the operations it would send
to ``.neptune/offline/`` (or ``$NEPTUNE_DATA_DIRECTORY/offline/``), where they
can be read back (see the package README) or synced to a Neptune server that
still runs with ``neptune sync``.
"""

from __future__ import annotations

import math
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

__all__ = ["NeptuneBackend"]

MISSING_NEPTUNE = f"NeptuneBackend needs neptune: {pip_install('hooks-logging[neptune]')}"

# What the logger hook and its text log already record; a logger backend does not capture them.
_QUIET = dict(
    capture_stdout=False,
    capture_stderr=False,
    capture_traceback=False,
    capture_hardware_metrics=False,
)


@LOG_BACKENDS.register_module(name=["neptune", "NeptuneBackend"])
class NeptuneBackend(LoggerBackend):
    """Log to a Neptune run: scalars as series with their steps, the config, images, text.

    Args:
        init_kwargs: Arguments of ``neptune.init_run``. ``mode`` defaults to
            ``'offline'`` unless an API token is given (``api_token`` or the
            ``NEPTUNE_API_TOKEN`` environment variable); the capture of
            stdout, stderr, tracebacks and hardware metrics defaults to off
            (the text log has them).
        log_model: Which checkpoints offered by `log_checkpoint` are uploaded
            to ``model/checkpoints/<name>`` (a folder's files under it), each
            alias as ``model/<alias>_model_path``, Lightning's
            ``NeptuneLogger`` layout: ``False`` none, ``True`` the latest and
            best at `close`, ``'all'`` each one.

    What goes where:
        - `log_scalars`: ``run[name].append(value, step=step)``. Neptune wants
          the steps of each series to grow, so a value whose step is not above
          its series' last step is skipped. From the logger hook, that happens
          to the keys a validation record shares with training records (such
          as ``time``, ``data_time``, and ``epoch`` or ``iter``) once training
          logged them at that step or later: always when validation is logged
          at the epoch, as in epoch-based runs by default.
        - `log_config`: ``run['config'] = ...``, nested dicts as namespaces;
          values Neptune cannot store (lists, None) as strings.
        - `log_image`: ``run[name].append(File.as_image(...), step=step)``.
        - `log_text`: ``run[name].append(text, step=step)``, a string series.
        - `flush`: ``run.wait()``; `close`: ``run.stop()``.

    Resuming: offline, a run resumed from a checkpoint is a second Neptune
    run, and the checkpoint names none (`run_state` is None). The 1.x client
    cannot continue an offline run: ``init_run(with_id=...)`` raises
    ``RunNotFound`` (its offline backend knows no runs), ``custom_run_id``
    is written nowhere in the offline folder, and ``neptune sync`` registers
    each offline folder as a new run (``register_offline_container`` calls
    ``create_run`` with neither). Against a server, pass
    ``init_kwargs=dict(with_id='<the run's sys/id>')`` to continue a run;
    Neptune's hosted service is gone, so this is not done for you.

    Importing neptune 1.x raises ``DeprecationWarning``s from its bravado and
    jsonschema dependencies, which nobody using this backend can act on; they
    are silenced for that import only.

    Raises:
        ImportError: neptune is not installed; the message is the fix,
            ``pip install "hooks-logging[neptune]"``.
    """

    def __init__(
        self, init_kwargs: Mapping[str, Any] | None = None, log_model: bool | str = False
    ) -> None:
        neptune = _import_neptune()
        self.log_model = check_log_model(log_model)
        kwargs = {**_QUIET, **(init_kwargs or {})}
        if "mode" not in kwargs and not (
            kwargs.get("api_token") or os.environ.get("NEPTUNE_API_TOKEN")
        ):
            kwargs["mode"] = "offline"
        self.mode = kwargs.get("mode")
        self._neptune = neptune
        self._run = neptune.init_run(**kwargs)
        self._last_step: dict[str, float] = {}

    @classmethod
    def named_config(
        cls, config: dict[str, Any], name: str | None, tags: Sequence[str] = ()
    ) -> dict[str, Any]:
        """`config` whose ``init_kwargs`` give ``neptune.init_run`` the run's `name` and `tags`."""
        return named_init_kwargs(config, name, tags)

    @property
    def run(self) -> Any:
        """The ``neptune.Run``, for what the protocol does not cover."""
        return self._run

    @property
    def experiment(self) -> Any:
        """The Neptune run (Lightning's name for a logger's own object)."""
        return self._run

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Append each value to its series at `step` (unless the series is already there)."""
        self._check_open()
        for name, value in scalars.items():
            if step <= self._last_step.get(name, -math.inf):
                continue
            self._last_step[name] = step
            self._run[name].append(value, step=step)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Assign the config under ``config`` (unsupported values as strings)."""
        self._check_open()
        stringify = self._neptune.utils.stringify_unsupported
        self._run["config"] = stringify(_no_empty(jsonable(config)))

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Append `image` (see `LoggerBackend`) to the image series `name` at `step`."""
        self._check_open()
        from PIL import Image

        pixels = image_to_hwc_uint8(image)
        picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
        self._run[name].append(self._neptune.types.File.as_image(picture), step=step)

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """Append `text` to the string series `name` at `step`."""
        self._check_open()
        self._run[name].append(text, step=step)

    def flush(self) -> None:
        """Wait until the client wrote (offline) or sent everything logged so far."""
        if not self._closed:
            self._run.wait()

    def _upload_checkpoint(self, path: str, aliases: tuple[str, ...]) -> None:
        name = osp.splitext(osp.basename(osp.normpath(path)))[0]
        if osp.isdir(path):
            self._run[f"model/checkpoints/{name}"].upload_files(osp.join(path, "*"))
        else:
            self._run[f"model/checkpoints/{name}"].upload(path)
        for alias in aliases:
            self._run[f"model/{alias}_model_path"] = path

    def _close(self) -> None:
        self._upload_final_checkpoints()
        if self.end_status != "finished":  # Neptune's own mark of a failed run, and a tag
            self._run["sys/failed"] = True
            self._run["sys/tags"].add(self.end_status)
        self._run.stop()

    def __repr__(self) -> str:
        return f"NeptuneBackend(mode={self.mode!r})"


def _import_neptune() -> Any:
    import warnings

    with warnings.catch_warnings():
        # bravado-core and swagger-spec-validator use APIs that jsonschema deprecates.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(bravado|swagger)")
        warnings.filterwarnings("ignore", message=r".*jsonschema\.", category=DeprecationWarning)
        return import_tracker("neptune", "neptune.types", "neptune.utils", missing=MISSING_NEPTUNE)


def _no_empty(value: Any) -> Any:
    """Empty dicts as ``'{}'``: Neptune would create nothing for them."""
    if isinstance(value, dict):
        return {key: _no_empty(item) for key, item in value.items()} if value else "{}"
    return value
