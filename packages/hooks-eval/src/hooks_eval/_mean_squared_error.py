"""`MeanSquaredError`: the mean squared error over every element of every sample."""

from __future__ import annotations

from hooks_core import METRICS

from ._base_metric import BaseMetric
from ._samples import sample_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["MeanSquaredError"]


@METRICS.register_module()
class MeanSquaredError(BaseMetric):
    """The mean of ``(prediction - target) ** 2`` over all elements of all samples: ``'mse'``.

    Each data sample gives ``prediction`` and ``target``, tensors (or numbers)
    of the same shape, as dict keys or attributes. Squared errors are summed
    on the tensors' device, one transfer per batch.

    Args:
        collect_device: See `BaseMetric`.
        prefix: See `BaseMetric`; none by default, so the metric is ``'mse'``.
    """

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Append, per sample, its sum of squared errors and its number of elements."""
        import torch

        if not data_samples:
            return
        sums, sizes = [], []
        for sample in data_samples:
            prediction = torch.as_tensor(sample_field(sample, "prediction", "MeanSquaredError"))
            target = torch.as_tensor(sample_field(sample, "target", "MeanSquaredError"))
            if prediction.shape != target.shape:
                raise ValueError(
                    f"MeanSquaredError: a sample's prediction has shape {tuple(prediction.shape)} "
                    f"but its target {tuple(target.shape)}; they must match"
                )
            sums.append(((prediction - target.to(prediction.device)) ** 2).sum())
            sizes.append(prediction.numel())
        totals = torch.stack(sums).double().cpu()
        self.results.extend(zip(totals.unbind(0), sizes, strict=True))

    def compute_metrics(self, results: list[Any]) -> dict[str, float]:
        """``{'mse': mean squared error}``."""
        total = sum(float(squares) for squares, _ in results)
        return {"mse": total / sum(size for _, size in results)}
