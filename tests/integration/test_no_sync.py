"""No device synchronisation on training iterations that do not log.

On a GPU, turning a tensor into a Python value (`item`, `float`, `bool`,
`tolist`, `numpy`, `cpu`) makes the host wait for the device. The runner, its
default hooks, `train_step`, the loss parsing and the optimizer wrapper must do
that only where the logger writes a record. There is no GPU here, so the test
watches every tensor operation from Python with a `TorchFunctionMode` between
the first hook of `before_train_iter` and the last of `after_train_iter`.
Copies to the model's device are not counted: on a CPU-only machine the data
preprocessor's ``.to(device)`` cannot be told from a copy to the host.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.overrides import TorchFunctionMode
from toy import ToyDataset, ToyModel

from hooks_core import Hook, Runner

# Tensor methods that return a host value, and so wait for the device.
SYNCING = frozenset(
    {"item", "tolist", "numpy", "cpu", "__float__", "__int__", "__bool__", "__index__",
     "__complex__", "__format__"}
)  # fmt: skip
BATCHES, INTERVAL = 10, 4  # the logger writes at batches 3 and 7 (ignore_last, as MMEngine)


class SyncRecorder(TorchFunctionMode):
    """Records the syncing tensor calls made while it is entered, by iteration."""

    def __init__(self) -> None:
        super().__init__()
        self.iteration = -1
        self.calls: dict[int, list[str]] = {}

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = getattr(func, "__name__", "")
        if name in SYNCING:
            self.calls.setdefault(self.iteration, []).append(name)
        return func(*args, **(kwargs or {}))


class StartWatching(Hook):
    priority = "HIGHEST"

    def __init__(self, recorder: SyncRecorder) -> None:
        self.recorder = recorder

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        self.recorder.iteration = runner.iter
        self.recorder.__enter__()


class StopWatching(Hook):
    priority = "LOWEST"

    def __init__(self, recorder: SyncRecorder) -> None:
        self.recorder = recorder

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        self.recorder.__exit__(None, None, None)


class ReadsTheLoss(Hook):
    """A hook that syncs at every iteration, as a careless user's would."""

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        self.last = float(outputs["loss"])


class TwoLosses(ToyModel):
    """The toy model with its loss split in two named terms and a logged accuracy-like value."""

    def forward(self, inputs: Any, targets: Any = None, mode: str = "tensor") -> Any:
        out = super().forward(inputs, targets, mode)
        if mode != "loss":
            return out
        loss = out["loss"]
        return {"loss_a": loss * 0.5, "loss_b": loss * 0.5, "error": loss.detach().sqrt()}


def train(tmp_path: Any, extra_hooks: list[Hook], **optim_wrapper: Any) -> SyncRecorder:
    recorder = SyncRecorder()
    runner = Runner(
        model=TwoLosses(dropout=0.0),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=ToyDataset(BATCHES * 4),
            batch_size=4,
            sampler=dict(type="DefaultSampler", shuffle=True),
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01, momentum=0.9), **optim_wrapper),
        param_scheduler=[
            dict(type="LinearLR", start_factor=0.5, by_epoch=False, begin=0, end=6),
            dict(type="MultiStepLR", by_epoch=True, milestones=[1], gamma=0.1),
        ],
        default_hooks=dict(
            logger=dict(type="LoggerHook", interval=INTERVAL),
            checkpoint=dict(type="CheckpointHook", interval=1),
        ),
        custom_hooks=[StartWatching(recorder), *extra_hooks, StopWatching(recorder)],
        randomness=dict(seed=0),
    )
    runner.train()
    return recorder


def logging_iterations() -> set[int]:
    per_epoch = {i for i in range(BATCHES) if (i + 1) % INTERVAL == 0}
    return {epoch * BATCHES + i for epoch in range(2) for i in per_epoch}


@pytest.mark.parametrize(
    "optim_wrapper",
    [
        {},
        {"clip_grad": {"max_norm": 1.0}},
        {"accumulative_counts": 2},
        {"type": "AmpOptimWrapper", "dtype": "bfloat16"},  # autocast on the CPU
    ],
    ids=["plain", "clip_grad", "accumulation", "amp_bfloat16"],
)
def test_only_logging_iterations_read_tensors(tmp_path: Any, optim_wrapper: Any) -> None:
    recorder = train(tmp_path, [], **optim_wrapper)
    synced = {iteration for iteration, calls in recorder.calls.items() if calls}
    assert synced - logging_iterations() == set(), recorder.calls
    assert synced == logging_iterations()  # the logger does read its values where it writes


def test_a_hook_that_reads_the_loss_every_iteration_is_caught(tmp_path: Any) -> None:
    recorder = train(tmp_path, [ReadsTheLoss()])
    quiet = set(range(2 * BATCHES)) - logging_iterations()
    assert all("__float__" in recorder.calls.get(iteration, []) for iteration in quiet)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: run the script itself")
def test_the_gpu_sync_counter_says_it_needs_a_gpu() -> None:
    script = Path(__file__).parents[2] / "tools" / "bench" / "cuda_sync.py"
    command = [sys.executable, str(script)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "needs a CUDA device" in done.stdout
