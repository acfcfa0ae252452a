"""`BaseMetric`: accumulate per-sample results over a dataloader, then compute metrics once."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod

from hooks_core.checkpoint import weights_to_cpu
from hooks_core.dist import broadcast_object, is_main_process

from ._collect import COLLECT_DEVICES, collect_results

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, ClassVar

__all__ = ["BaseMetric"]


class BaseMetric(ABC):
    """Base class of metrics: `process` each batch, `evaluate` once at the end.

    `process` appends **one item per sample** to ``self.results``, in the order
    of `data_samples`. In distributed runs `evaluate` gathers every rank's items
    in sampler order and drops the sampler's padding, so `compute_metrics` sees
    each sample of the dataset exactly once and the metric equals the one a
    single process computes. It runs on rank 0; every rank returns its result.

    Args:
        collect_device: ``'cpu'`` (tensors are moved to the CPU before ranks
            exchange them; any backend) or ``'gpu'`` (sent as they are).
        prefix: Put before every metric name as ``'{prefix}/{name}'``; None (or
            ``''``) takes the class's `default_prefix`, as in MMEngine.
        collect_dir: With ``collect_device='cpu'``, a folder every rank can see
            through which the results are exchanged as files (MMEngine's); None
            sends them through the process group.

    Raises:
        ValueError: an unknown `collect_device`, or a `collect_dir` with ``'gpu'``.

    Example:
        >>> class SimpleAccuracy(BaseMetric):
        ...     def process(self, data_batch, data_samples):
        ...         for sample in data_samples:
        ...             self.results.append(bool(sample['pred'] == sample['label']))
        ...     def compute_metrics(self, results):
        ...         return {'accuracy': 100 * sum(results) / len(results)}
    """

    default_prefix: ClassVar[str | None] = None

    def __init__(
        self,
        collect_device: str = "cpu",
        prefix: str | None = None,
        collect_dir: str | None = None,
    ) -> None:
        name = type(self).__name__
        if collect_device not in COLLECT_DEVICES:
            raise ValueError(
                f"{name}: collect_device must be one of {COLLECT_DEVICES}, got {collect_device!r}"
            )
        if collect_dir is not None and collect_device != "cpu":
            raise ValueError(f"{name}: collect_dir works only with collect_device='cpu'")
        self.collect_device = collect_device
        self.collect_dir = collect_dir
        self.prefix = prefix or self.default_prefix
        self.results: list[Any] = []
        self._dataset_meta: dict[str, Any] | None = None

    @property
    def dataset_meta(self) -> dict[str, Any] | None:
        """The dataset's meta information (class names...), set by the evaluator."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict[str, Any] | None) -> None:
        self._dataset_meta = dataset_meta

    @abstractmethod
    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Append one result per sample of `data_samples` to ``self.results``."""

    @abstractmethod
    def compute_metrics(self, results: list[Any]) -> dict[str, Any]:
        """Compute the metrics from the results of the whole dataset."""

    def evaluate(self, size: int) -> dict[str, Any]:
        """Gather the results of every rank, compute the metrics and clear the results.

        Args:
            size: The number of samples in the dataset; the items after it,
                the sampler's padding, are dropped.

        Returns:
            The metrics, keyed ``'{prefix}/{name}'``; empty (with a warning) if
            no rank processed anything.
        """
        results = collect_results(  # None on ranks > 0
            self.results, size, self.collect_device, tmpdir=self.collect_dir
        )
        self.results.clear()
        metrics = None
        if is_main_process() and not results:
            warnings.warn(
                f"{type(self).__name__} got no results to evaluate: its process() must append "
                "one item per sample to self.results",
                RuntimeWarning,
                stacklevel=2,
            )
            metrics = {}
        elif is_main_process():  # computed from CPU copies, as in MMEngine
            metrics = self._prefixed(self.compute_metrics(weights_to_cpu(results)))
        gathered: dict[str, Any] = broadcast_object(metrics)
        return gathered

    def _prefixed(self, metrics: dict[str, Any]) -> dict[str, Any]:
        if not self.prefix:
            return dict(metrics)
        return {f"{self.prefix}/{name}": value for name, value in metrics.items()}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(prefix={self.prefix!r}, collect_device={self.collect_device!r})"
        )
