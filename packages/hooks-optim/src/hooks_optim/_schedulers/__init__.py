"""Parameter schedulers: learning rate, momentum or any param-group value over training.

Every class is registered in ``hooks_core.PARAM_SCHEDULERS`` under MMEngine's
name (``LinearLR``, ``CosineAnnealingLR``...), plus MMCV's policies that
MMEngine dropped (``InverseLR``, ``FlatCosineAnnealingLR``, ``CyclicLR``).
Each family comes as ``XxxParamScheduler(optimizer, param_name, ...)``,
``XxxLR`` and ``XxxMomentum``.
"""

from __future__ import annotations

from ._base import INF, LRSchedulerMixin, MomentumSchedulerMixin, _ParamScheduler
from ._cosine import (
    CosineAnnealingLR,
    CosineAnnealingMomentum,
    CosineAnnealingParamScheduler,
    CosineRestartLR,
    CosineRestartMomentum,
    CosineRestartParamScheduler,
    FlatCosineAnnealingLR,
    FlatCosineAnnealingMomentum,
    FlatCosineAnnealingParamScheduler,
)
from ._cyclic import (
    CyclicLR,
    CyclicMomentum,
    CyclicParamScheduler,
    OneCycleLR,
    OneCycleMomentum,
    OneCycleParamScheduler,
)
from ._decay import (
    InverseLR,
    InverseMomentum,
    InverseParamScheduler,
    LinearLR,
    LinearMomentum,
    LinearParamScheduler,
    PolyLR,
    PolyMomentum,
    PolyParamScheduler,
)
from ._plateau import (
    ReduceOnPlateauLR,
    ReduceOnPlateauMomentum,
    ReduceOnPlateauParamScheduler,
)
from ._step import (
    ConstantLR,
    ConstantMomentum,
    ConstantParamScheduler,
    ExponentialLR,
    ExponentialMomentum,
    ExponentialParamScheduler,
    MultiStepLR,
    MultiStepMomentum,
    MultiStepParamScheduler,
    StepLR,
    StepMomentum,
    StepParamScheduler,
)

__all__ = [
    "INF",
    "_ParamScheduler",
    "LRSchedulerMixin",
    "MomentumSchedulerMixin",
    "ConstantParamScheduler",
    "ConstantLR",
    "ConstantMomentum",
    "LinearParamScheduler",
    "LinearLR",
    "LinearMomentum",
    "StepParamScheduler",
    "StepLR",
    "StepMomentum",
    "MultiStepParamScheduler",
    "MultiStepLR",
    "MultiStepMomentum",
    "ExponentialParamScheduler",
    "ExponentialLR",
    "ExponentialMomentum",
    "PolyParamScheduler",
    "PolyLR",
    "PolyMomentum",
    "CosineAnnealingParamScheduler",
    "CosineAnnealingLR",
    "CosineAnnealingMomentum",
    "CosineRestartParamScheduler",
    "CosineRestartLR",
    "CosineRestartMomentum",
    "OneCycleParamScheduler",
    "OneCycleLR",
    "OneCycleMomentum",
    "ReduceOnPlateauParamScheduler",
    "ReduceOnPlateauLR",
    "ReduceOnPlateauMomentum",
    "InverseParamScheduler",
    "InverseLR",
    "InverseMomentum",
    "FlatCosineAnnealingParamScheduler",
    "FlatCosineAnnealingLR",
    "FlatCosineAnnealingMomentum",
    "CyclicParamScheduler",
    "CyclicLR",
    "CyclicMomentum",
]
