"""Publishing a checkpoint: a copy stripped to some keys, named after its sha256 like model zoos."""

from __future__ import annotations

import hashlib
import io
import os.path as osp

from hooks_core.checkpoint import load_checkpoint_file, write_atomically

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["publish_checkpoint"]


def publish_checkpoint(
    path: str, keys: Sequence[str], backend_args: Mapping[str, Any] | None = None
) -> tuple[str, list[str]]:
    """Write a copy of checkpoint `path` that holds only `keys`, as ``{stem}-{sha256[:8]}.pth``.

    The suffix is the start of the sha256 of the copy's bytes, so
    ``sha256sum`` of the published file checks its name. The copy is written
    atomically, next to `path`, which may be a URL with storage options `backend_args`.

    Returns:
        The published file's path, and the keys that were left out.
    """
    import torch

    checkpoint = load_checkpoint_file(path, backend_args=backend_args)
    removed = [key for key in checkpoint if key not in keys]
    buffer = io.BytesIO()
    torch.save({key: value for key, value in checkpoint.items() if key in keys}, buffer)
    data = buffer.getvalue()
    published = f"{osp.splitext(path)[0]}-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    write_atomically(published, lambda file: file.write(data), backend_args)
    return published, removed
