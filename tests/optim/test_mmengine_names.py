"""`hooks_optim` offers what ``mmengine.optim`` exports, under the same names."""

from __future__ import annotations

import hooks_optim

# mmengine.optim.__all__ (0.10.7) and its scheduler subpackage's, but for the names with
# no equivalent here (see docs/migration.md): ApexOptimWrapper and ZeroRedundancyOptimizer.
MMENGINE_OPTIM = [
    "OPTIM_WRAPPER_CONSTRUCTORS",
    "OPTIMIZERS",
    "build_optim_wrapper",
    "DefaultOptimWrapperConstructor",
    "ConstantLR",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LinearLR",
    "MultiStepLR",
    "StepLR",
    "ConstantMomentum",
    "CosineAnnealingMomentum",
    "ExponentialMomentum",
    "LinearMomentum",
    "MultiStepMomentum",
    "StepMomentum",
    "ConstantParamScheduler",
    "CosineAnnealingParamScheduler",
    "ExponentialParamScheduler",
    "LinearParamScheduler",
    "MultiStepParamScheduler",
    "StepParamScheduler",
    "_ParamScheduler",
    "OptimWrapper",
    "AmpOptimWrapper",
    "OptimWrapperDict",
    "OneCycleParamScheduler",
    "OneCycleLR",
    "PolyLR",
    "PolyMomentum",
    "PolyParamScheduler",
    "ReduceOnPlateauLR",
    "ReduceOnPlateauMomentum",
    "ReduceOnPlateauParamScheduler",
    "BaseOptimWrapper",
    "CosineRestartParamScheduler",
    "CosineRestartLR",
    "CosineRestartMomentum",
]

# What mmengine.model and mmengine.hooks export that lives in this package.
MMENGINE_MODEL_AND_HOOKS = [
    "BaseAveragedModel",
    "ExponentialMovingAverage",
    "MomentumAnnealingEMA",
    "StochasticWeightAverage",
    "EMAHook",
    "ParamSchedulerHook",
]


def test_every_mmengine_optim_name_is_exported() -> None:
    missing = [
        name
        for name in (*MMENGINE_OPTIM, *MMENGINE_MODEL_AND_HOOKS)
        if name not in hooks_optim.__all__ or not hasattr(hooks_optim, name)
    ]
    assert missing == []
