"""`DumpResults`: save a validation's or test's outputs to a pickle file, for offline evaluation."""

from __future__ import annotations

import logging
import os
import pickle

from hooks_core import METRICS
from hooks_core.checkpoint import weights_to_cpu, write_atomically

from ._base_metric import BaseMetric

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["DumpResults"]

_logger = logging.getLogger(__name__)


@METRICS.register_module()
class DumpResults(BaseMetric):
    """Pickle every data sample the model produced (on the CPU), in dataset order; no metrics.

    Load the file with `pickle` and hand it to `Evaluator.offline_evaluate` to
    compute metrics later without the model. The file is written atomically on
    rank 0.

    Args:
        out_file_path: The file to write; it must end with ``.pkl`` or ``.pickle``.
        collect_device: See `BaseMetric`.
        collect_dir: See `BaseMetric`.

    Raises:
        ValueError: `out_file_path` does not end with ``.pkl`` or ``.pickle``.

    Example:
        >>> test_evaluator = [dict(type='Accuracy'), dict(type='DumpResults',
        ...                                               out_file_path='preds.pkl')]
    """

    def __init__(
        self,
        out_file_path: str | os.PathLike[str],
        collect_device: str = "cpu",
        collect_dir: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, collect_dir=collect_dir)
        if not os.fspath(out_file_path).endswith((".pkl", ".pickle")):
            raise ValueError(
                f"DumpResults out_file_path must end with '.pkl' or '.pickle', got "
                f"{os.fspath(out_file_path)!r}"
            )
        self.out_file_path = out_file_path

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep CPU copies of the data samples."""
        self.results.extend(weights_to_cpu(list(data_samples)))

    def compute_metrics(self, results: list[Any]) -> dict[str, Any]:
        """Write `results` to `out_file_path`; there are no metrics."""
        write_atomically(self.out_file_path, lambda file: pickle.dump(results, file))
        _logger.info("DumpResults wrote the results to %s.", os.fspath(self.out_file_path))
        return {}
