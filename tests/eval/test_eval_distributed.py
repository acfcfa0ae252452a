"""Metrics and checkpoints on 2 real gloo ranks under torchrun, against one process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from eval_dist_worker import VAL_SIZE, Classifier, val_set
from torchrun import run_two_ranks

from hooks_eval import Accuracy, MeanSquaredError

WORKER = Path(__file__).with_name("eval_dist_worker.py")
TIMEOUT = 120  # seconds; the run takes about 10


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out_dir = tmp_path_factory.mktemp("eval_dist")
    return out_dir, run_two_ranks(WORKER, out_dir, TIMEOUT)


def single_process_metrics(weights: dict[str, torch.Tensor]) -> dict[str, float]:
    model = Classifier()
    model.load_state_dict(weights)
    data = val_set()
    with torch.no_grad():
        samples = model(data.inputs, data.labels, torch.arange(VAL_SIZE), mode="predict")
    accuracy, mse = Accuracy(topk=(1, 2)), MeanSquaredError()
    for metric in (accuracy, mse):
        metric.process(None, samples)
    return {**accuracy.evaluate(VAL_SIZE), **mse.evaluate(VAL_SIZE)}


def test_gathered_metrics_equal_the_single_process_ones(
    ranks: tuple[Path, list[dict[str, Any]]],
) -> None:
    out_dir, results = ranks
    expected = single_process_metrics(torch.load(out_dir / "weights.pt", weights_only=True))
    for result in results:
        metrics = result["metrics"]
        assert metrics["order"] == list(range(VAL_SIZE))  # sampler order, padding dropped
        for key, value in expected.items():
            assert metrics[key] == pytest.approx(value, rel=1e-6), key
    assert results[0]["metrics"] == results[1]["metrics"]  # rank 0 computed, every rank has it


def test_only_rank_0_writes_and_every_rank_keeps_the_same_books(
    ranks: tuple[Path, list[dict[str, Any]]],
) -> None:
    _, (rank0, rank1) = ranks
    assert rank0["files"] == sorted([rank0["best_ckpt"], "epoch_3.pth"])
    assert rank1["files"] == []
    for key in ("keep_ckpt_ids", "best_ckpt", "best_score"):
        assert rank0[key] == rank1[key], key
    assert rank0["keep_ckpt_ids"] == [3]
