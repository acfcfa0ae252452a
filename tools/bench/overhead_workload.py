"""One training job of the overhead benchmark, run in its own process by runner_overhead.py.

Every variant trains the same model (an MLP 32->32->10 whose forward returns
`loss_keys` loss terms) on the same 3,200 samples held in memory (50 batches of
64, so an epoch is 50 iterations), with SGD and momentum, a MultiStepLR stepped
each epoch, a log record every 50 iterations and a checkpoint at each epoch's
end, on the CPU with one thread (``--no-checkpoint``: without the checkpoint):

* ``indexed``: a hand-written loop indexing batches out of the tensors;
* ``dataloader``: the same loop over a shuffling ``torch.utils.data.DataLoader``;
* ``durable``: that loop with its checkpoint written the way a crash cannot
  damage it (`durable_save`), which is what the runners' own saves are up against;
* ``hooks``: `hooks_core.Runner` with its default hooks (logger at interval 50,
  checkpoint every epoch) and `extra_hooks` custom hooks, three of which act at
  every iteration;
* ``mmengine``: MMEngine's `Runner`, configured like ours;
* ``lightning``: PyTorch Lightning's `Trainer` (CSV logger, a checkpoint per epoch,
  the learning-rate monitor, no progress bar, no model summary).

After each iteration the job calls a `Pacer`. At every block of iterations
(one epoch) the pacer either reports the block's CPU and wall time over a pipe
and waits for its turn to go on (``--mode lockstep``: the parent runs the jobs
one block at a time, in turn, so all of them see the same machine), or it
starts and stops callgrind's count around the measured blocks (``--mode
instructions``). The first and last reports carry the set-up time and the
process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

STARTED = time.perf_counter()  # before torch and the framework are imported: set-up includes them

SEED = 0
IN, HIDDEN, CLASSES = 32, 32, 10
BATCH = 64
BLOCK = 50  # iterations per epoch, per log record and per report
SAMPLES = BLOCK * BATCH
LR, MOMENTUM, MILESTONES, GAMMA = 0.01, 0.9, (20, 40), 0.1
ACTING_HOOKS = 3  # of the extra custom hooks, how many act at every iteration


@dataclass(frozen=True)
class Spec:
    """What one job trains: its variant, length, the two scaling knobs and the checkpoint."""

    variant: str
    iters: int
    loss_keys: int = 1
    extra_hooks: int = 0
    checkpoint: bool = True  # False: no checkpoint at all (the split of the overhead)

    @property
    def epochs(self) -> int:
        return self.iters // BLOCK


class Pacer:
    """Called after every iteration; acts at the end of each block of `BLOCK` iterations."""

    def __init__(self, mode: str, channel: tuple[TextIO, TextIO], measured: range) -> None:
        self.mode, self.measured = mode, measured
        self.reader, self.writer = channel
        self.done = 0
        self.setup_seconds = 0.0
        self.cpu = self.wall = 0

    def tick(self) -> None:
        self.done += 1
        if self.done == 1:
            self.setup_seconds = time.perf_counter() - STARTED
        if self.done % BLOCK == 0:
            self._boundary(self.done // BLOCK)

    def _boundary(self, block: int) -> None:
        cpu, wall = time.process_time_ns(), time.perf_counter_ns()
        if self.mode == "instructions":
            from callgrind_region import start, stop

            if block == self.measured.start:
                start()
            elif block == self.measured.stop:
                stop()
            return
        report: dict[str, Any] = {
            "block": block,
            "cpu_ns": cpu - self.cpu,
            "wall_ns": wall - self.wall,
        }
        if block == 1:
            report["setup_seconds"] = self.setup_seconds
        self.send(report)
        if self.reader.readline().strip() != "go":
            raise SystemExit("the benchmark's parent went away")
        self.cpu, self.wall = time.process_time_ns(), time.perf_counter_ns()

    def send(self, message: dict[str, Any]) -> None:
        self.writer.write(json.dumps(message) + "\n")
        self.writer.flush()


# ---------------------------------------------------------------- shared parts
def make_data() -> tuple[Any, Any]:
    import torch

    generator = torch.Generator().manual_seed(SEED)
    inputs = torch.randn(SAMPLES, IN, generator=generator)
    labels = torch.randint(0, CLASSES, (SAMPLES,), generator=generator)
    return inputs, labels


def make_net() -> Any:
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    return nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))


def loss_terms(logits: Any, labels: Any, keys: int) -> dict[str, Any]:
    """Cross-entropy as `keys` weighted terms (one term: ``{'loss': ce}``)."""
    from torch.nn import functional as F

    loss = F.cross_entropy(logits, labels)
    if keys == 1:
        return {"loss": loss}
    return {f"loss_{i}": loss * (1.0 / keys) for i in range(keys)}


def runner_model(base: type, net: Any, loss_keys: int = 1) -> Any:
    """`net` in a model for ours or MMEngine's runner (`base` is either's `BaseModel`)."""

    class Net(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, inputs: Any, labels: Any = None, mode: str = "tensor") -> Any:
            logits = self.net(inputs)
            return loss_terms(logits, labels, loss_keys) if mode == "loss" else logits

    return Net()


def make_optimizer(params: Any) -> Any:
    import torch

    return torch.optim.SGD(params, lr=LR, momentum=MOMENTUM)


# ---------------------------------------------------------------- hand-written loops
class HandLoop:
    """``indexed``, ``dataloader``, ``durable``: zero_grad, backward, step; log and save.

    Built once, then run an epoch at a time, so that another loop can run between
    its epochs (`loop_profile.py` alternates it with the runner in one process).
    """

    def __init__(self, spec: Spec, work_dir: Path) -> None:
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        self.spec, self.work_dir = spec, work_dir
        self.inputs, self.labels = make_data()
        self.net = make_net()
        self.optimizer = make_optimizer(self.net.parameters())
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, list(MILESTONES), GAMMA
        )
        self.generator = torch.Generator().manual_seed(SEED)
        self.save = durable_save if spec.variant == "durable" else torch.save
        self.loader = (
            DataLoader(TensorDataset(self.inputs, self.labels), BATCH, shuffle=True,
                       generator=self.generator)
            if spec.variant in ("dataloader", "durable") else None
        )  # fmt: skip
        self.log = open(work_dir / "log.txt", "w")  # noqa: SIM115  # closed by `close`
        self.done = 0
        self.net.train()

    def run_epoch(self, epoch: int, tick: Any) -> None:
        """Train epoch `epoch` (from 0), calling `tick` after each iteration; then save."""
        import torch

        net, optimizer, scheduler, log, keys = (
            self.net, self.optimizer, self.scheduler, self.log, self.spec.loss_keys
        )  # fmt: skip
        if self.loader is not None:
            batches = iter(self.loader)
        else:
            order = torch.randperm(SAMPLES, generator=self.generator)
            batches = ((self.inputs[i], self.labels[i]) for i in order.split(BATCH))
        done = self.done
        for x, y in batches:
            losses = loss_terms(net(x), y, keys)
            loss = sum(losses.values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done % BLOCK == 0:
                log.write(f"epoch {epoch + 1} iter {done} lr {scheduler.get_last_lr()[0]:.4e} "
                          f"loss {loss.item():.4f}\n")  # fmt: skip
            tick()
        self.done = done
        scheduler.step()
        if self.spec.checkpoint:
            state = {
                "epoch": epoch + 1,
                "model": net.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
            }
            self.save(state, self.work_dir / f"epoch_{epoch + 1}.pth")

    def close(self) -> None:
        self.log.close()


def train_by_hand(spec: Spec, pacer: Pacer, work_dir: Path) -> None:
    """The hand-written loops, all epochs, with the pacer's tick after each iteration."""
    loop = HandLoop(spec, work_dir)
    try:
        for epoch in range(spec.epochs):
            loop.run_epoch(epoch, pacer.tick)
    finally:
        loop.close()


def durable_save(state: dict[str, Any], path: Path) -> None:
    """`torch.save` by hand as a crash cannot damage it: a temporary file, fsync, rename, fsync.

    The least a durable checkpoint costs: no pointer file, no checksum, no extra state.
    """
    import torch

    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as file:
        torch.save(state, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


# ---------------------------------------------------------------- runners
def runner_config(spec: Spec, model: Any, work_dir: Path) -> dict[str, Any]:
    """The arguments ours and MMEngine's `Runner` share (MMEngine's names and meanings)."""
    from torch.utils.data import TensorDataset

    return dict(
        model=model,
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=TensorDataset(*make_data()),
            batch_size=BATCH,
            sampler=dict(type="DefaultSampler", shuffle=True),
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=spec.epochs),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=LR, momentum=MOMENTUM)),
        param_scheduler=dict(
            type="MultiStepLR", by_epoch=True, milestones=list(MILESTONES), gamma=GAMMA
        ),
        default_hooks=default_hook_overrides(spec),
        randomness=dict(seed=SEED),
        log_level="INFO",
    )


def default_hook_overrides(spec: Spec) -> dict[str, Any]:
    """The default hooks the benchmark changes: a record every 50 iterations, a save per epoch."""
    return dict(
        logger=dict(type="LoggerHook", interval=BLOCK),
        checkpoint=dict(type="CheckpointHook", interval=1) if spec.checkpoint else None,
    )


def train_runner(spec: Spec, pacer: Pacer, work_dir: Path) -> None:
    """``hooks`` and ``mmengine``: ours or MMEngine's `Runner`, configured alike.

    Both get their default hooks, `extra_hooks` custom ones and the pacer's hook.
    """
    if spec.variant == "mmengine":
        from mmengine.hooks import Hook
        from mmengine.model import BaseModel
        from mmengine.runner import Runner
    else:
        from hooks_core import BaseModel, Hook, Runner

    class PacerHook(Hook):  # type: ignore[misc,valid-type]
        priority = "LOWEST"

        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            pacer.tick()

    runner = Runner(
        **runner_config(spec, runner_model(BaseModel, make_net(), spec.loss_keys), work_dir),
        custom_hooks=[*custom_hooks(Hook, spec.extra_hooks), PacerHook()],
    )
    runner.train()


def custom_hooks(base: type, count: int) -> list[Any]:
    """`count` user hooks: `ACTING_HOOKS` count iterations, the others act once per epoch."""

    class CountingHook(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            self.seen = 0

        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            self.seen += 1

    class EpochHook(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            self.epochs = 0

        def after_train_epoch(self, runner: Any) -> None:
            self.epochs += 1

    return [CountingHook() if i < ACTING_HOOKS else EpochHook() for i in range(count)]


def train_lightning(spec: Spec, pacer: Pacer, work_dir: Path) -> None:
    """``lightning``: Lightning's `Trainer` on the CPU, logging every 50 steps, saving per epoch."""
    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
    from pytorch_lightning.loggers import CSVLogger
    from torch.utils.data import DataLoader, TensorDataset

    class Net(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = make_net()

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            losses = loss_terms(self.net(x), y, spec.loss_keys)
            loss = sum(losses.values())
            self.log_dict(losses if spec.loss_keys > 1 else {"loss": loss})
            return loss

        def configure_optimizers(self) -> Any:
            optimizer = make_optimizer(self.parameters())
            scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(MILESTONES), GAMMA)
            return [optimizer], [scheduler]

    class PacerCallback(pl.Callback):
        def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any,
                               batch_idx: int) -> None:  # fmt: skip
            pacer.tick()

    pl.seed_everything(SEED, verbose=False)
    generator = torch.Generator().manual_seed(SEED)
    loader = DataLoader(TensorDataset(*make_data()), BATCH, shuffle=True, generator=generator)
    trainer = pl.Trainer(
        max_epochs=spec.epochs,
        accelerator="cpu",
        devices=1,
        logger=CSVLogger(work_dir),
        log_every_n_steps=BLOCK,
        callbacks=[
            ModelCheckpoint(dirpath=work_dir, every_n_epochs=1, save_top_k=-1),
            LearningRateMonitor(logging_interval="step"),
            PacerCallback(),
        ],
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=work_dir,
    )
    trainer.fit(Net(), loader)


TRAIN = {
    "indexed": train_by_hand,
    "dataloader": train_by_hand,
    "durable": train_by_hand,
    "hooks": train_runner,
    "mmengine": train_runner,
    "lightning": train_lightning,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=sorted(TRAIN), required=True)
    parser.add_argument("--iters", type=int, required=True, help="a multiple of 50")
    parser.add_argument("--loss-keys", type=int, default=1)
    parser.add_argument("--extra-hooks", type=int, default=0)
    parser.add_argument("--no-checkpoint", action="store_true", help="save no checkpoints")
    parser.add_argument("--mode", choices=("lockstep", "instructions"), default="lockstep")
    parser.add_argument("--measure", type=int, nargs=2, default=(2, 4),
                        help="instructions mode: count from the end of block A to B")  # fmt: skip
    parser.add_argument("--fds", type=int, nargs=2, required=True, help="read and write ends")
    parser.add_argument("--work-dir", type=Path, required=True)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings(
        "ignore"
    )  # the peers' advice (few dataloader workers, ...) is noise here
    spec = Spec(args.variant, args.iters, args.loss_keys, args.extra_hooks,
                not args.no_checkpoint)  # fmt: skip
    channel = (os.fdopen(args.fds[0], "r"), os.fdopen(args.fds[1], "w"))
    pacer = Pacer(args.mode, channel, range(*args.measure))
    TRAIN[spec.variant](spec, pacer, args.work_dir)
    pacer.send({"done": pacer.done, "peak_rss_mb": peak_rss_mb()})


def peak_rss_mb() -> float:
    """The process's peak resident memory (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


if __name__ == "__main__":
    main()
