"""Epochs of the toy run with heavy checkpoints in an S3 work dir, in a process of its own.

Usage: ``URL BACKEND_ARGS_JSON MAX_EPOCHS``. The runner's own reads (``last_checkpoint``,
resume) take the server from fsspec's ``FSSPEC_S3_*`` environment variables. A test
SIGKILLs this process while one of its checkpoints is uploading.
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, os.pardir, "support")]

from eval_parts import Heavy, epochs, eval_runner_kwargs  # noqa: E402

from hooks_core import Runner  # noqa: E402


def main() -> None:
    url, backend_args, max_epochs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    checkpoint = dict(type="CheckpointHook", interval=1, backend_args=backend_args)
    kwargs = eval_runner_kwargs(url, model=Heavy(ballast_mib=24), train_cfg=epochs(max_epochs))
    Runner(**kwargs, default_hooks=dict(checkpoint=checkpoint), resume=True).train()


if __name__ == "__main__":
    main()
