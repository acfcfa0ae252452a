"""`Evaluator`: the runner's validation and test loops feed it; it runs one or more metrics."""

from __future__ import annotations

from itertools import islice

from hooks_core import EVALUATOR, METRICS
from hooks_core.utils import check_positive_int

from ._base_metric import BaseMetric

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from typing import Any

__all__ = ["Evaluator"]


@EVALUATOR.register_module()
class Evaluator:
    """Run several metrics over the same outputs and merge their results.

    Args:
        metrics: A metric or its config (``dict(type='Accuracy', topk=(1, 5))``),
            or a list of them.

    Raises:
        TypeError: an item is neither a `BaseMetric` nor a config dict.

    Example:
        >>> evaluator = Evaluator([dict(type='Accuracy'), dict(type='MeanSquaredError')])
    """

    def __init__(self, metrics: BaseMetric | dict[str, Any] | Sequence[Any]) -> None:
        items = [metrics] if isinstance(metrics, (BaseMetric, dict)) else list(metrics)
        self.metrics: list[BaseMetric] = [_build_metric(item) for item in items]
        self._dataset_meta: dict[str, Any] | None = None

    @property
    def dataset_meta(self) -> dict[str, Any] | None:
        """The dataset's meta information; setting it sets it on every metric."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict[str, Any] | None) -> None:
        self._dataset_meta = dataset_meta
        for metric in self.metrics:
            metric.dataset_meta = dataset_meta

    def process(self, data_samples: Sequence[Any], data_batch: Any = None) -> None:
        """Hand one batch's outputs (one data sample per input) to every metric.

        A sample with a ``to_dict()`` method (MMEngine's ``BaseDataElement``)
        is handed over as that dict, as MMEngine does.
        """
        samples = [_as_dict(sample) for sample in data_samples]
        for metric in self.metrics:
            metric.process(data_batch, samples)

    def evaluate(self, size: int) -> dict[str, Any]:
        """Compute every metric over the `size` samples of the dataset and merge them.

        Raises:
            ValueError: two metrics produced the same name; give them different prefixes.
        """
        merged: dict[str, Any] = {}
        for metric in self.metrics:
            results = metric.evaluate(size)
            clashes = sorted(set(results) & set(merged))
            if clashes:
                raise ValueError(
                    f"{metric!r} produced metric names that another metric of the evaluator "
                    f"already did: {clashes}; give the metrics different prefixes"
                )
            merged.update(results)
        return merged

    def offline_evaluate(
        self, data_samples: Sequence[Any], data: Sequence[Any] | None = None, chunk_size: int = 1
    ) -> dict[str, Any]:
        """Evaluate saved outputs (e.g. from `DumpResults`) without a model, `chunk_size` at a time.

        Args:
            data_samples: Every output and ground truth of the dataset.
            data: The dataset's inputs, one per data sample; each chunk is
                collated with ``pseudo_collate`` into the metrics' `data_batch`.
            chunk_size: How many samples each `process` call gets.

        Raises:
            TypeError: `chunk_size` is not an int.
            ValueError: `data` and `data_samples` differ in length, or `chunk_size` < 1.
        """
        check_positive_int(chunk_size, "Evaluator.offline_evaluate chunk_size")
        if data is not None and len(data) != len(data_samples):
            raise ValueError(
                f"Evaluator.offline_evaluate got {len(data_samples)} data_samples but "
                f"{len(data)} data; give one input per data sample"
            )
        batches: Iterator[Any] = iter(())
        if data is not None:
            from hooks_core.dataset import pseudo_collate

            batches = (pseudo_collate(chunk) for chunk in _chunks(data, chunk_size))
        size = 0
        for chunk in _chunks(data_samples, chunk_size):
            size += len(chunk)
            self.process(chunk, next(batches, None))
        return self.evaluate(size)

    def __repr__(self) -> str:
        return f"Evaluator({self.metrics!r})"


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _as_dict(sample: Any) -> Any:
    to_dict = None if isinstance(sample, dict) else getattr(sample, "to_dict", None)
    return to_dict() if callable(to_dict) else sample


def _build_metric(item: Any) -> BaseMetric:
    if isinstance(item, dict):
        item = METRICS.build(item)
    if not isinstance(item, BaseMetric):
        raise TypeError(
            f"Evaluator takes metrics (BaseMetric subclasses) or their configs, got "
            f"{type(item).__name__}: {item!r}"
        )
    return item
