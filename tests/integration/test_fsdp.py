"""FSDP2 training with the Runner for real: two gloo processes under torchrun, against one process.

`fsdp_worker.py` trains tiny MLPs with ``strategy=dict(type='FSDPStrategy', ...)``
on 2 CPU ranks (batches of 4 each); the same runs without a strategy, in this
process, on batches of 8 are the reference. Sharding parameters, gradients and
optimizer state over two ranks must not change the numbers: the losses, the
gradient norm, the checkpoints and the average of an EMA match the single
process to 1e-5, and checkpoints move between the two both ways.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from fsdp_worker import BATCH_SIZE, SCENARIOS, WORLD_SIZE, RecordLoss, runner_kwargs
from torchrun import run_two_ranks

from hooks_core import Runner
from hooks_core.checkpoint import load_checkpoint_file

WORKER = Path(__file__).with_name("fsdp_worker.py")
TOLERANCE = 1e-5
# Scenarios whose single-process run is "plain"'s: their options only change how FSDP shards.
SAME_AS_PLAIN = ("size_policy", "root_only", "hsdp_2x1", "hsdp_1x2", "cpu_offload", "checkpointing")


@pytest.fixture(scope="module")
def fsdp(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every scenario trained once on 2 ranks: rank 0's results, rank 1's, and their folder."""
    out_dir = tmp_path_factory.mktemp("fsdp")
    rank0, rank1 = run_two_ranks(WORKER, out_dir, timeout=240)
    return {"out_dir": out_dir, "rank0": rank0, "rank1": rank1}


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``single(name)``: the scenario trained in this process on the global batch, once."""
    done: dict[str, dict[str, Any]] = {}

    def run(name: str, **overrides: Any) -> dict[str, Any]:
        key = name if not overrides else f"{name}-{sorted(overrides)}"
        if key not in done:
            work_dir = tmp_path_factory.mktemp(f"single_{name}")
            done[key] = train_alone(work_dir, SCENARIOS[name], **overrides)
        return done[key]

    return run


def train_alone(work_dir: Path, scenario: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    recorder = RecordLoss()
    kwargs = runner_kwargs(work_dir, WORLD_SIZE * BATCH_SIZE, scenario, **overrides)
    kwargs["custom_hooks"] = [*kwargs["custom_hooks"], recorder]
    runner = Runner(**kwargs)
    runner.train()
    hub = runner.message_hub
    return {
        "runner": runner,
        "losses": recorder.losses,
        "work_dir": work_dir,
        "grad_norm": float(hub.get_scalar("train/grad_norm").current())
        if "train/grad_norm" in hub.log_scalars
        else None,
    }


def max_difference(actual: list[float], expected: list[float]) -> float:
    assert len(actual) == len(expected)
    return max(abs(a - b) for a, b in zip(actual, expected, strict=True))


def assert_tensors_close(actual: Any, expected: Any, path: str = "") -> None:
    """Nested dicts and lists of tensors and values are equal, tensors to `TOLERANCE`."""
    if isinstance(expected, dict):
        assert sorted(actual, key=str) == sorted(expected, key=str), path
        for key in expected:
            assert_tensors_close(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), path
        for index, (a, b) in enumerate(zip(actual, expected, strict=True)):
            assert_tensors_close(a, b, f"{path}[{index}]")
    elif isinstance(expected, torch.Tensor):
        torch.testing.assert_close(actual, expected, rtol=0, atol=TOLERANCE, msg=path)
    else:
        assert actual == expected, path


def test_every_rank_sees_the_same_run(fsdp: dict[str, Any]) -> None:
    assert fsdp["rank0"] == fsdp["rank1"]


@pytest.mark.parametrize("name", ["plain", "clip", "accumulate", "ema", *SAME_AS_PLAIN])
def test_losses_match_one_process_on_the_global_batch(
    fsdp: dict[str, Any], single: Any, name: str
) -> None:
    reference = single("plain" if name in SAME_AS_PLAIN else name)["losses"]
    assert max_difference(fsdp["rank0"][name]["losses"], reference) <= TOLERANCE


def test_clipping_uses_the_norm_over_all_shards(fsdp: dict[str, Any], single: Any) -> None:
    norm = fsdp["rank0"]["clip"]["grad_norm"]
    assert norm == pytest.approx(single("clip")["grad_norm"], abs=TOLERANCE)
    assert norm > SCENARIOS["clip"]["optim"]["clip_grad"]["max_norm"]  # the clipping acted
    assert fsdp["rank0"]["clip"]["losses"] != fsdp["rank0"]["plain"]["losses"]


def test_accumulation_changes_the_updates(fsdp: dict[str, Any]) -> None:
    # Sanity for the match above: accumulating two iterations is another run than "plain".
    assert fsdp["rank0"]["accumulate"]["losses"][1] != fsdp["rank0"]["plain"]["losses"][1]


def test_activation_checkpointing_recomputes_the_same_numbers(fsdp: dict[str, Any]) -> None:
    assert fsdp["rank0"]["checkpointing"]["losses"] == fsdp["rank0"]["plain"]["losses"]


def test_wrap_policies_choose_the_groups(fsdp: dict[str, Any]) -> None:
    groups = {name: fsdp["rank0"][name]["fsdp_modules"] for name in SCENARIOS}
    assert groups["plain"] == 4  # three Linear layers and the root
    assert groups["size_policy"] == 3  # the two Linear layers of at least 40 parameters, the root
    assert groups["root_only"] == 1


def test_bfloat16_parameters_train_close_to_float32(fsdp: dict[str, Any], single: Any) -> None:
    losses, reference = fsdp["rank0"]["bf16"]["losses"], single("plain")["losses"]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[4:]) < sum(losses[:4])  # the second pass over the data has lower losses
    assert losses != reference  # it does compute in bfloat16
    for loss, expected in zip(losses, reference, strict=True):
        assert loss == pytest.approx(expected, rel=2e-2)


def test_amp_autocast_trains_as_in_one_process(fsdp: dict[str, Any], single: Any) -> None:
    losses, reference = fsdp["rank0"]["amp"]["losses"], single("amp")["losses"]
    for loss, expected in zip(losses, reference, strict=True):  # bfloat16 sums in other orders
        assert loss == pytest.approx(expected, rel=2e-3)


def test_a_checkpoint_holds_the_whole_model_and_optimizer(
    fsdp: dict[str, Any], single: Any
) -> None:
    sharded = load_checkpoint_file(str(fsdp["out_dir"] / "plain" / "epoch_2.pth"))
    alone = load_checkpoint_file(str(single("plain")["work_dir"] / "epoch_2.pth"))
    assert_tensors_close(dict(sharded["state_dict"]), dict(alone["state_dict"]), "state_dict")
    # The optimizer state is numbered as an unsharded optimizer numbers its parameters.
    assert_tensors_close(sharded["optimizer"], alone["optimizer"], "optimizer")


def test_the_checkpoint_loads_into_a_single_process_runner(
    fsdp: dict[str, Any], single: Any, tmp_path: Path
) -> None:
    runner = Runner(**runner_kwargs(tmp_path, WORLD_SIZE * BATCH_SIZE, SCENARIOS["plain"]))
    runner.load_checkpoint(str(fsdp["out_dir"] / "plain" / "epoch_2.pth"))
    trained = single("plain")["runner"].model.state_dict()
    assert_tensors_close(dict(runner.model.state_dict()), dict(trained))


def test_one_process_resumes_an_fsdp_checkpoint(
    fsdp: dict[str, Any], single: Any, tmp_path: Path
) -> None:
    first_epoch = str(fsdp["out_dir"] / "plain" / "epoch_1.pth")
    resumed = train_alone(tmp_path, SCENARIOS["plain"], load_from=first_epoch, resume=True)
    uninterrupted = single("plain")
    assert max_difference(resumed["losses"], uninterrupted["losses"][4:]) <= TOLERANCE
    weights = resumed["runner"].model.state_dict()
    assert_tensors_close(dict(weights), dict(uninterrupted["runner"].model.state_dict()))


def test_fsdp_resumes_a_whole_checkpoint(fsdp: dict[str, Any], single: Any) -> None:
    resumed = fsdp["rank0"]["resume"]["losses"]
    assert max_difference(resumed, single("plain")["losses"][4:]) <= TOLERANCE


@pytest.mark.parametrize("name", ["ema", "ema_resume"])
def test_ema_averages_the_shards_as_one_process_does(
    fsdp: dict[str, Any], single: Any, name: str
) -> None:
    reference = single("ema")
    sharded = load_checkpoint_file(str(fsdp["out_dir"] / name / "epoch_2.pth"))
    alone = load_checkpoint_file(str(reference["work_dir"] / "epoch_2.pth"))
    for key in ("state_dict", "ema_state_dict"):  # the average, and the training weights
        assert_tensors_close(dict(sharded[key]), dict(alone[key]), key)
    mse = reference["runner"].message_hub.get_scalar("val/mse").current()
    assert fsdp["rank0"][name]["val_mse"] == pytest.approx(float(mse), abs=TOLERANCE)


def test_mistakes_are_reported_with_the_fix(fsdp: dict[str, Any]) -> None:
    errors = fsdp["rank0"]["errors"]
    assert "mesh_shape=(4,) holds 4 ranks but this run has 2" in errors["mesh"]
    assert "e.g. (2,) to shard over every rank" in errors["mesh"]
    assert "wrap_policy names 'Conv2d'" in errors["wrap_policy"]
    assert "its module classes are BaseDataPreprocessor, Linear, Mlp" in errors["wrap_policy"]
    assert "built before FSDPStrategy sharded the model" in errors["optimizer"]
    assert "Give optim_wrapper as a config" in errors["optimizer"]
