"""Result collection for metrics: MMEngine's `collect_results`, whose home is `hooks_core.dist`.

It returns the results of every rank, in dataset order, on rank 0 and None
on the other ranks; `BaseMetric.evaluate` computes metrics there and
broadcasts them.
"""

from __future__ import annotations

from hooks_core.dist import collect_results

__all__ = ["COLLECT_DEVICES", "collect_results"]

# The `collect_device`s a metric takes: how `collect_results` moves results between ranks.
COLLECT_DEVICES = ("cpu", "gpu")
