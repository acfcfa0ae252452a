"""DistEvalHook on 2 real gloo ranks under torchrun, against one process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from mmcv_dist_worker import VAL_SIZE, val_set
from mmcv_parts import MMCVClassifier
from torchrun import run_two_ranks

WORKER = Path(__file__).with_name("mmcv_dist_worker.py")
TIMEOUT = 120  # seconds; the run takes about 10


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out_dir = tmp_path_factory.mktemp("mmcv_eval_dist")
    return out_dir, run_two_ranks(WORKER, out_dir, TIMEOUT)


def test_rank_0_evaluates_every_sample_once_in_order(
    ranks: tuple[Path, list[dict[str, Any]]],
) -> None:
    _, (rank0, rank1) = ranks
    order = list(range(VAL_SIZE))
    assert rank0["orders"] == [order, order]  # through files in tmpdir, padding dropped
    assert rank0["group_orders"] == [order, order]  # gpu_collect: through the process group
    assert rank1["orders"] == rank1["group_orders"] == []  # only rank 0 calls evaluate


def test_the_ranks_test_rank_0s_batchnorm_statistics(
    ranks: tuple[Path, list[dict[str, Any]]],
) -> None:
    out_dir, (rank0, rank1) = ranks
    # The ranks trained on different data; the broadcast before evaluating evened them out.
    assert rank0["running_mean"] == rank1["running_mean"]
    model = MMCVClassifier(batchnorm=True)
    model.load_state_dict(torch.load(out_dir / "weights.pt", weights_only=True))
    data = val_set()
    predicted = model.predict(data)
    assert rank0["preds"] == predicted.tolist()
    accuracy = float((predicted == data.label).float().mean())
    assert rank0["accuracy"][-1] == pytest.approx(accuracy)


def test_every_rank_keeps_the_same_books_and_only_rank_0_writes(
    ranks: tuple[Path, list[dict[str, Any]]],
) -> None:
    _, (rank0, rank1) = ranks
    assert rank0["accuracy"] == rank1["accuracy"]  # rank 0's metrics, sent to every rank
    assert rank0["hook_msgs"] == rank1["hook_msgs"]
    assert rank0["files"] == [rank0["hook_msgs"]["best_ckpt"]]
    assert rank1["files"] == []
