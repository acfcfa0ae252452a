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

# The runner and everything it needs load on first use: a library that only
# defines hooks pays for the few modules above. Registries import the modules
# that register their built-in types themselves, on their first miss.
_LAZY = {
    "Runner": "._runner",
    "BaseModel": "._model",
    "BaseLoop": "._loops",
    "EpochBasedTrainLoop": "._loops",
    "IterBasedTrainLoop": "._loops",
    "ValLoop": "._loops",
    "TestLoop": "._loops",
    "MessageHub": "._message_hub",
    "HistoryBuffer": "._message_hub",
    "DefaultSampler": "._samplers",
    "InfiniteSampler": "._samplers",
    "TrainingInterrupted": "._signals",
    "RuntimeInfoHook": "._hooks",
    "IterTimerHook": "._hooks",
    "DistSamplerSeedHook": "._hooks",
    "EmptyCacheHook": "._hooks",
    "SyncBuffersHook": "._hooks",
    "ProfilerHook": "._hooks",
    "FunctionHook": "._hooks",
    "load_config": "._config",
    "import_custom_modules": "._config",
    "apply_cfg_options": "._cfg_options",
}

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._cfg_options import apply_cfg_options
    from ._config import import_custom_modules, load_config
    from ._hooks import (
        DistSamplerSeedHook,
        EmptyCacheHook,
        FunctionHook,
        IterTimerHook,
        ProfilerHook,
        RuntimeInfoHook,
        SyncBuffersHook,
    )
    from ._loops import BaseLoop, EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop
    from ._message_hub import HistoryBuffer, MessageHub
    from ._model import BaseModel
    from ._runner import Runner
    from ._samplers import DefaultSampler, InfiniteSampler
    from ._signals import TrainingInterrupted


def __getattr__(name: str) -> object:
    """Import a lazily loaded public name on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hooks_core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "__version__",
    # hooks
    "Hook",
    "HookList",
    "Priority",
    "get_priority",
    # running
    "Runner",
    "BaseModel",
    "BaseLoop",
    "EpochBasedTrainLoop",
    "IterBasedTrainLoop",
    "ValLoop",
    "TestLoop",
    "MessageHub",
    "HistoryBuffer",
    "DefaultSampler",
    "InfiniteSampler",
    "TrainingInterrupted",
    # built-in hooks
    "RuntimeInfoHook",
    "IterTimerHook",
    "DistSamplerSeedHook",
    "EmptyCacheHook",
    "SyncBuffersHook",
    "ProfilerHook",
    "FunctionHook",
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
    "load_config",
    "import_custom_modules",
    "apply_cfg_options",
    "clear_plugin_cache",
    "NotRegisteredError",
    "PluginConflictError",
]
