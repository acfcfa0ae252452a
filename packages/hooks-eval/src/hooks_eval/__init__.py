"""hooks-eval: evaluator and metrics, checkpoints and best checkpoints, evaluation, early stopping.

Importing it registers every type into hooks-core's registries; hooks-core does
that itself, through entry points, the first time a config names one of them.
Installing it also gives the runner its ``checkpoint`` default hook,
``dict(type='CheckpointHook', interval=1)``.
"""

from __future__ import annotations

from .__about__ import __version__
from ._accuracy import Accuracy
from ._base_metric import BaseMetric
from ._checkpoint_hook import DEFAULT_CHECKPOINT_HOOK, CheckpointHook
from ._collect import collect_results
from ._dist_eval_hook import DistEvalHook
from ._dump_results import DumpResults
from ._early_stopping_hook import EarlyStoppingHook
from ._eval_hook import EvalHook
from ._evaluator import Evaluator
from ._mean_squared_error import MeanSquaredError
from ._mmcv_test import multi_gpu_test, single_gpu_test

__all__ = [
    "__version__",
    # evaluation
    "BaseMetric",
    "Evaluator",
    "Accuracy",
    "MeanSquaredError",
    "DumpResults",
    "collect_results",
    "single_gpu_test",
    "multi_gpu_test",
    # hooks
    "CheckpointHook",
    "EvalHook",
    "DistEvalHook",
    "EarlyStoppingHook",
    "DEFAULT_CHECKPOINT_HOOK",
]
