"""Process-wide settings a runner's ``env_cfg`` asks for: cuDNN, multiprocessing, open files."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["apply_env_cfg"]

_ENV_KEYS = {"cudnn_benchmark", "mp_cfg", "dist_cfg", "resource_limit"}
_MP_KEYS = {"mp_start_method", "opencv_num_threads"}


def apply_env_cfg(env_cfg: Mapping[str, Any]) -> None:
    """Apply ``cudnn_benchmark``, ``mp_cfg`` and ``resource_limit`` (``dist_cfg`` is the runner's).

    Unlike MMEngine, only what the config gives is set: no start method is
    forced on a program that did not ask for one.
    """
    unknown = set(env_cfg) - _ENV_KEYS
    if unknown:
        raise ValueError(
            f"env_cfg has keys {sorted(unknown)}; it takes {', '.join(sorted(_ENV_KEYS))}"
        )
    if env_cfg.get("cudnn_benchmark"):
        import torch

        torch.backends.cudnn.benchmark = True
    _set_multi_processing(dict(env_cfg.get("mp_cfg") or {}))
    _raise_open_file_limit(env_cfg.get("resource_limit", 4096))


def _set_multi_processing(mp_cfg: dict[str, Any]) -> None:
    unknown = set(mp_cfg) - _MP_KEYS
    if unknown:
        raise ValueError(
            f"env_cfg.mp_cfg has keys {sorted(unknown)}; it takes {', '.join(sorted(_MP_KEYS))}"
        )
    method = mp_cfg.get("mp_start_method")
    if method is not None and sys.platform != "win32":
        import multiprocessing

        if multiprocessing.get_start_method(allow_none=True) != method:
            multiprocessing.set_start_method(method, force=True)
    threads = mp_cfg.get("opencv_num_threads")
    if threads is not None:
        import importlib

        try:
            cv2 = importlib.import_module("cv2")
        except ImportError:
            return
        cv2.setNumThreads(threads)


def _raise_open_file_limit(limit: int) -> None:
    """Raise the soft limit of open files towards `limit` (dataloader workers share by fd)."""
    if sys.platform == "win32":
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(limit, soft)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if wanted != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
