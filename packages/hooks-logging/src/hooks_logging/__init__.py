"""hooks-logging: logging for hooks-core runs, and logger backends usable from any training loop.

Importing it registers `LoggerHook` (hooks-core's default ``logger`` hook),
the MMCV logger hook names (``TextLoggerHook``, ``TensorboardLoggerHook``,
``WandbLoggerHook``, ``MlflowLoggerHook``, ``NeptuneLoggerHook``,
``DvcliveLoggerHook``, ``ClearMLLoggerHook``), the `LogProcessor`, and the backends by name
(``'json'``, ``'text'``, ``'tensorboard'``, ``'wandb'``, ``'mlflow'``,
``'neptune'``, ``'dvclive'``, ``'comet'``, ``'clearml'``, ``'aim'``, ``'swanlab'``), and MMEngine's
visualization names: the `Visualizer`, its vis backends (``LocalVisBackend``,
``TensorboardVisBackend``, ``WandbVisBackend``, ``MLflowVisBackend``,
``NeptuneVisBackend``, ``DVCLiveVisBackend``, ``ClearMLVisBackend``,
``AimVisBackend``) and `NaiveVisualizationHook`. It imports none of torch,
tensorboard or the trackers' libraries until something that needs them is
built, and Lightning or transformers only when `LightningLogger` or
`HFTrainerCallback` is used.
"""

from __future__ import annotations

from hooks_core.utils import lazy_exports

from .__about__ import __version__
from ._aim_backend import AimBackend
from ._backend import LoggerBackend
from ._clearml_backend import ClearMLBackend
from ._comet_backend import CometBackend
from ._dvclive_backend import DvcliveBackend
from ._json_backend import JsonBackend
from ._log_processor import LogProcessor
from ._logger_hook import LoggerHook
from ._mlflow_backend import MlflowBackend
from ._mmcv_loggers import (
    ClearMLLoggerHook,
    DvcliveLoggerHook,
    MlflowLoggerHook,
    NeptuneLoggerHook,
    TensorboardLoggerHook,
    TextLoggerHook,
    WandbLoggerHook,
)
from ._naive_visualization_hook import NaiveVisualizationHook
from ._neptune_backend import NeptuneBackend
from ._secrets import mask_secrets
from ._swanlab_backend import SwanLabBackend
from ._tensorboard_backend import TensorboardBackend
from ._text_backend import TextBackend
from ._vis_backend_base import BaseVisBackend, force_init_env
from ._vis_backends import (
    AimVisBackend,
    ClearMLVisBackend,
    DVCLiveVisBackend,
    LocalVisBackend,
    MLflowVisBackend,
    NeptuneVisBackend,
    TensorboardVisBackend,
    WandbVisBackend,
)
from ._visualizer import Visualizer
from ._wandb_backend import WandbBackend

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._lightning import LightningLogger
    from ._transformers import HFTrainerCallback

__all__ = [
    "__version__",
    "LoggerHook",
    "LogProcessor",
    "LoggerBackend",
    "JsonBackend",
    "TextBackend",
    "TensorboardBackend",
    "WandbBackend",
    "MlflowBackend",
    "NeptuneBackend",
    "DvcliveBackend",
    "CometBackend",
    "ClearMLBackend",
    "AimBackend",
    "SwanLabBackend",
    "LightningLogger",
    "HFTrainerCallback",
    "TextLoggerHook",
    "TensorboardLoggerHook",
    "WandbLoggerHook",
    "MlflowLoggerHook",
    "NeptuneLoggerHook",
    "DvcliveLoggerHook",
    "ClearMLLoggerHook",
    "mask_secrets",
    "Visualizer",
    "BaseVisBackend",
    "LocalVisBackend",
    "TensorboardVisBackend",
    "WandbVisBackend",
    "MLflowVisBackend",
    "NeptuneVisBackend",
    "DVCLiveVisBackend",
    "ClearMLVisBackend",
    "AimVisBackend",
    "NaiveVisualizationHook",
    "force_init_env",
]

# The framework adapters, imported (with their framework) on first use.
__getattr__ = lazy_exports(
    __name__, {"LightningLogger": "._lightning", "HFTrainerCallback": "._transformers"}
)
