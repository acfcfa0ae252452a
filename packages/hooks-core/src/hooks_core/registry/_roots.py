"""The root registries shared by the core and its satellite packages.

Each one reads installed plugins from the entry-point group
``hooks_core.<registry name>`` (for example ``hooks_core.hook``), so a satellite
or third-party package makes its types buildable by name just by being installed.
"""

from __future__ import annotations

from ._plugins import GROUP_PREFIX
from ._registry import Registry

__all__ = [
    "HOOKS",
    "LOOPS",
    "MODELS",
    "DATASETS",
    "DATA_SAMPLERS",
    "OPTIMIZERS",
    "OPTIM_WRAPPERS",
    "OPTIM_WRAPPER_CONSTRUCTORS",
    "PARAM_SCHEDULERS",
    "METRICS",
    "EVALUATOR",
    "LOG_BACKENDS",
    "LOG_PROCESSORS",
    "FUNCTIONS",
    "VISUALIZERS",
    "VISBACKENDS",
    "MODEL_WRAPPERS",
    "TRANSFORMS",
    "WEIGHT_INITIALIZERS",
    "TASK_UTILS",
    "RUNNERS",
    "STRATEGIES",
]


def _root(name: str, *locations: str) -> Registry:
    return Registry(
        name, scope="hooks_core", locations=locations, entry_point_group=GROUP_PREFIX + name
    )


# The core's own types register when these modules are imported, on first miss.
HOOKS = _root("hook", "hooks_core.hooks")
LOOPS = _root("loop", "hooks_core.runner._loops")
# Building a model needs torch anyway; these register the core's own model parts.
MODELS = _root("model", "hooks_core.model._data_preprocessor", "hooks_core.model._base_tta_model")
DATASETS = _root("dataset")
DATA_SAMPLERS = _root("data_sampler", "hooks_core.dataset._samplers")
OPTIMIZERS = _root("optimizer")
OPTIM_WRAPPERS = _root("optim_wrapper")
OPTIM_WRAPPER_CONSTRUCTORS = _root("optim_wrapper_constructor")
PARAM_SCHEDULERS = _root("param_scheduler")
METRICS = _root("metric")
EVALUATOR = _root("evaluator")
LOG_BACKENDS = _root("log_backend")
LOG_PROCESSORS = _root("log_processor")
FUNCTIONS = _root("function", "hooks_core.dataset")  # collate functions, as MMEngine's
VISUALIZERS = _root("visualizer")
VISBACKENDS = _root("vis_backend")
MODEL_WRAPPERS = _root("model_wrapper", "hooks_core.runner._model_wrappers")
TRANSFORMS = _root("transform")
WEIGHT_INITIALIZERS = _root("weight_initializer")
TASK_UTILS = _root("task_util")
RUNNERS = _root("runner", "hooks_core.runner._mmcv_runner")
STRATEGIES = _root("strategy", "hooks_core.runner.strategy")  # how a run wraps its model
