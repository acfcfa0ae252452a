"""What the checkpoint hooks share: where checkpoints go, and state recorded inside them."""

from __future__ import annotations

import os
import os.path as osp
import posixpath

from hooks_core.checkpoint import is_url, remove_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["out_dir_of", "record_in_checkpoint", "remove_file"]


def out_dir_of(runner: Any, out_dir: str | os.PathLike[str] | None) -> str:
    """The work dir, or ``out_dir/<name of the work dir>`` as in MMEngine (unless the same).

    The work dir is where the runner keeps checkpoints (its `checkpoint_dir`:
    the URL a URL work_dir was). Either folder may be a URL.
    """
    work_dir = str(getattr(runner, "checkpoint_dir", runner.work_dir))
    if out_dir is None or _normalized(os.fspath(out_dir)) == _normalized(work_dir):
        return work_dir
    folder, name = os.fspath(out_dir), _normalized(work_dir).rpartition("/")[2]
    return posixpath.join(folder, name) if is_url(folder) else osp.join(folder, name)


def _normalized(folder: str) -> str:
    """`folder` without a trailing separator (and, for a local path, without ``..``)."""
    return folder.rstrip("/") if is_url(folder) else osp.normpath(folder)


def record_in_checkpoint(checkpoint: dict[str, Any], info: dict[str, Any]) -> None:
    """Set runtime info in the checkpoint's copy of the message hub, for a resumed run to find.

    The live hub changes only once the checkpoint is written; the checkpoint
    itself must already hold the state it completes.
    """
    hub = checkpoint["message_hub"]
    hub["runtime_info"].update(info)
    hub["resumed_keys"].update(dict.fromkeys(info, True))
