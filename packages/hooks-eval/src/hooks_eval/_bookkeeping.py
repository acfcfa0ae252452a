"""What the checkpoint hooks share: where checkpoints go, and state recorded inside them."""

from __future__ import annotations

import contextlib
import os
import os.path as osp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["out_dir_of", "record_in_checkpoint", "remove_file"]


def out_dir_of(runner: Any, out_dir: str | os.PathLike[str] | None) -> str:
    """The work dir, or ``out_dir/<name of the work dir>`` as in MMEngine (unless the same)."""
    work_dir = str(runner.work_dir)
    if out_dir is None or osp.normpath(os.fspath(out_dir)) == osp.normpath(work_dir):
        return work_dir
    return osp.join(os.fspath(out_dir), osp.basename(osp.normpath(work_dir)))


def record_in_checkpoint(checkpoint: dict[str, Any], info: dict[str, Any]) -> None:
    """Set runtime info in the checkpoint's copy of the message hub, for a resumed run to find.

    The live hub changes only once the checkpoint is written; the checkpoint
    itself must already hold the state it completes.
    """
    hub = checkpoint["message_hub"]
    hub["runtime_info"].update(info)
    hub["resumed_keys"].update(dict.fromkeys(info, True))


def remove_file(path: str) -> bool:
    """Remove a checkpoint this hook replaced; one already gone is fine. True if it was there."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
        return True
    return False
