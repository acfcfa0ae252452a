"""MMCV 1.x logger hook names, resolved to `LoggerHook` with the matching backend.

Configs written for MMCV name ``TextLoggerHook``, ``TensorboardLoggerHook``,
``WandbLoggerHook``, ``MlflowLoggerHook``, ``NeptuneLoggerHook``,
``DvcliveLoggerHook`` and ``ClearMLLoggerHook`` (often in
``log_config=dict(interval=..., hooks=[...])``). Here they are
logger hooks with MMCV's arguments; when a runner has several logger hooks they
merge into the first, so a migrated config prints each line once and writes to
every backend it lists. Every hook's options take effect: the backend options
(``log_dir``, ``init_kwargs``...) in its backend, the copy options (``out_dir``,
``out_suffix``, ``keep_local``) in its own copy at the end of the run, and the
options of the one log (``interval``, ``ignore_last``, ``interval_exp_name``)
from whichever hook sets them, an error if two set different values (see
`LoggerHook`). They work on MMCV's runners (`EpochBasedRunner`,
`IterBasedRunner`, reading ``runner.log_buffer`` as MMCV's do) and on `Runner`.
"""

from __future__ import annotations

import os
import os.path as osp

from hooks_core import HOOKS

from ._logger_hook import LoggerHook

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = [
    "TextLoggerHook",
    "TensorboardLoggerHook",
    "WandbLoggerHook",
    "MlflowLoggerHook",
    "NeptuneLoggerHook",
    "DvcliveLoggerHook",
    "ClearMLLoggerHook",
]


class _TrackerLoggerHook(LoggerHook):
    """A `LoggerHook` that logs to one tracker besides its defaults: `backend_config`'s."""

    backend_config: dict[str, Any]  # set by each MMCV hook from its own arguments

    def _backend_configs(self, runner: Any) -> list[Any]:
        return [*super()._backend_configs(runner), dict(self.backend_config)]


@HOOKS.register_module()
class TextLoggerHook(LoggerHook):
    """MMCV's text and JSON logger: the text and JSON logs, which every `LoggerHook` writes.

    Args:
        by_epoch: Accepted for MMCV configs; the train loop decides how lines count.
        interval, ignore_last, interval_exp_name, keep_local: As in `LoggerHook`.
        reset_flag: Accepted for MMCV configs: the logger always clears the
            log buffer's output once it has logged it.
        out_dir: Copy the files of `work_dir` (and its folders) ending with
            `out_suffix` to ``out_dir/<work_dir name>/`` at the end of the run,
            MMCV's rule (`LoggerHook` copies the run's log folder only).
        out_suffix: MMCV's ``.log.json`` names its JSON log; here the JSON
            logs are ``vis_data/scalars.json`` and ``<timestamp>.json``, so
            ``.json`` is added to suffixes that list ``.log.json``.
        file_client_args: As in `LoggerHook`: local disk only, the older name of backend_args.
    """

    def __init__(
        self,
        by_epoch: bool = True,
        interval: int = 10,
        ignore_last: bool = True,
        reset_flag: bool = False,
        interval_exp_name: int = 1000,
        out_dir: str | os.PathLike[str] | None = None,
        out_suffix: str | Sequence[str] = (".log.json", ".log", ".py"),
        keep_local: bool = True,
        file_client_args: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            interval=interval,
            ignore_last=ignore_last,
            interval_exp_name=interval_exp_name,
            out_dir=out_dir,
            out_suffix=_with_json(out_suffix),
            keep_local=keep_local,
            file_client_args=file_client_args,
        )

    def _logs_root(self, runner: Any) -> str:
        return str(runner.work_dir)


@HOOKS.register_module()
class TensorboardLoggerHook(LoggerHook):
    """MMCV's TensorBoard logger: a `LoggerHook` with the ``'tensorboard'`` backend.

    Args:
        log_dir: Where the event files go; MMCV's default, ``<work_dir>/tf_logs``,
            when None.
        interval, ignore_last: As in `LoggerHook`.
        reset_flag, by_epoch: Accepted for MMCV configs; the train loop decides
            how lines count, and steps are always iterations, as in MMCV.

    Raises:
        ImportError: when the run starts without tensorboard; the message says
            ``pip install "hooks-logging[tensorboard]"``.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        interval: int = 10,
        ignore_last: bool = True,
        reset_flag: bool = False,
        by_epoch: bool = True,
    ) -> None:
        super().__init__(interval=interval, ignore_last=ignore_last, log_metric_by_epoch=False)
        self.log_dir = None if log_dir is None else os.fspath(log_dir)

    def _backend_configs(self, runner: Any) -> list[Any]:
        save_dir = self.log_dir or osp.join(runner.work_dir, "tf_logs")
        return [*super()._backend_configs(runner), {"type": "tensorboard", "save_dir": save_dir}]


@HOOKS.register_module()
class WandbLoggerHook(_TrackerLoggerHook):
    """MMCV's W&B logger: a `LoggerHook` with the ``'wandb'`` backend (`WandbBackend`).

    Args:
        init_kwargs: Arguments of ``wandb.init``.
        interval, ignore_last: As in `LoggerHook`.
        reset_flag, by_epoch: Accepted for MMCV configs.
        commit, with_step: Accepted for MMCV configs: records are always
            logged with a step that never goes backwards (see `WandbBackend`).
        log_artifact: Log the run's log files as an artifact at the end.
        out_suffix: Suffixes of the files in that artifact.
        define_metric_cfg: As in `WandbBackend`.

    Steps are iterations, as in MMCV. The backend is built when the run
    starts; without wandb that raises ImportError naming
    ``pip install "hooks-logging[wandb]"``.
    """

    def __init__(
        self,
        init_kwargs: dict[str, Any] | None = None,
        interval: int = 10,
        ignore_last: bool = True,
        reset_flag: bool = False,
        commit: bool = True,
        by_epoch: bool = True,
        with_step: bool = True,
        log_artifact: bool = True,
        out_suffix: str | Sequence[str] = (".log.json", ".log", ".py"),
        define_metric_cfg: dict[str, str] | None = None,
    ) -> None:
        super().__init__(interval=interval, ignore_last=ignore_last, log_metric_by_epoch=False)
        self.backend_config = {
            "type": "wandb",
            "init_kwargs": init_kwargs,
            "log_artifact": log_artifact,
            "out_suffix": _with_json(out_suffix),
            "define_metric_cfg": define_metric_cfg,
        }


@HOOKS.register_module()
class MlflowLoggerHook(LoggerHook):
    """MMCV's MLflow logger: a `LoggerHook` with the ``'mlflow'`` backend (`MlflowBackend`).

    Args:
        exp_name, tags, params: As in `MlflowBackend`.
        log_model: Log the run's checkpoints (``work_dir/*.pth``) as artifacts
            at the end. MMCV called ``mlflow.pytorch.log_model``, which pickles
            the model object; checkpoints load without the model's code.
        interval, ignore_last: As in `LoggerHook`.
        reset_flag, by_epoch: Accepted for MMCV configs.

    The run goes to ``MLFLOW_TRACKING_URI`` when set, as in MMCV, else to a
    sqlite store in ``<log_dir>/vis_data``. Steps are iterations, as in MMCV.
    """

    def __init__(
        self,
        exp_name: str | None = None,
        tags: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        log_model: bool = True,
        interval: int = 10,
        ignore_last: bool = True,
        reset_flag: bool = False,
        by_epoch: bool = True,
    ) -> None:
        super().__init__(interval=interval, ignore_last=ignore_last, log_metric_by_epoch=False)
        self.backend_config = {
            "type": "mlflow",
            "exp_name": exp_name,
            "tags": tags,
            "params": params,
        }
        self.log_model = log_model

    def _backend_configs(self, runner: Any) -> list[Any]:
        config = dict(self.backend_config)
        if self.log_model:
            config["checkpoint_dir"] = runner.work_dir
        return [*super()._backend_configs(runner), config]


@HOOKS.register_module()
class NeptuneLoggerHook(_TrackerLoggerHook):
    """MMCV's Neptune logger: a `LoggerHook` with the ``'neptune'`` backend (`NeptuneBackend`).

    Args:
        init_kwargs: Arguments of ``neptune.init_run``; offline mode unless an
            API token is given.
        interval, ignore_last: As in `LoggerHook`.
        reset_flag, with_step, by_epoch: Accepted for MMCV configs; values are
            always logged with their step, which is the iteration, as in MMCV.
    """

    def __init__(
        self,
        init_kwargs: dict[str, Any] | None = None,
        interval: int = 10,
        ignore_last: bool = True,
        reset_flag: bool = True,
        with_step: bool = True,
        by_epoch: bool = True,
    ) -> None:
        super().__init__(interval=interval, ignore_last=ignore_last, log_metric_by_epoch=False)
        self.backend_config = {"type": "neptune", "init_kwargs": init_kwargs}


@HOOKS.register_module()
class DvcliveLoggerHook(_TrackerLoggerHook):
    """MMCV's DVCLive logger: a `LoggerHook` with the ``'dvclive'`` backend (`DvcliveBackend`).

    Args:
        model_file: When given, the checkpoint is saved to this path after
            every training epoch (MMCV's option).
        interval, ignore_last: As in `LoggerHook`.
        reset_flag, by_epoch: Accepted for MMCV configs.
        dvclive: A ``dvclive.Live`` to log to instead of making one.
        **kwargs: Arguments of ``dvclive.Live`` (``dir`` defaults to
            ``<log_dir>/vis_data/dvclive``; MMCV's ``Live()`` wrote to
            ``./dvclive``).
    """

    def __init__(
        self,
        model_file: str | os.PathLike[str] | None = None,
        interval: int = 10,
        ignore_last: bool = True,
        reset_flag: bool = False,
        by_epoch: bool = True,
        dvclive: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(interval=interval, ignore_last=ignore_last, log_metric_by_epoch=False)
        self.model_file = None if model_file is None else os.fspath(model_file)
        self.backend_config = {"type": "dvclive", "init_kwargs": kwargs, "live": dvclive}

    def after_train_epoch(self, runner: Any) -> None:
        super().after_train_epoch(runner)
        if self.model_file is not None:  # on every rank: saving may use collectives
            folder, name = osp.split(osp.abspath(self.model_file))
            runner.save_checkpoint(folder, name)


@HOOKS.register_module()
class ClearMLLoggerHook(_TrackerLoggerHook):
    """MMCV's ClearML logger: a `LoggerHook` with the ``'clearml'`` backend (`ClearMLBackend`).

    Args:
        init_kwargs: Arguments of ``clearml.Task.init``; offline mode unless
            ClearML has credentials for a server.
        interval, ignore_last: As in `LoggerHook`.
        reset_flag, by_epoch: Accepted for MMCV configs; steps are
            iterations, as in MMCV.
    """

    def __init__(
        self,
        init_kwargs: dict[str, Any] | None = None,
        interval: int = 10,
        ignore_last: bool = True,
        reset_flag: bool = False,
        by_epoch: bool = True,
    ) -> None:
        super().__init__(interval=interval, ignore_last=ignore_last, log_metric_by_epoch=False)
        self.backend_config = {"type": "clearml", "init_kwargs": init_kwargs}


def _with_json(suffixes: str | Sequence[str]) -> tuple[str, ...]:
    """`suffixes` with ``.json`` added when they name MMCV's JSON log, ``.log.json``."""
    listed = (suffixes,) if isinstance(suffixes, str) else tuple(suffixes)
    return (*listed, ".json") if ".log.json" in listed and ".json" not in listed else listed
