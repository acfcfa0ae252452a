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
    FUNCTIONS,
    HOOKS,
    LOG_BACKENDS,
    LOG_PROCESSORS,
    LOOPS,
    METRICS,
    MODEL_WRAPPERS,
    MODELS,
    OPTIM_WRAPPER_CONSTRUCTORS,
    OPTIM_WRAPPERS,
    OPTIMIZERS,
    PARAM_SCHEDULERS,
    RUNNERS,
    STRATEGIES,
    TASK_UTILS,
    TRANSFORMS,
    VISBACKENDS,
    VISUALIZERS,
    WEIGHT_INITIALIZERS,
    DefaultScope,
    NotRegisteredError,
    PluginConflictError,
    Registry,
    build_from_cfg,
    clear_plugin_cache,
    count_registered_modules,
    import_modules_from_strings,
    init_default_scope,
    traverse_registry_tree,
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
        "BaseRunner": ".runner",
        "EpochBasedRunner": ".runner",
        "IterBasedRunner": ".runner",
        "IterLoader": ".runner",
        "build_runner": ".runner",
        "LogBuffer": ".runner",
        "BaseModel": ".model",
        "BaseDataPreprocessor": ".model",
        "BaseTTAModel": ".model",
        "MessageHub": ".runtime",
        "MMLogger": ".runtime",
        "print_log": ".runtime",
        "HistoryBuffer": ".runtime",
        "TrainingInterrupted": ".runtime",
        "WorkDirLockedError": ".runner",
        "DefaultSampler": ".dataset",
        "InfiniteSampler": ".dataset",
        "pseudo_collate": ".dataset",
        "default_collate": ".dataset",
        "worker_init_fn": ".dataset",
        "RuntimeInfoHook": ".hooks",
        "IterTimerHook": ".hooks",
        "DistSamplerSeedHook": ".hooks",
        "EmptyCacheHook": ".hooks",
        "SyncBuffersHook": ".hooks",
        "ProfilerHook": ".hooks",
        "NPUProfilerHook": ".hooks",
        "PrepareTTAHook": ".hooks",
        "FunctionHook": ".hooks",
        "Config": ".config",
        "ConfigDict": ".config",
        "DictAction": ".config",
        "load_config": ".config",
        "import_custom_modules": ".config",
        "apply_cfg_options": ".config",
    },
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .config import (
        Config,
        ConfigDict,
        DictAction,
        apply_cfg_options,
        import_custom_modules,
        load_config,
    )
    from .dataset import (
        DefaultSampler,
        InfiniteSampler,
        default_collate,
        pseudo_collate,
        worker_init_fn,
    )
    from .hooks import (
        DistSamplerSeedHook,
        EmptyCacheHook,
        FunctionHook,
        IterTimerHook,
        NPUProfilerHook,
        PrepareTTAHook,
        ProfilerHook,
        RuntimeInfoHook,
        SyncBuffersHook,
    )
    from .model import BaseDataPreprocessor, BaseModel, BaseTTAModel
    from .runner import (
        BaseLoop,
        BaseRunner,
        EpochBasedRunner,
        EpochBasedTrainLoop,
        IterBasedRunner,
        IterBasedTrainLoop,
        IterLoader,
        LogBuffer,
        Runner,
        TestLoop,
        ValLoop,
        WorkDirLockedError,
        build_runner,
    )
    from .runtime import HistoryBuffer, MessageHub, MMLogger, TrainingInterrupted, print_log


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
    "BaseDataPreprocessor",
    "BaseTTAModel",
    "BaseLoop",
    "EpochBasedTrainLoop",
    "IterBasedTrainLoop",
    "ValLoop",
    "TestLoop",
    # MMCV 1.x's runners
    "BaseRunner",
    "EpochBasedRunner",
    "IterBasedRunner",
    "IterLoader",
    "build_runner",
    "LogBuffer",
    "MessageHub",
    "HistoryBuffer",
    "MMLogger",
    "print_log",
    "DefaultSampler",
    "InfiniteSampler",
    "pseudo_collate",
    "default_collate",
    "worker_init_fn",
    "TrainingInterrupted",
    "WorkDirLockedError",
    # built-in hooks
    "RuntimeInfoHook",
    "IterTimerHook",
    "DistSamplerSeedHook",
    "EmptyCacheHook",
    "SyncBuffersHook",
    "ProfilerHook",
    "NPUProfilerHook",
    "PrepareTTAHook",
    "FunctionHook",
    # registries and plugins
    "Registry",
    "build_from_cfg",
    "DefaultScope",
    "init_default_scope",
    "traverse_registry_tree",
    "count_registered_modules",
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
    "STRATEGIES",
    "MODEL_WRAPPERS",
    "TRANSFORMS",
    "WEIGHT_INITIALIZERS",
    "TASK_UTILS",
    "RUNNERS",
    "import_modules_from_strings",
    # configs
    "Config",
    "ConfigDict",
    "DictAction",
    "load_config",
    "import_custom_modules",
    "apply_cfg_options",
    "clear_plugin_cache",
    "NotRegisteredError",
    "PluginConflictError",
]
