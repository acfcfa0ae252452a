"""hooks-optim: optimizer wrappers, optimizer construction, parameter schedulers and EMA.

Importing it registers every type into hooks-core's registries; hooks-core does
that itself, through entry points, the first time a config names one of them.
"""

from __future__ import annotations

from hooks_core import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS, PARAM_SCHEDULERS

from .__about__ import __version__
from ._amp_optim_wrapper import AmpOptimWrapper
from ._averaged_model import (
    BaseAveragedModel,
    ExponentialMovingAverage,
    MomentumAnnealingEMA,
    StochasticWeightAverage,
)
from ._base_optim_wrapper import BaseOptimWrapper
from ._constructor import DefaultOptimWrapperConstructor, build_optim_wrapper
from ._ema_hook import EMAHook
from ._fp16_utils import auto_fp16, cast_tensor_type, force_fp32, wrap_fp16_model
from ._mmcv_lr_updater import (
    CosineAnnealingLrUpdaterHook,
    CosineRestartLrUpdaterHook,
    CyclicLrUpdaterHook,
    ExpLrUpdaterHook,
    FixedLrUpdaterHook,
    FlatCosineAnnealingLrUpdaterHook,
    InvLrUpdaterHook,
    LinearAnnealingLrUpdaterHook,
    LrUpdaterHook,
    OneCycleLrUpdaterHook,
    PolyLrUpdaterHook,
    StepLrUpdaterHook,
    annealing_cos,
    annealing_linear,
)
from ._mmcv_momentum_updater import (
    CosineAnnealingMomentumUpdaterHook,
    CyclicMomentumUpdaterHook,
    LinearAnnealingMomentumUpdaterHook,
    MomentumUpdaterHook,
    OneCycleMomentumUpdaterHook,
    StepMomentumUpdaterHook,
)
from ._mmcv_optimizer_hooks import (
    Fp16OptimizerHook,
    GradientCumulativeFp16OptimizerHook,
    GradientCumulativeOptimizerHook,
    OptimizerHook,
)
from ._optim_wrapper import OptimWrapper
from ._optim_wrapper_dict import OptimWrapperDict
from ._optimizers import register_torch_optimizers
from ._param_scheduler_hook import ParamSchedulerHook
from ._schedulers import (
    INF,
    ConstantLR,
    ConstantMomentum,
    ConstantParamScheduler,
    CosineAnnealingLR,
    CosineAnnealingMomentum,
    CosineAnnealingParamScheduler,
    CosineRestartLR,
    CosineRestartMomentum,
    CosineRestartParamScheduler,
    CyclicLR,
    CyclicMomentum,
    CyclicParamScheduler,
    ExponentialLR,
    ExponentialMomentum,
    ExponentialParamScheduler,
    FlatCosineAnnealingLR,
    FlatCosineAnnealingMomentum,
    FlatCosineAnnealingParamScheduler,
    InverseLR,
    InverseMomentum,
    InverseParamScheduler,
    LinearLR,
    LinearMomentum,
    LinearParamScheduler,
    LRSchedulerMixin,
    MomentumSchedulerMixin,
    MultiStepLR,
    MultiStepMomentum,
    MultiStepParamScheduler,
    OneCycleLR,
    OneCycleMomentum,
    OneCycleParamScheduler,
    PolyLR,
    PolyMomentum,
    PolyParamScheduler,
    ReduceOnPlateauLR,
    ReduceOnPlateauMomentum,
    ReduceOnPlateauParamScheduler,
    StepLR,
    StepMomentum,
    StepParamScheduler,
    _ParamScheduler,
)

__all__ = [
    "__version__",
    # the registries (hooks-core's), where MMEngine's mmengine.optim exports them
    "OPTIMIZERS",
    "OPTIM_WRAPPERS",
    "OPTIM_WRAPPER_CONSTRUCTORS",
    "PARAM_SCHEDULERS",
    # optimizer wrappers and construction
    "BaseOptimWrapper",
    "OptimWrapper",
    "AmpOptimWrapper",
    "OptimWrapperDict",
    "DefaultOptimWrapperConstructor",
    "build_optim_wrapper",
    "register_torch_optimizers",
    # hooks
    "ParamSchedulerHook",
    "EMAHook",
    # MMCV 1.x's optimizer, learning-rate and momentum hooks, and fp16 decorators
    "OptimizerHook",
    "GradientCumulativeOptimizerHook",
    "Fp16OptimizerHook",
    "GradientCumulativeFp16OptimizerHook",
    "auto_fp16",
    "force_fp32",
    "wrap_fp16_model",
    "cast_tensor_type",
    "LrUpdaterHook",
    "annealing_cos",
    "annealing_linear",
    "FixedLrUpdaterHook",
    "StepLrUpdaterHook",
    "ExpLrUpdaterHook",
    "PolyLrUpdaterHook",
    "InvLrUpdaterHook",
    "CosineAnnealingLrUpdaterHook",
    "FlatCosineAnnealingLrUpdaterHook",
    "CosineRestartLrUpdaterHook",
    "CyclicLrUpdaterHook",
    "OneCycleLrUpdaterHook",
    "LinearAnnealingLrUpdaterHook",
    "MomentumUpdaterHook",
    "StepMomentumUpdaterHook",
    "CosineAnnealingMomentumUpdaterHook",
    "LinearAnnealingMomentumUpdaterHook",
    "CyclicMomentumUpdaterHook",
    "OneCycleMomentumUpdaterHook",
    # averaged models
    "BaseAveragedModel",
    "ExponentialMovingAverage",
    "MomentumAnnealingEMA",
    "StochasticWeightAverage",
    # parameter schedulers
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
