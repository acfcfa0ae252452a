"""SyncBuffersHook: buffers averaged over ranks after training epochs and before validation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import torch
from ports import free_port
from stand_in import StandInRunner
from toy import ToyModel, runner_kwargs

import hooks_core.dist
from hooks_core import HOOKS, FunctionHook, Runner, SyncBuffersHook

if TYPE_CHECKING:
    from pathlib import Path

TWO_EPOCHS = dict(by_epoch=True, max_epochs=2)  # 5 iterations each, validation after each


def bn_model() -> ToyModel:
    torch.manual_seed(0)
    return ToyModel(batchnorm=True)


@pytest.fixture
def reduced(monkeypatch: pytest.MonkeyPatch) -> list[list[torch.Tensor]]:
    """Pretend to run in a process group; record what would be averaged, instead of doing it."""
    calls: list[list[torch.Tensor]] = []
    monkeypatch.setattr(hooks_core.dist, "is_distributed", lambda: True)
    monkeypatch.setattr(hooks_core.dist, "all_reduce_mean", lambda t: calls.append(list(t)))
    return calls


def test_the_registry_builds_it() -> None:
    hook = HOOKS.build(dict(type="SyncBuffersHook"))
    assert isinstance(hook, SyncBuffersHook) and hook.priority == "NORMAL"
    assert hook.called_in_train is False


def test_called_directly_it_averages_the_models_buffers(
    tmp_path: Path, reduced: list[list[torch.Tensor]]
) -> None:
    model = bn_model()
    runner = StandInRunner(tmp_path, model=model)
    hook = SyncBuffersHook()
    hook.after_train_epoch(runner)
    assert [[id(t) for t in call] for call in reduced] == [[id(b) for b in model.buffers()]]
    assert hook.called_in_train
    hook.before_val_epoch(runner)  # just synchronised: skipped
    assert len(reduced) == 1 and not hook.called_in_train
    hook.before_val_epoch(runner)  # a validation on its own (or mid-epoch)
    assert len(reduced) == 2


def test_in_a_single_process_it_does_nothing(tmp_path: Path) -> None:
    model = bn_model()
    model.net[1].running_mean.fill_(3.0)
    runner = StandInRunner(tmp_path, model=model)
    hook = SyncBuffersHook()
    hook.after_train_epoch(runner)
    hook.before_val_epoch(runner)
    assert not hook.called_in_train
    assert torch.equal(model.net[1].running_mean, torch.full((8,), 3.0))


def test_in_a_real_process_group_of_one(tmp_path: Path) -> None:
    model = bn_model()
    model.net[1].running_mean.fill_(3.0)
    model.net[1].num_batches_tracked.fill_(5)
    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1
    )
    try:
        hook = SyncBuffersHook()
        hook.after_train_epoch(StandInRunner(tmp_path, model=model))
        assert hook.called_in_train  # it did synchronise; the mean of one rank is itself
    finally:
        torch.distributed.destroy_process_group()
    assert torch.equal(model.net[1].running_mean, torch.full((8,), 3.0))
    assert model.net[1].num_batches_tracked.item() == 5


def test_in_a_runner_a_single_process_run_is_unchanged(tmp_path: Path) -> None:
    states = []
    for hooks in ([], [SyncBuffersHook()]):
        runner = Runner(**runner_kwargs(tmp_path, model=bn_model(), train_cfg=TWO_EPOCHS),
                        custom_hooks=hooks)  # fmt: skip
        runner.train()
        states.append(runner.model.state_dict())
    assert states[1]["net.1.running_mean"].abs().sum() > 0  # the buffers did change in training
    assert states[0].keys() == states[1].keys()
    for key, value in states[0].items():
        assert torch.equal(states[1][key], value), key


@pytest.mark.parametrize(
    ("train_cfg", "expected", "then_val"),
    [
        # Epoch-based: after each training epoch; the validation right after needs no sync,
        # but a later validation on its own syncs (buffers may have been changed since).
        (TWO_EPOCHS, [("after_train_epoch", 5), ("after_train_epoch", 10)],
         [("before_val_epoch", 10)]),
        # Iteration-based: validation runs mid-epoch, so before each one (the last one too:
        # it comes before the end of the single training epoch). Training then ends with
        # a sync, so a validation on its own needs none.
        (dict(by_epoch=False, max_iters=7, val_interval=3),
         [("before_val_epoch", 3), ("before_val_epoch", 6), ("before_val_epoch", 7),
          ("after_train_epoch", 7)],
         ["before_val_epoch"]),
    ],
)  # fmt: skip
def test_in_a_runner_it_syncs_after_training_and_before_validation(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    train_cfg: dict[str, Any],
    expected: list[tuple[str, int]],
    then_val: list[Any],
) -> None:
    model = bn_model()
    synced: list[Any] = []  # the points reached, each replaced by (point, iter) if it synced
    stage = FunctionHook(
        {"before_val_epoch": lambda runner: synced.append("before_val_epoch"),
         "after_train_epoch": lambda runner: synced.append("after_train_epoch")},
        priority="HIGHEST",
    )  # fmt: skip
    runner = Runner(**runner_kwargs(tmp_path, model=model, train_cfg=train_cfg),
                    custom_hooks=[stage, SyncBuffersHook()])  # fmt: skip

    def spy(tensors: Any) -> None:
        tensors = list(tensors)
        assert [id(t) for t in tensors] == [id(b) for b in model.buffers()]
        synced[-1] = (synced[-1], runner.iter)

    monkeypatch.setattr(hooks_core.dist, "is_distributed", lambda: True)
    monkeypatch.setattr(hooks_core.dist, "all_reduce_mean", spy)
    runner.train()
    assert [entry for entry in synced if isinstance(entry, tuple)] == expected
    synced.clear()
    runner.val()
    assert synced == then_val


def test_mmcv_era_spelling_builds_the_same_hook() -> None:
    from hooks_core import HOOKS, SyncBuffersHook

    assert type(HOOKS.build({"type": "SyncBufferHook"})) is SyncBuffersHook
