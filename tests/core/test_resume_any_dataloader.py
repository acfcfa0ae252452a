"""Exact mid-epoch resume with dataloaders not built from a config, and honest warnings otherwise.

A plain ``torch.utils.data.DataLoader`` (``shuffle=True``, with or without
workers or a generator) and torchdata's ``StatefulDataLoader`` are killed
mid-epoch in a real process (SIGKILL, dataloader workers included) and resumed:
the final weights equal an uninterrupted run's bit for bit, even though every
noisy sample draws from torch's and python's generators in the main process and
the model uses dropout. Dataloaders whose position cannot be restored exactly
resume with one RuntimeWarning that says why and what to use instead.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, Sampler
from toy import FailAfter, SaveEveryIter, ToyDataset, runner_kwargs

from hooks_core import Runner

WORKER = Path(__file__).with_name("plain_loader_worker.py")

# Kill points drawn once from a fixed seed, so a failure can be replayed: mid-epoch
# (5 batches an epoch), early enough that whole epochs follow the resumed one.
_rng = random.Random(20261202)
_MID_EPOCH = [k for k in range(1, 10) if k % 5]
CASES = [
    *[("epoch", "shuffle", k) for k in sorted(_rng.sample(_MID_EPOCH, 2))],
    ("iter", "shuffle", _rng.choice(_MID_EPOCH)),
    ("epoch", "workers", _rng.choice(_MID_EPOCH)),
    ("iter", "persistent", _rng.choice(_MID_EPOCH)),
    ("iter", "generator", _rng.choice(_MID_EPOCH)),
    ("epoch", "stateful", _rng.choice(_MID_EPOCH)),
    ("iter", "stateful", _rng.choice(_MID_EPOCH)),
]


def run_worker(work_dir: Path, mode: str, loader: str, out: Path, *flags: str) -> int:
    """Run the worker in a session of its own (its SIGKILL takes its process group)."""
    result = subprocess.run(
        [sys.executable, str(WORKER), str(work_dir), mode, loader, str(out), *flags],
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    if result.returncode not in (0, -signal.SIGKILL):
        pytest.fail(f"worker exited with {result.returncode}:\n{result.stderr}")
    return result.returncode


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Final weights of an uninterrupted run saving no checkpoint, per mode and loader, once."""
    root = tmp_path_factory.mktemp("reference")
    weights: dict[tuple[str, str], dict[str, torch.Tensor]] = {}

    def get(mode: str, loader: str) -> dict[str, torch.Tensor]:
        if (mode, loader) not in weights:
            out = root / f"{mode}_{loader}.pt"
            assert run_worker(root / f"{mode}_{loader}", mode, loader, out, "--no-save") == 0
            weights[mode, loader] = torch.load(out, weights_only=True)
        return weights[mode, loader]

    return get


@pytest.mark.parametrize(("mode", "loader", "kill_at"), CASES)
def test_sigkill_mid_epoch_then_resume_is_bit_identical(
    tmp_path: Path, reference: Any, mode: str, loader: str, kill_at: int
) -> None:
    out = tmp_path / "final.pt"
    status = run_worker(tmp_path / "run", mode, loader, out, "--kill-at", str(kill_at))
    assert status == -signal.SIGKILL and not out.exists()
    checkpoint = torch.load(tmp_path / "run" / f"iter_{kill_at}.pth", weights_only=True)
    assert checkpoint["dataloader"]["kind"] == ("state_dict" if loader == "stateful" else
                                                "rng_states")  # fmt: skip
    assert run_worker(tmp_path / "run", mode, loader, out, "--resume") == 0
    resumed, expected = torch.load(out, weights_only=True), reference(mode, loader)
    assert resumed.keys() == expected.keys()
    for key in expected:
        assert torch.equal(resumed[key], expected[key]), f"{key} differs after resume"


# ---------------------------------------------------------------- in one process


class _Stop(Exception):
    """Ends the first run after an iteration's checkpoint, as a crash would."""


def interrupt(work_dir: Path, loader: Any, at: int = 3) -> None:
    """Train epoch-based on `loader` until iteration `at` is saved, then fail."""
    runner = Runner(**runner_kwargs(work_dir, train_dataloader=loader),
                    custom_hooks=[SaveEveryIter(), FailAfter(at, _Stop())])  # fmt: skip
    with pytest.raises(_Stop):
        runner.train()


def resume(work_dir: Path, loader: Any) -> tuple[Runner, list[str]]:
    """Resume training to its end; return the runner and every warning it gave."""
    runner = Runner(**runner_kwargs(work_dir, train_dataloader=loader, resume=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner.train()
    assert all(issubclass(w.category, RuntimeWarning) for w in caught), caught
    return runner, [str(w.message) for w in caught]


class SubclassedLoader(DataLoader):  # type: ignore[type-arg]
    """A DataLoader subclass: its own __init__ may take anything, so it cannot be rebuilt."""


class Stream(IterableDataset):  # type: ignore[type-arg]
    """The toy samples as a stream."""

    def __init__(self) -> None:
        self.data = ToyDataset(40)

    def __iter__(self) -> Any:
        return (self.data[i] for i in range(len(self.data)))

    def __len__(self) -> int:
        return len(self.data)


class OwnRandomSampler(Sampler[int]):
    """A sampler shuffling with a `random.Random` of its own, whose state no checkpoint holds."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rng = random.Random(0)

    def __iter__(self) -> Any:
        order = list(range(self.size))
        self.rng.shuffle(order)
        return iter(order)

    def __len__(self) -> int:
        return self.size


def list_of_batches() -> list[dict[str, torch.Tensor]]:
    return list(DataLoader(ToyDataset(40), batch_size=8))


@pytest.mark.parametrize(
    ("make_loader", "why", "how"),
    [
        (lambda: SubclassedLoader(ToyDataset(40), batch_size=8, shuffle=True),
         "it is a SubclassedLoader, a DataLoader subclass", "loads and discards the 3 batches"),
        (lambda: DataLoader(Stream(), batch_size=8),
         "its dataset, a Stream, is an IterableDataset", "loads and discards the 3 batches"),
        (list_of_batches,
         "it is a list, neither a torch DataLoader nor a dataloader with state_dict()",
         "loads and discards the 3 batches"),
        (lambda: DataLoader(ToyDataset(40), batch_size=8, sampler=OwnRandomSampler(40)),
         "its sampler (OwnRandomSampler) draws from a random generator of its own "
         "(rng: random.Random)", "passes over, by their indices alone, the 3 batches"),
    ],
    ids=["subclass", "iterable-dataset", "not-a-dataloader", "private-randomness"],
)  # fmt: skip
def test_a_position_that_cannot_be_restored_warns_once_saying_why(
    tmp_path: Path, make_loader: Any, why: str, how: str
) -> None:
    interrupt(tmp_path, make_loader())
    runner, messages = resume(tmp_path, make_loader())
    assert runner.iter == 15  # three epochs of five batches, the first resumed at batch 3
    assert len(messages) == 1, messages
    message = messages[0]
    assert message.startswith("resuming mid-epoch, the training data may come in another order")
    assert why in message and how in message
    assert "build the dataloader from a config" in message and "StatefulDataLoader" in message


def test_a_checkpoint_from_before_the_data_state_resumes_as_it_did(tmp_path: Path) -> None:
    def make_loader() -> DataLoader:  # type: ignore[type-arg]
        return DataLoader(ToyDataset(40), batch_size=8, shuffle=True)

    interrupt(tmp_path, make_loader())
    path = tmp_path / "iter_3.pth"
    checkpoint = torch.load(path, weights_only=True)  # the data state reads back safely
    assert checkpoint["dataloader"]["kind"] == "rng_states"
    assert checkpoint["dataloader"]["pass"] == 0
    del checkpoint["dataloader"]  # as an older version wrote it
    torch.save(checkpoint, path)
    runner, messages = resume(tmp_path, make_loader())
    assert runner.iter == 15
    assert len(messages) == 1
    assert "the checkpoint holds no data state for this pass of this dataloader" in messages[0]
    assert "loads and discards the 3 batches" in messages[0]


def test_a_config_built_loader_saves_no_data_state_and_skips_silently(tmp_path: Path) -> None:
    config = dict(dataset=ToyDataset(40), batch_size=8)
    interrupt(tmp_path, config)
    assert torch.load(tmp_path / "iter_3.pth", weights_only=True)["dataloader"] == {}
    runner, messages = resume(tmp_path, config)
    assert runner.iter == 15 and messages == []


def test_a_saved_generator_the_resumed_loader_lacks_is_named(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(7)
    interrupt(tmp_path, DataLoader(ToyDataset(40), batch_size=8, shuffle=True, generator=generator))
    runner, messages = resume(tmp_path, DataLoader(ToyDataset(40), batch_size=8, shuffle=True))
    assert runner.iter == 15
    assert len(messages) == 1
    assert "random generators of the dataloader ('generator') that this" in messages[0]
