"""hooks-core: the hook system of a PyTorch training loop, in the spirit of MMEngine.

Importing this package is cheap: it imports neither torch nor numpy. Satellite
packages (hooks-optim, hooks-logging, hooks-eval) register their types into the
registries below through entry points when they are installed. The layers, from
the bottom: `utils`, `registry`, `engine`, `runtime` and `config` (torch-free);
`checkpoint`, `dist`, `dataset` and `model`; the built-in `hooks`; the `runner`.
"""

from __future__ import annotations

from .__about__ import __version__
from .engine import Hook, HookList, Priority, get_priority
from .registry import (
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
    NotRegisteredError,
    PluginConflictError,
    Registry,
    clear_plugin_cache,
    import_modules_from_strings,
)
from .utils import lazy_exports

# The runner and everything it needs load on first use: a library that only
# defines hooks pays for the two bottom layers above. Registries import the
# modules that register their built-in types themselves, on their first miss.
__getattr__ = lazy_exports(
    __name__,
    {
        "Runner": ".runner",
        "BaseLoop": ".runner",
        "EpochBasedTrainLoop": ".runner",
        "IterBasedTrainLoop": ".runner",
        "ValLoop": ".runner",
        "TestLoop": ".runner",
        "BaseModel": ".model",
        "MessageHub": ".runtime",
        "HistoryBuffer": ".runtime",
        "TrainingInterrupted": ".runtime",
        "DefaultSampler": ".dataset",
        "InfiniteSampler": ".dataset",
        "RuntimeInfoHook": ".hooks",
        "IterTimerHook": ".hooks",
        "DistSamplerSeedHook": ".hooks",
        "EmptyCacheHook": ".hooks",
        "SyncBuffersHook": ".hooks",
        "ProfilerHook": ".hooks",
        "FunctionHook": ".hooks",
        "load_config": ".config",
        "import_custom_modules": ".config",
        "apply_cfg_options": ".config",
    },
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .config import apply_cfg_options, import_custom_modules, load_config
    from .dataset import DefaultSampler, InfiniteSampler
    from .hooks import (
        DistSamplerSeedHook,
        EmptyCacheHook,
        FunctionHook,
        IterTimerHook,
        ProfilerHook,
        RuntimeInfoHook,
        SyncBuffersHook,
    )
    from .model import BaseModel
    from .runner import BaseLoop, EpochBasedTrainLoop, IterBasedTrainLoop, Runner, TestLoop, ValLoop
    from .runtime import HistoryBuffer, MessageHub, TrainingInterrupted


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
