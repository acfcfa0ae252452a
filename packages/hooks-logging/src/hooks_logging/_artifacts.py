"""Which log files a tracking backend uploads at the end of a run."""

from __future__ import annotations

import os
import os.path as osp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["TRACKER_DIRS", "default_artifact_dir", "files_with_suffix"]

# The folders trackers keep their own files in (W&B's run folder with its debug and
# output logs, MLflow's store, DVCLive's and Neptune's data, Comet's offline zips,
# ClearML's offline session, Aim's repo, SwanLab's run folders): never a run's log files,
# so no backend uploads them as such, its own or another's.
TRACKER_DIRS = ("wandb", "mlruns", "mlartifacts", "dvclive", ".neptune", "neptune", "comet",
                "clearml", ".aim", "swanlog")  # fmt: skip


def default_artifact_dir(
    artifact_dir: str | os.PathLike[str] | None, save_dir: str | None
) -> str | None:
    """`artifact_dir`; by default the run's log dir when `save_dir` is its ``vis_data``.

    The logger hook gives backends ``<log_dir>/vis_data``; the log dir above
    holds the text log and ``vis_data/scalars.json``. Any other `save_dir` is
    its own artifact folder.
    """
    if artifact_dir is not None:
        return os.fspath(artifact_dir)
    if save_dir is None:
        return None
    if osp.basename(osp.normpath(save_dir)) == "vis_data":
        return osp.dirname(osp.normpath(save_dir))
    return save_dir


def files_with_suffix(root: str, suffixes: Sequence[str]) -> list[str]:
    """Files under `root` whose names end with one of `suffixes`, sorted; not in `TRACKER_DIRS`."""
    ends = tuple(suffixes)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in TRACKER_DIRS)
        found += [osp.join(folder, name) for name in sorted(files) if name.endswith(ends)]
    return found
