"""Distributed training with the Runner for real: two gloo processes under torchrun.

`dist_runner_worker.py` trains a linear model with ``Runner(launcher='pytorch')``
on 2 CPU ranks; the tests here read what each rank wrote and check it against
plain single-process torch: DDP averaging the gradients of two half batches is
one SGD step on the whole batch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch
from dist_runner_worker import (
    BATCH_SIZE,
    LR,
    MAX_EPOCHS,
    STEPS_PER_EPOCH,
    TRAIN_SIZE,
    VAL_SIZE,
    WORLD_SIZE,
    LinearModel,
    train_set,
    val_set,
)
from ports import free_port
from torch import nn

from hooks_core import dist as _dist
from hooks_core.checkpoint import load_checkpoint_file
from hooks_core.model import wrap_model

if TYPE_CHECKING:
    from collections.abc import Sequence

WORKER = Path(__file__).with_name("dist_runner_worker.py")
TIMEOUT = 120  # seconds; the run takes about 10


def run_torchrun(out_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run the worker on 2 ranks; kill the whole process group if it hangs."""
    command = [
        sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={WORLD_SIZE}",
        "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(WORKER), str(out_dir),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "error"}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    ) as process:  # fmt: skip
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(f"torchrun did not finish in {TIMEOUT} s:\n{stderr[-4000:]}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Train once on 2 ranks; every test reads the same run."""
    out_dir = tmp_path_factory.mktemp("dist_runner")
    done = run_torchrun(out_dir)
    assert done.returncode == 0, f"torchrun exited {done.returncode}:\n{done.stderr[-4000:]}"
    ranks = range(WORLD_SIZE)
    return {
        "out_dir": out_dir,
        "stdout": done.stdout,
        "stderr": done.stderr,
        "results": [json.loads((out_dir / f"rank{r}.json").read_text()) for r in ranks],
        "weights": [torch.load(out_dir / f"rank{r}.pt", weights_only=True) for r in ranks],
        "exit": [json.loads((out_dir / f"rank{r}_exit.json").read_text()) for r in ranks],
    }


# ------------------------------------------------------------ the reference, in plain torch
def interleaved_batch(step: int, ranks: Sequence[int] = range(WORLD_SIZE)) -> list[int]:
    """The samples of training step `step` over `ranks`, in the order the ranks see them.

    With ``DefaultSampler(shuffle=False)``, rank r yields samples r, r + 2, r + 4, ...
    and its batch `step` is the `step`-th run of `BATCH_SIZE` of them.
    """
    return [
        rank + WORLD_SIZE * (step * BATCH_SIZE + j) for j in range(BATCH_SIZE) for rank in ranks
    ]


def reference_training(initial: dict[str, torch.Tensor], ranks: Sequence[int]) -> nn.Linear:
    """Single-process SGD over the batches of `ranks` combined, from the same initial weights."""
    model = nn.Linear(4, 1)
    model.load_state_dict({"weight": initial["linear.weight"], "bias": initial["linear.bias"]})
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    data = train_set()
    for _ in range(MAX_EPOCHS):
        for step in range(STEPS_PER_EPOCH):
            indices = interleaved_batch(step, ranks)
            loss = nn.functional.mse_loss(model(data.inputs[indices]), data.targets[indices])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


# ------------------------------------------------------------ the tests
def test_runner_sets_up_ddp_with_the_config_seed_and_shards(run: dict[str, Any]) -> None:
    for rank, result in enumerate(run["results"]):
        assert (result["rank"], result["world_size"], result["distributed"]) == (rank, 2, True)
        assert result["backend"] == "gloo"
        # model_wrapper_cfg reached DDP: the model's unused layer needs find_unused_parameters.
        assert result["is_ddp"] and result["wrapper"] == "DistributedModel"
        assert result["find_unused_parameters"] is True
        # Rank 0 drew the seed and shared it; each rank seeded torch with it.
        assert result["seed"] == run["results"][0]["seed"] == result["torch_seed"]
        # DefaultSampler partitions the data: rank r takes every second sample from r.
        assert result["shards"] == [list(range(rank, TRAIN_SIZE, WORLD_SIZE))] * MAX_EPOCHS
        assert (result["epoch"], result["iter"]) == (MAX_EPOCHS, MAX_EPOCHS * STEPS_PER_EPOCH)
        assert result["initialized_after_train"] is True  # the runner stays usable after train()


def test_ranks_start_and_stay_in_step(run: dict[str, Any]) -> None:
    built, wrapped, final = (
        [weights[key] for weights in run["weights"]] for key in ("built", "wrapped", "final")
    )
    # Each rank built different weights; wrapping in DDP gave every rank rank 0's.
    assert not torch.equal(built[0]["linear.weight"], built[1]["linear.weight"])
    for key in built[0]:
        assert torch.equal(wrapped[0][key], built[0][key]), key
        assert torch.equal(wrapped[1][key], built[0][key]), key
    # After training, bit-identical on both ranks.
    assert set(final[0]) == set(final[1]) == set(built[0])
    for key in final[0]:
        assert torch.equal(final[0][key], final[1][key]), key


def test_training_matches_single_process_sgd_on_the_whole_batch(run: dict[str, Any]) -> None:
    initial, final = run["weights"][0]["wrapped"], run["weights"][0]["final"]
    reference = reference_training(initial, ranks=range(WORLD_SIZE))
    torch.testing.assert_close(final["linear.weight"], reference.weight.detach(), atol=1e-6, rtol=0)
    torch.testing.assert_close(final["linear.bias"], reference.bias.detach(), atol=1e-6, rtol=0)
    # It did train, and the tolerance tells runs apart: rank 0's half alone ends elsewhere.
    assert (final["linear.weight"] - initial["linear.weight"]).abs().max() > 0.1
    alone = reference_training(initial, ranks=[0])
    assert (final["linear.weight"] - alone.weight.detach()).abs().max() > 1e-3
    # The unused layer got no gradient, so SGD left it as it was.
    for key in ("unused.weight", "unused.bias"):
        assert torch.equal(final[key], initial[key]), key


def test_validation_covers_the_whole_set_once(run: dict[str, Any]) -> None:
    final = run["weights"][0]["final"]
    model = LinearModel()
    model.load_state_dict(final)
    data = val_set()
    with torch.no_grad():
        expected = float(((model(data.inputs) - data.targets) ** 2).mean())
    assert len(data) == VAL_SIZE
    for result in run["results"]:  # the sampler padded rank 1; the evaluator dropped it
        assert result["val_mse"] == pytest.approx(expected, rel=1e-5)


def test_only_rank_0_writes_the_log_and_checkpoints(run: dict[str, Any]) -> None:
    out_dir: Path = run["out_dir"]
    rank0, rank1 = run["results"]
    assert Path(rank0["log_dir"]).name == Path(rank1["log_dir"]).name  # one shared timestamp
    work0 = Path(rank0["work_dir"])
    written0 = sorted(str(p.relative_to(work0)) for p in work0.rglob("*") if p.is_file())
    log = str(Path(rank0["log_dir"]).relative_to(work0) / f"{Path(rank0['log_dir']).name}.log")
    epochs = [f"epoch_{epoch}.pth" for epoch in range(1, MAX_EPOCHS + 1)]
    assert written0 == sorted([log, *epochs, "last_checkpoint", ".hooks.lock"])  # rank 0's lock
    assert "Hooks will be executed in the following order" in (work0 / log).read_text()
    assert [p for p in Path(rank1["work_dir"]).rglob("*") if p.is_file()] == []
    assert Path(rank1["work_dir"]).parent == out_dir
    # Rank 1's logger prints errors only: the console shows rank 0's lines once.
    assert run["stdout"].count("hooks registered; the order they run in") == 1
    assert "Hooks will be executed" not in run["stdout"]  # the table is in the log file only
    assert run["stderr"] == ""

    last = Path((work0 / "last_checkpoint").read_text())
    assert last == work0 / f"epoch_{MAX_EPOCHS}.pth"
    checkpoint = load_checkpoint_file(last)  # weights_only: a plain, safe load
    final = run["weights"][0]["final"]
    assert set(checkpoint["state_dict"]) == set(final)  # saved unwrapped: no "module." prefix
    for key, value in final.items():
        assert torch.equal(checkpoint["state_dict"][key], value), key
    meta = checkpoint["meta"]
    assert (meta["epoch"], meta["iter"]) == (MAX_EPOCHS, MAX_EPOCHS * STEPS_PER_EPOCH)
    assert meta["seed"] == rank0["seed"]
    LinearModel().load_state_dict(checkpoint["state_dict"])  # strict: every key fits


def test_the_process_group_is_destroyed_at_exit(run: dict[str, Any]) -> None:
    assert run["exit"] == [{"initialized_at_exit": False, "ddp_freed_at_exit": True}] * WORLD_SIZE


# ------------------------------------------------------------ the fixes, without processes
def test_init_dist_takes_the_timeout_in_seconds_and_says_whether_it_created_the_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(free_port())}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda **kw: calls.append(kw))
    assert _dist.init_dist("pytorch", timeout=90) is True  # MMEngine's dist_cfg gives seconds
    assert _dist.init_dist("pytorch", backend="gloo", timeout=1.5) is True
    assert [call["timeout"].total_seconds() for call in calls] == [90, 1.5]
    assert _dist.init_dist("none") is False
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    assert _dist.init_dist("pytorch", timeout=90) is False  # the user's group: not ours
    assert len(calls) == 2


def test_model_wrapper_cfg_accepts_mmengine_ddp_types_only() -> None:
    model = LinearModel()
    with pytest.raises(ValueError, match="type 'MMFullyShardedDataParallel' is not supported"):
        wrap_model(model, True, {"type": "MMFullyShardedDataParallel"})
    # Without distribution the model is never wrapped, whatever the config says.
    assert wrap_model(model, False, {"type": "MMFullyShardedDataParallel"}) is model
