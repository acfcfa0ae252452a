"""Models the runner trains: `BaseModel` (the step protocol from a `forward`), its data
preprocessor, `BaseTTAModel` for test-time augmentation, and putting a model on its device and
inside DistributedDataParallel (`wrap_model`, `unwrap_model`, `DistributedModel`).
"""

from __future__ import annotations

from ..utils import lazy_exports
from ._wrapper import is_model_wrapper, model_class_name, unwrap_model, wrap_model

__all__ = [
    "BaseModel",
    "BaseDataPreprocessor",
    "BaseTTAModel",
    "DistributedModel",
    "wrap_model",
    "unwrap_model",
    "is_model_wrapper",
    "model_class_name",
]

# These import torch; wrap/unwrap do not, so a runner can be imported without it.
__getattr__ = lazy_exports(
    __name__,
    {
        "BaseModel": "._base_model",
        "BaseDataPreprocessor": "._data_preprocessor",
        "BaseTTAModel": "._base_tta_model",
        "DistributedModel": "._ddp",
    },
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._base_model import BaseModel
    from ._base_tta_model import BaseTTAModel
    from ._data_preprocessor import BaseDataPreprocessor
    from ._ddp import DistributedModel
