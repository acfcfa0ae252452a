"""BaseMetric, Evaluator and the built-in metrics, alone and inside a real validation run."""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any

import pytest
import torch
from eval_parts import PerSampleRegressor, eval_runner_kwargs
from toy import ToyDataset

from hooks_core import EVALUATOR, METRICS, Runner
from hooks_eval import (
    Accuracy,
    BaseMetric,
    DumpResults,
    Evaluator,
    MeanSquaredError,
    collect_results,
)

if TYPE_CHECKING:
    from pathlib import Path


def classified(scores: list[list[float]], labels: list[int]) -> list[dict[str, Any]]:
    return [
        {"pred_score": torch.tensor(s), "gt_label": torch.tensor(label)}
        for s, label in zip(scores, labels, strict=True)
    ]


SCORES = [[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.1, 0.3]]
LABELS = [1, 1, 0, 2]  # top-1: right, wrong, wrong, wrong; top-2: right, right, wrong, right


def test_accuracy_topk_in_percent_named_as_mmpretrain() -> None:
    metric = Accuracy(topk=(1, 2))
    metric.process(None, classified(SCORES[:2], LABELS[:2]))
    metric.process(None, classified(SCORES[2:], LABELS[2:]))
    assert metric.evaluate(4) == {"accuracy/top1": 25.0, "accuracy/top2": 75.0}
    assert metric.results == []  # cleared for the next validation


def test_accuracy_from_labels_only_for_top1_and_from_objects() -> None:
    class Sample:
        def __init__(self, pred_label: int, gt_label: int) -> None:
            self.pred_label, self.gt_label = pred_label, gt_label

    metric = Accuracy(topk=1, prefix="acc")
    metric.process(None, [Sample(1, 1), Sample(0, 2)])
    assert metric.evaluate(2) == {"acc/top1": 50.0}
    with pytest.raises(ValueError, match="needs 'pred_score'"):
        Accuracy(topk=(1, 5)).process(None, [{"pred_label": 1, "gt_label": 1}])


@pytest.mark.parametrize("topk", [0, (1, -1), (), (1, True), "1"])
def test_accuracy_rejects_bad_topk(topk: Any) -> None:
    with pytest.raises(ValueError, match="topk must be positive ints"):
        Accuracy(topk=topk)


def test_accuracy_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="top 5 of 3 class scores"):
        Accuracy(topk=5).process(None, classified(SCORES, LABELS))
    with pytest.raises(KeyError, match=r"reads 'gt_label' from each data sample.*\['score'\]"):
        Accuracy().process(None, [{"score": 1}])


def test_mean_squared_error_over_all_elements() -> None:
    metric = MeanSquaredError()
    metric.process(None, [{"prediction": torch.tensor([1.0, 2.0]), "target": torch.zeros(2)}])
    metric.process(None, [{"prediction": torch.tensor([3.0, 0.0]), "target": torch.zeros(2)}])
    assert metric.evaluate(2) == {"mse": pytest.approx((1 + 4 + 9) / 4)}
    with pytest.raises(ValueError, match=r"shape \(2,\) but its target \(3,\)"):
        metric.process(None, [{"prediction": torch.ones(2), "target": torch.ones(3)}])


def test_prefix_and_collect_device() -> None:
    assert MeanSquaredError(prefix="val").prefix == "val"
    assert Accuracy(prefix="").prefix == Accuracy().prefix == "accuracy"  # MMEngine: '' is unset
    assert MeanSquaredError(prefix="").prefix is None
    metric = MeanSquaredError(prefix="val")
    metric.process(None, [{"prediction": 1.0, "target": 0.0}])
    assert metric.evaluate(1) == {"val/mse": 1.0}
    with pytest.raises(ValueError, match=r"collect_device must be one of \('cpu', 'gpu'\)"):
        Accuracy(collect_device="tpu")


def test_collect_dir_goes_with_the_cpu_only(tmp_path: Path) -> None:
    metric = MeanSquaredError(collect_dir=str(tmp_path))
    assert (metric.collect_device, metric.collect_dir) == ("cpu", str(tmp_path))
    metric.process(None, [{"prediction": 2.0, "target": 0.0}])
    assert metric.evaluate(1) == {"mse": 4.0}
    with pytest.raises(ValueError, match="collect_dir works only with collect_device='cpu'"):
        MeanSquaredError(collect_device="gpu", collect_dir=str(tmp_path))


def test_dataset_meta_set_on_the_evaluator_reaches_every_metric() -> None:
    evaluator = Evaluator([Accuracy(), MeanSquaredError()])
    assert evaluator.dataset_meta is None and evaluator.metrics[0].dataset_meta is None
    evaluator.dataset_meta = {"classes": ("cat", "dog")}
    assert [m.dataset_meta for m in evaluator.metrics] == [{"classes": ("cat", "dog")}] * 2


def test_no_results_warn_and_give_no_metrics() -> None:
    with pytest.warns(RuntimeWarning, match="Accuracy got no results"):
        assert Accuracy().evaluate(0) == {}


def test_collect_results_in_one_process_cuts_to_the_dataset_size() -> None:
    assert collect_results([1, 2, 3], 2) == [1, 2]
    moved = collect_results([{"t": torch.ones(1)}], 1, "cpu")
    assert moved[0]["t"].device.type == "cpu"


class Counting(BaseMetric):
    def process(self, data_batch: Any, data_samples: Any) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results: list[Any]) -> dict[str, Any]:
        return {"count": len(results)}


def test_evaluator_merges_metrics_and_rejects_duplicate_names() -> None:
    evaluator = Evaluator([Counting(prefix="a"), Counting(prefix="b"), dict(type="Accuracy")])
    evaluator.process(classified(SCORES, LABELS))
    assert evaluator.evaluate(4) == {"a/count": 4, "b/count": 4, "accuracy/top1": 25.0}
    clashing = Evaluator([Counting(), Counting()])
    clashing.process([1, 2])
    with pytest.raises(ValueError, match=r"already did: \['count'\]; give the metrics different"):
        clashing.evaluate(2)
    with pytest.raises(TypeError, match=r"takes metrics .* got int"):
        Evaluator([3])


class Element:
    """A data sample as MMEngine's ``BaseDataElement``: fields, and ``to_dict()``."""

    def __init__(self, **fields: Any) -> None:
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        return dict(self.fields)


class Seen(BaseMetric):
    """Records what each process call got."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, list[Any]]] = []

    def process(self, data_batch: Any, data_samples: Any) -> None:
        self.calls.append((data_batch, list(data_samples)))
        self.results.extend(data_samples)

    def compute_metrics(self, results: list[Any]) -> dict[str, Any]:
        return {"count": len(results)}


def test_evaluator_hands_data_elements_over_as_dicts() -> None:
    seen = Seen()
    Evaluator(seen).process([Element(pred_label=1), {"pred_label": 2}], data_batch="batch")
    assert seen.calls == [("batch", [{"pred_label": 1}, {"pred_label": 2}])]


def test_offline_evaluate_in_chunks() -> None:
    seen = Seen()
    assert Evaluator([seen]).offline_evaluate(list(range(5)), chunk_size=2) == {"count": 5}
    assert [samples for _, samples in seen.calls] == [[0, 1], [2, 3], [4]]
    assert {batch for batch, _ in seen.calls} == {None}
    with pytest.raises(ValueError, match="got 5 data_samples but 4 data"):
        Evaluator([Seen()]).offline_evaluate(list(range(5)), data=list(range(4)))
    with pytest.raises(ValueError, match="chunk_size must be a positive int, got 0"):
        Evaluator([Seen()]).offline_evaluate([1], chunk_size=0)


def test_offline_evaluate_collates_the_data_as_the_runner_would() -> None:
    seen = Seen()
    data = [{"inputs": torch.full((2,), float(i))} for i in range(3)]
    Evaluator([seen]).offline_evaluate(["a", "b", "c"], data=data, chunk_size=2)
    (first, _), (second, _) = seen.calls
    assert isinstance(first["inputs"], list) and len(first["inputs"]) == 2  # pseudo_collate
    assert torch.equal(second["inputs"][0], torch.full((2,), 2.0))


def test_dump_results_then_evaluate_offline(tmp_path: Path) -> None:
    out = tmp_path / "preds.pkl"
    dump = DumpResults(out_file_path=str(out))
    outputs = classified(SCORES, LABELS)
    dump.process(None, outputs[:2])
    dump.process(None, outputs[2:])
    assert dump.evaluate(4) == {}
    with open(out, "rb") as file:
        loaded = pickle.load(file)  # written by this test
    assert len(loaded) == 4 and torch.equal(loaded[3]["pred_score"], outputs[3]["pred_score"])
    assert Evaluator(Accuracy()).offline_evaluate(loaded, chunk_size=3) == {"accuracy/top1": 25.0}
    assert isinstance(METRICS.build(dict(type="DumpResults", out_file_path=str(out))), DumpResults)
    with pytest.raises(ValueError, match=r"must end with '.pkl' or '.pickle', got 'preds.json'"):
        DumpResults(out_file_path="preds.json")


def test_metrics_and_evaluator_build_by_name() -> None:
    assert isinstance(METRICS.build(dict(type="Accuracy", topk=(1, 5))), Accuracy)
    evaluator = EVALUATOR.build(dict(type="Evaluator", metrics=dict(type="MeanSquaredError")))
    assert isinstance(evaluator.metrics[0], MeanSquaredError)


def test_validation_run_computes_the_metric_over_the_whole_set(tmp_path: Path) -> None:
    runner = Runner(
        **eval_runner_kwargs(tmp_path, val_evaluator=[dict(type="MeanSquaredError")]),
        default_hooks=dict(checkpoint=None),
    )
    metrics = runner.val()
    model: PerSampleRegressor = runner.model
    data = ToyDataset(16, seed=1)  # the validation set of the shared toy run
    with torch.no_grad():
        expected = float(((model.net(data.inputs) - data.targets) ** 2).mean())
    assert metrics["mse"] == pytest.approx(expected, rel=1e-6)
    assert runner.message_hub.get_scalar("val/mse").current() == metrics["mse"]
