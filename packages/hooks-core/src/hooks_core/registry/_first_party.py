"""Which first-party package provides which names, for "not installed" hints.

The core cannot import its satellites, but it can tell a user which one to
install when a config names a type that only a satellite provides. Each
satellite's tests check that this table matches the entry points it declares.
"""

from __future__ import annotations

import functools
import os

__all__ = [
    "install_hint",
    "pip_install",
    "first_party_names",
    "first_party_requirements",
    "registry_owners",
]

# Hook types that a satellite registers, with the requirement that provides them.
_LR_POLICIES = ("Fixed", "Step", "Exp", "Poly", "Inv", "CosineAnnealing", "FlatCosineAnnealing",
                "CosineRestart", "Cyclic", "OneCycle", "LinearAnnealing")  # fmt: skip
_MOMENTUM_POLICIES = ("Step", "CosineAnnealing", "LinearAnnealing", "Cyclic", "OneCycle")
_HOOKS: dict[str, str] = {
    "ParamSchedulerHook": "hooks-optim",
    "EMAHook": "hooks-optim",
    # MMCV 1.x's updater and optimizer hooks
    **{f"{policy}LrUpdaterHook": "hooks-optim" for policy in _LR_POLICIES},
    **{f"{policy}MomentumUpdaterHook": "hooks-optim" for policy in _MOMENTUM_POLICIES},
    "OptimizerHook": "hooks-optim",
    "GradientCumulativeOptimizerHook": "hooks-optim",
    "Fp16OptimizerHook": "hooks-optim",
    "GradientCumulativeFp16OptimizerHook": "hooks-optim",
    "LoggerHook": "hooks-logging",
    "TextLoggerHook": "hooks-logging",
    "TensorboardLoggerHook": "hooks-logging[tensorboard]",
    "WandbLoggerHook": "hooks-logging[wandb]",
    "MlflowLoggerHook": "hooks-logging[mlflow]",
    "NeptuneLoggerHook": "hooks-logging[neptune]",
    "DvcliveLoggerHook": "hooks-logging[dvclive]",
    "ClearMLLoggerHook": "hooks-logging[clearml]",
    "NaiveVisualizationHook": "hooks-logging",
    "CheckpointHook": "hooks-eval",
    "EvalHook": "hooks-eval",
    "DistEvalHook": "hooks-eval",
    "EarlyStoppingHook": "hooks-eval",
}

# Logger backends whose library is an extra of hooks-logging.
_TRACKERS = ("tensorboard", "wandb", "mlflow", "neptune", "dvclive", "comet", "clearml", "aim",
             "swanlab")  # fmt: skip
_LOG_BACKENDS: dict[str, str] = {name: f"hooks-logging[{name}]" for name in _TRACKERS}

# Registries that a single satellite fills entirely.
_REGISTRY_OWNERS: dict[str, str] = {
    "optimizer": "hooks-optim",
    "optim_wrapper": "hooks-optim",
    "optim_wrapper_constructor": "hooks-optim",
    "param_scheduler": "hooks-optim",
    "metric": "hooks-eval",
    "evaluator": "hooks-eval",
    "log_backend": "hooks-logging",
    "log_processor": "hooks-logging",
    "visualizer": "hooks-logging",
    "vis_backend": "hooks-logging",
}

_BY_REGISTRY: dict[str, dict[str, str]] = {"hook": _HOOKS, "log_backend": _LOG_BACKENDS}


def first_party_names(registry: str) -> list[str]:
    """Names known to come from a first-party satellite for `registry`."""
    return sorted(_BY_REGISTRY.get(registry, {}))


def first_party_requirements(registry: str) -> dict[str, str]:
    """Name -> the requirement that provides it, for the names of `registry` listed one by one."""
    return dict(_BY_REGISTRY.get(registry, {}))


def registry_owners() -> dict[str, str]:
    """Registry name -> the satellite that fills it entirely (``'metric'`` -> ``'hooks-eval'``)."""
    return dict(_REGISTRY_OWNERS)


def install_hint(registry: str, name: str) -> str | None:
    """Say which package to install for `name`, or None if it is not first-party.

    When the package is installed but still does not provide `name`, the hint
    says so and suggests an upgrade instead.
    """
    named = _BY_REGISTRY.get(registry, {}).get(name)
    requirement = named or _REGISTRY_OWNERS.get(registry)
    if requirement is None:
        return None
    package = requirement.split("[", 1)[0]
    if _installed(package):
        return (
            f"{package} is installed but does not provide {name!r}; "
            f"check the spelling, or upgrade it: {pip_install(requirement, upgrade=True)}"
        )
    provider = f"{name!r} is provided by" if named else f"{registry} types are provided by"
    return f"{provider} {package}, which is not installed: {pip_install(requirement)}"


def pip_install(requirement: str, upgrade: bool = False) -> str:
    """The command that installs a first-party `requirement` (``'hooks-logging[wandb]'``) here.

    When hooks-core was installed from a checkout of this project (editable, or
    from its folder), the sibling packages are installed from that checkout, since
    the index may not have them; the folder is given relative to the current
    directory when it is below it. Otherwise the index name.
    """
    package, bracket, extras = requirement.partition("[")
    packages = _checkout_packages()
    target = requirement
    if packages is not None and os.path.isdir(os.path.join(packages, package)):
        folder = os.path.join(packages, package)
        relative = os.path.relpath(folder)
        target = (f"./{relative}" if not relative.startswith("..") else folder) + bracket + extras
    return f'pip install{" -U" if upgrade else ""} "{target}"'


@functools.cache
def _checkout_packages() -> str | None:
    """The ``packages/`` folder of the checkout hooks-core came from, or None.

    An editable install runs from the checkout itself; any other install from a
    folder records it in the distribution's ``direct_url.json``.
    """
    here = os.path.dirname(os.path.abspath(__file__))  # .../hooks_core/registry
    package_dir = os.path.dirname(os.path.dirname(os.path.dirname(here)))  # .../hooks-core?
    if os.path.isfile(os.path.join(package_dir, "pyproject.toml")):
        return os.path.dirname(package_dir)
    return _recorded_checkout(os.path.dirname(os.path.dirname(here)))


def _recorded_checkout(site_packages: str) -> str | None:
    """The ``packages/`` folder named by hooks-core's ``direct_url.json`` in `site_packages`."""
    import glob
    import json
    from urllib.parse import unquote, urlparse

    for record in glob.glob(os.path.join(site_packages, "hooks_core-*.dist-info/direct_url.json")):
        with open(record, encoding="utf-8") as file:
            url = urlparse(json.load(file).get("url", ""))
        if url.scheme == "file":
            packages = os.path.dirname(unquote(url.path).rstrip("/"))
            if os.path.isdir(os.path.join(packages, "hooks-core")):
                return packages
    return None


def _installed(package: str) -> bool:
    from importlib.metadata import PackageNotFoundError, distribution  # slow to import

    try:
        distribution(package)
    except PackageNotFoundError:
        return False
    return True
