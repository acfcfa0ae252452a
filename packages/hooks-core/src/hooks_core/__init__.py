"""hooks-core: the hook system of a PyTorch training loop, in the spirit of MMEngine.

Importing this package is cheap: it imports neither torch nor numpy. Satellite
packages (hooks-optim, hooks-logging, hooks-eval) register their types into the
registries below through entry points when they are installed.
"""

from __future__ import annotations

from .__about__ import __version__
from ._errors import NotRegisteredError, PluginConflictError
from ._hook import Hook
from ._hook_list import HookList
from ._imports import import_modules_from_strings
from ._plugins import clear_plugin_cache
from ._priority import Priority, get_priority
from ._registries import (
    DATA_SAMPLERS,
    DATASETS,
    EVALUATOR,
    HOOKS,
    LOG_BACKENDS,
    LOG_PROCESSORS,
    LOOPS,
    METRICS,
    MODELS,
    OPTIM_WRAPPER_CONSTRUCTORS,
    OPTIM_WRAPPERS,
    OPTIMIZERS,
    PARAM_SCHEDULERS,
)
from ._registry import Registry

__all__ = [
    "__version__",
    # hooks
    "Hook",
    "HookList",
    "Priority",
    "get_priority",
    # registries and plugins
    "Registry",
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
    "import_modules_from_strings",
    "clear_plugin_cache",
    "NotRegisteredError",
    "PluginConflictError",
]
