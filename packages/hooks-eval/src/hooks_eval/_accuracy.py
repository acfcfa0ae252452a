"""`Accuracy`: top-k classification accuracy, named as MMPretrain names it (``accuracy/top1``)."""

from __future__ import annotations

from hooks_core import METRICS

from ._base_metric import BaseMetric
from ._samples import sample_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

__all__ = ["Accuracy"]


@METRICS.register_module()
class Accuracy(BaseMetric):
    """The percentage of samples whose label is among the `k` highest scores, for each `k`.

    Each data sample gives ``gt_label`` (an int or a one-element tensor) and
    either ``pred_score`` (a 1-D tensor of class scores) or, for top-1 only,
    ``pred_label``; as dict keys or attributes (MMPretrain's ``DataSample``).
    Correctness is computed on the scores' device, one transfer per batch.

    Args:
        topk: ``k`` or several of them; each gives a metric ``'top{k}'``.
        collect_device: See `BaseMetric`.
        prefix: See `BaseMetric`; ``'accuracy'`` by default.

    Raises:
        ValueError: a `k` that is not a positive int.

    Example:
        >>> metric = Accuracy(topk=(1, 5))  # {'accuracy/top1': ..., 'accuracy/top5': ...}
    """

    default_prefix = "accuracy"

    def __init__(
        self,
        topk: int | Sequence[int] = (1,),
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device, prefix)
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not self.topk or any(
            isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in self.topk
        ):
            raise ValueError(f"Accuracy topk must be positive ints, got {topk!r}")

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Append, per sample, whether its label is in the top `k` for each `k`."""
        import torch

        if not data_samples:
            return
        labels = _stacked(sample_field(s, "gt_label", "Accuracy") for s in data_samples)
        scores = [sample_field(s, "pred_score", "Accuracy", None) for s in data_samples]
        if all(score is not None for score in scores):
            ranked = self._ranked(torch.stack([torch.as_tensor(s).flatten() for s in scores]))
        else:
            if max(self.topk) > 1:
                raise ValueError(
                    f"Accuracy with topk={self.topk} needs 'pred_score' in every data sample; "
                    "'pred_label' only gives top-1"
                )
            predicted = (sample_field(s, "pred_label", "Accuracy") for s in data_samples)
            ranked = _stacked(predicted).unsqueeze(1)
        hits = ranked == labels.to(ranked.device).unsqueeze(1)  # (samples, max k)
        correct = torch.stack([hits[:, :k].any(dim=1) for k in self.topk], dim=1).cpu()
        self.results.extend(correct.unbind(0))

    def _ranked(self, scores: Any) -> Any:
        """The indices of the `max(topk)` highest scores of each row."""
        largest = max(self.topk)
        if largest > scores.shape[1]:
            raise ValueError(
                f"Accuracy topk={self.topk} asks for the top {largest} of "
                f"{scores.shape[1]} class scores"
            )
        return scores.topk(largest, dim=1).indices

    def compute_metrics(self, results: list[Any]) -> dict[str, float]:
        """``{'top{k}': percentage}`` for each `k`."""
        import torch

        rates = torch.stack(results).double().mean(dim=0) * 100
        return {f"top{k}": float(rate) for k, rate in zip(self.topk, rates.tolist(), strict=True)}


def _stacked(labels: Iterable[Any]) -> Any:
    """One tensor of labels (ints or one-element tensors), kept on their device: no sync."""
    import torch

    return torch.stack([torch.as_tensor(label).reshape(()) for label in labels]).long()
