"""One rank of test_fsdp.py: train tiny MLPs with ``Runner(strategy=FSDPStrategy)`` on 2 ranks.

Usage: ``torchrun --nproc_per_node=2 fsdp_worker.py OUT_DIR``. Every scenario of
`SCENARIOS` trains in ``OUT_DIR/<name>`` (CheckpointHook writes ``epoch_1.pth``
and ``epoch_2.pth`` there); ``resume`` and ``ema_resume`` then continue the first
epoch of ``plain`` and ``ema``.
Rank r writes ``OUT_DIR/rank<r>.json``: per scenario the global loss of every
iteration (the mean of the ranks' losses) and what else the test reads. The
test trains the same runs in one process on the global batch to compare.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))  # the shared toy

import torch
from torch import nn
from toy import ToyDataset, stacked

from hooks_core import BaseModel, Hook, Runner
from hooks_core.dist import all_gather_object, all_reduce

WORLD_SIZE = 2
BATCH_SIZE = 4  # per rank; the single-process run takes WORLD_SIZE times as many
STEPS_PER_EPOCH = 4
MAX_EPOCHS = 2
FSDP = {"type": "FSDPStrategy", "wrap_policy": ["Linear"]}

# name -> the strategy, the optimizer wrapper's extra options, and what else the run has.
SCENARIOS: dict[str, dict[str, Any]] = {
    "plain": {"strategy": FSDP},
    "clip": {"strategy": FSDP, "optim": {"clip_grad": {"max_norm": 0.05}}},
    "accumulate": {"strategy": FSDP, "optim": {"accumulative_counts": 2}},
    "size_policy": {"strategy": {"type": "FSDPStrategy", "wrap_policy": {"min_num_params": 40}}},
    "root_only": {"strategy": {"type": "FSDPStrategy"}},
    "hsdp_2x1": {"strategy": {**FSDP, "mesh_shape": (2, 1)}},
    "hsdp_1x2": {"strategy": {**FSDP, "mesh_shape": (1, 2)}},
    "cpu_offload": {"strategy": {**FSDP, "cpu_offload": True}},
    "checkpointing": {"strategy": {**FSDP, "activation_checkpointing": ["Linear"]}},
    "bf16": {
        "strategy": {
            **FSDP,
            "mixed_precision": {"param_dtype": "bfloat16", "reduce_dtype": "float32"},
        }
    },
    "amp": {"strategy": FSDP, "optim": {"type": "AmpOptimWrapper", "dtype": "bfloat16"}},
    "ema": {"strategy": FSDP, "ema": True},
}


class Mlp(BaseModel):
    """Three linear layers; `init_weights` sets the last bias, so the runner shares weights."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1)
        )

    def init_weights(self) -> None:
        nn.init.constant_(self.net[4].bias, 0.5)

    def forward(self, inputs: Any, targets: Any = None, mode: str = "tensor") -> Any:
        inputs, targets = stacked(inputs), stacked(targets)
        prediction = self.net(inputs).float()
        if mode == "loss":
            return {"loss": nn.functional.mse_loss(prediction, targets)}
        if mode == "predict":
            return [{"error": (prediction - targets) ** 2}]
        return prediction


class GatheredMse:
    """Mean squared error over the validation set, whichever rank computed each sample."""

    def __init__(self) -> None:
        self.errors: list[torch.Tensor] = []

    def process(self, data_samples: Any, data_batch: Any = None) -> None:
        self.errors.extend(sample["error"].flatten() for sample in data_samples)

    def evaluate(self, size: int) -> dict[str, float]:
        errors = torch.cat([torch.cat(part) for part in all_gather_object(self.errors)])
        self.errors = []
        return {"mse": float(errors.mean())}


class RecordLoss(Hook):
    """The loss of every iteration, averaged over the ranks: the loss of the global batch."""

    priority = "LOWEST"

    def __init__(self) -> None:
        self.losses: list[float] = []

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        loss = outputs["loss"].detach().float().clone()
        all_reduce(loss, "mean")
        self.losses.append(float(loss))


def runner_kwargs(
    work_dir: Path, batch_size: int, scenario: dict[str, Any], **overrides: Any
) -> dict[str, Any]:
    """A run of `scenario` without its strategy; batches of `batch_size` per rank."""
    torch.manual_seed(0)
    model = Mlp()
    optim_wrapper = {"type": "OptimWrapper", "optimizer": {"type": "Adam", "lr": 0.02},
                     **scenario.get("optim", {})}  # fmt: skip
    kwargs: dict[str, Any] = dict(
        model=model,
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(WORLD_SIZE * BATCH_SIZE * STEPS_PER_EPOCH, seed=0),
            batch_size=batch_size,
            sampler=dict(type="DefaultSampler", shuffle=False),
            collate_fn=dict(type="default_collate"),
        ),
        train_cfg=dict(by_epoch=True, max_epochs=MAX_EPOCHS),
        optim_wrapper=optim_wrapper,
        default_hooks=dict(
            checkpoint=dict(type="CheckpointHook", interval=1),
            logger=dict(type="LoggerHook", interval=2),
        ),
        custom_hooks=[dict(type="EMAHook", momentum=0.2)] if scenario.get("ema") else [],
        randomness=dict(seed=0),
        log_level="WARNING",
    )
    if scenario.get("ema"):  # validation runs on the average, exchanged into the model
        kwargs.update(
            val_dataloader=dict(
                dataset=ToyDataset(10, seed=1),
                batch_size=batch_size // 2,
                sampler=dict(type="DefaultSampler", shuffle=False),
                collate_fn=dict(type="default_collate"),
            ),
            val_cfg=dict(),
            val_evaluator=GatheredMse(),
            train_cfg=dict(by_epoch=True, max_epochs=MAX_EPOCHS, val_interval=1),
        )
    kwargs.update(overrides)
    return kwargs


def distributed(strategy: dict[str, Any]) -> dict[str, Any]:
    """The runner arguments of an FSDP run under torchrun."""
    return dict(
        strategy=strategy,
        launcher="pytorch",
        env_cfg=dict(dist_cfg=dict(backend="gloo", timeout=60)),
    )


def train(work_dir: Path, scenario: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    from torch.distributed.fsdp import FSDPModule

    recorder = RecordLoss()
    kwargs = runner_kwargs(work_dir, BATCH_SIZE, scenario, **distributed(scenario["strategy"]))
    kwargs.update(overrides)
    kwargs["custom_hooks"] = [*kwargs["custom_hooks"], recorder]
    runner = Runner(**kwargs)
    runner.train()
    hub = runner.message_hub
    return {
        "losses": recorder.losses,
        "fsdp_modules": sum(isinstance(m, FSDPModule) for m in runner.model.modules()),
        "grad_norm": float(hub.get_scalar("train/grad_norm").current())
        if "train/grad_norm" in hub.log_scalars
        else None,
        "val_mse": float(hub.get_scalar("val/mse").current()) if scenario.get("ema") else None,
    }


def error_of(**kwargs: Any) -> str:
    """The message of the error a run with these arguments raises (while made or trained)."""
    try:
        Runner(**kwargs).train()
    except (ValueError, TypeError) as err:
        return str(err)
    raise AssertionError(f"no error for {kwargs}")


def errors(out_dir: Path) -> dict[str, str]:
    """Mistakes a user makes, as every rank sees them."""
    plain = SCENARIOS["plain"]

    def kwargs(name: str, strategy: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        run = runner_kwargs(out_dir / name, BATCH_SIZE, plain, **distributed(strategy))
        return {**run, **overrides}

    model = Mlp()
    built = {"type": "OptimWrapper", "optimizer": torch.optim.SGD(model.parameters(), lr=0.1)}
    return {
        "mesh": error_of(**kwargs("mesh", {"type": "FSDPStrategy", "mesh_shape": (4,)})),
        "wrap_policy": error_of(
            **kwargs("policy", {"type": "FSDPStrategy", "wrap_policy": ["Conv2d"]})
        ),
        "optimizer": error_of(**kwargs("optimizer", FSDP, model=model, optim_wrapper=built)),
    }


def main(out_dir: Path) -> None:
    rank = int(os.environ["RANK"])
    results = {name: train(out_dir / name, scenario) for name, scenario in SCENARIOS.items()}
    for name, source in (("resume", "plain"), ("ema_resume", "ema")):  # the second epoch again
        first_epoch = str(out_dir / source / "epoch_1.pth")
        results[name] = train(out_dir / name, SCENARIOS[source], load_from=first_epoch, resume=True)
    results["errors"] = errors(out_dir / "errors")
    (out_dir / f"rank{rank}.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
