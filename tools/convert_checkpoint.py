"""Convert a sharded checkpoint folder (``save_format='dcp'``) to one ``.pth`` file, or back.

``python tools/convert_checkpoint.py iter_8.dcp iter_8.pth`` gathers every
shard into whole tensors and writes the runner's ``.pth`` layout (``meta``,
``state_dict``, ``optimizer`` numbered as ``torch.optim.Optimizer.state_dict``
numbers parameters, ``message_hub``, ``param_schedulers``, ``rng_state``...),
which ``load_checkpoint`` and ``Runner(load_from=..., resume=True)`` read on any
number of ranks. ``python tools/convert_checkpoint.py iter_8.pth iter_8.dcp``
writes a folder the runner loads or resumes as a sharded checkpoint, on any
number of ranks: the weights as shards, and the optimizer state as the ``.pth``
numbers it (a folder's own names parameters, and only the model knows the
names), which the resumed run's strategy loads as it loads a ``.pth``'s. Runs in
one process, no torchrun.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from hooks_core.checkpoint import (
    WHOLE_OPTIMIZER,
    is_sharded_checkpoint,
    load_checkpoint_file,
    numbered_optim_state,
    read_checkpoint,
    save_checkpoint,
    save_sharded,
)


def dcp_to_pth(folder: str, target: str) -> None:
    """Write the sharded checkpoint `folder` as one ``.pth`` file `target`, whole tensors."""
    import warnings

    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.default_planner import _EmptyStateDictLoadPlanner
    from torch.distributed.checkpoint.state_dict_loader import _load_state_dict

    tensors: dict[str, Any] = {}
    with warnings.catch_warnings():  # DCP says it loads in one process: it does
        warnings.simplefilter("ignore", UserWarning)
        _load_state_dict(tensors, storage_reader=FileSystemReader(folder),
                         planner=_EmptyStateDictLoadPlanner(), no_dist=True)  # fmt: skip
    checkpoint = read_checkpoint(folder)
    checkpoint.pop("rng_states", None)  # every rank's; the file keeps rank 0's ``rng_state``
    checkpoint["state_dict"] = tensors["state_dict"]
    if "optimizer" in tensors:
        checkpoint["optimizer"] = _whole_optimizer(tensors["optimizer"])
    elif WHOLE_OPTIMIZER in checkpoint:  # the folder was made from a .pth
        checkpoint["optimizer"] = checkpoint.pop(WHOLE_OPTIMIZER)
    save_checkpoint(checkpoint, target)


def _whole_optimizer(state: dict[str, Any]) -> dict[str, Any]:
    """A named optimizer state (or one per wrapper name) numbered as a ``.pth`` holds it."""
    if "param_groups" not in state:
        return {name: _whole_optimizer(part) for name, part in state.items()}
    extras = {k: v for k, v in state.items() if k not in ("state", "param_groups")}
    return {**numbered_optim_state(state), **extras}


def pth_to_dcp(source: str, folder: str) -> None:
    """Write the ``.pth`` checkpoint `source` as a sharded folder, its optimizer state as is."""
    checkpoint = load_checkpoint_file(source)
    if "optimizer" in checkpoint:
        checkpoint[WHOLE_OPTIMIZER] = checkpoint.pop("optimizer")
    save_sharded(checkpoint, folder)()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", help="a sharded folder (with .metadata) or a .pth file")
    parser.add_argument("target", help="the .pth file or the folder to write")
    args = parser.parse_args()
    if os.path.exists(args.target):
        parser.error(f"{args.target} exists: give a new name")
    convert = dcp_to_pth if is_sharded_checkpoint(args.source) else pth_to_dcp
    convert(args.source, args.target)
    print(f"wrote {args.target}")


if __name__ == "__main__":
    main()
