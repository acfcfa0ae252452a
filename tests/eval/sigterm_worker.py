"""A run with validation, checkpoints and early stopping, in its own process, for SIGTERM tests.

Usage: ``WORK_DIR {epoch,iter} OUT [--term-at N] [--resume]``. It sends itself SIGTERM
once iteration N is done (a real signal, handled as a scheduler's would be), appends
each validation's ``[iteration, score]`` to ``OUT.val``, and at the end saves the
weights and the iteration count to OUT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, os.pardir, "support")]

import torch  # noqa: E402
from eval_parts import ScriptedMetric, scripted_runner  # noqa: E402

from hooks_core import Hook  # noqa: E402

# Iteration-based: validated every 5 iterations, better at 5 and 10, then not: with
# patience 2 the run stops after iteration 20's validation. Epoch-based (5 iterations
# an epoch): the same scores by epoch, stopping after epoch 4.
SCORES = {1: 0.5, 2: 0.7, 3: 0.6, 4: 0.65, 5: 0.9, 6: 0.95, 7: 0.97, 8: 0.99, 9: 0.995, 10: 1.0}


class TerminateAt(Hook):
    """Send this process SIGTERM once training iteration `at` is done."""

    def __init__(self, at: int) -> None:
        self.at = at

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:  # fmt: skip
        if runner.iter + 1 == self.at:
            os.kill(os.getpid(), signal.SIGTERM)


class RecordValidations(Hook):
    """Append ``[iteration, score]`` after each validation to a file that outlives the process."""

    def __init__(self, path: str) -> None:
        self.path = path

    def after_val_epoch(self, runner: Any, metrics: Any = None) -> None:
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps([runner.iter, metrics["acc"]]) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work_dir")
    parser.add_argument("mode", choices=["epoch", "iter"])
    parser.add_argument("out")
    parser.add_argument("--term-at", type=int)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(1)
    by_epoch = args.mode == "epoch"
    scores = SCORES if by_epoch else {5 * step: score for step, score in SCORES.items()}
    hooks: list[Any] = [
        dict(type="EarlyStoppingHook", monitor="acc", patience=2, min_delta=0.01),
        RecordValidations(args.out + ".val"),
    ]
    if args.term_at is not None:
        hooks.append(TerminateAt(args.term_at))
    train_cfg = (
        dict(by_epoch=True, max_epochs=10, val_interval=1)
        if by_epoch
        else dict(by_epoch=False, max_iters=50, val_interval=5)
    )
    runner = scripted_runner(
        args.work_dir,
        [ScriptedMetric(scores, "acc")],
        hooks,
        checkpoint=dict(
            type="CheckpointHook",
            interval=1 if by_epoch else 5,
            by_epoch=by_epoch,
            max_keep_ckpts=2,
        ),
        train_cfg=train_cfg,
        resume=args.resume,
    )
    runner.train()
    torch.save({"iter": runner.iter, "weights": runner.model.state_dict()}, args.out)


if __name__ == "__main__":
    main()
