"""`Evaluator`: the runner's validation and test loops feed it; it runs one or more metrics."""

from __future__ import annotations

from hooks_core import EVALUATOR, METRICS

from ._base_metric import BaseMetric

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
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

    def process(self, data_samples: Sequence[Any], data_batch: Any = None) -> None:
        """Hand one batch's outputs (one data sample per input) to every metric."""
        for metric in self.metrics:
            metric.process(data_batch, data_samples)

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

    def __repr__(self) -> str:
        return f"Evaluator({self.metrics!r})"


def _build_metric(item: Any) -> BaseMetric:
    if isinstance(item, dict):
        item = METRICS.build(item)
    if not isinstance(item, BaseMetric):
        raise TypeError(
            f"Evaluator takes metrics (BaseMetric subclasses) or their configs, got "
            f"{type(item).__name__}: {item!r}"
        )
    return item
