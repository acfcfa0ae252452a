"""MMCV 1.x logger hook names, resolved to `LoggerHook` with the matching backend.

Configs written for MMCV name ``TextLoggerHook`` and ``TensorboardLoggerHook``
(often in ``log_config=dict(interval=..., hooks=[...])``). Here they are
logger hooks with MMCV's arguments; when a runner has several logger hooks they
merge into the first, so a migrated config prints each line once and writes to
every backend it lists.
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

__all__ = ["TextLoggerHook", "TensorboardLoggerHook"]


@HOOKS.register_module()
class TextLoggerHook(LoggerHook):
    """MMCV's text and JSON logger: the text and JSON logs, which every `LoggerHook` writes.

    Args:
        by_epoch: Accepted for MMCV configs; the train loop decides how lines count.
        interval, ignore_last, interval_exp_name, out_dir, keep_local: As in `LoggerHook`.
        reset_flag: Accepted for MMCV configs; nothing here needs resetting.
        out_suffix: MMCV's default names its ``.log.json`` files; here the JSON
            log is ``vis_data/scalars.json``, which ``.json`` matches.
        file_client_args: Not supported, as in `LoggerHook`.
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


def _with_json(suffixes: str | Sequence[str]) -> tuple[str, ...]:
    listed = (suffixes,) if isinstance(suffixes, str) else tuple(suffixes)
    return listed if ".json" in listed else (*listed, ".json")
