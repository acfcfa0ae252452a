"""`DefaultOptimWrapperConstructor`: turns an ``optim_wrapper`` config and a model into a wrapper.

The runner's `build_optim_wrapper` builds this constructor from the config
(minus ``constructor`` and ``paramwise_cfg``) and calls it with the model. The
constructor builds the optimizer through `OPTIMIZERS` and the wrapper through
`OPTIM_WRAPPERS`, both by name, so either can be a third-party type.

With a ``paramwise_cfg``, each trainable parameter gets a param group of its own
whose ``lr`` and ``weight_decay`` are the optimizer's, scaled by the multipliers
that apply to it, with MMEngine's semantics: it is how detection and
segmentation recipes exclude norms and biases from weight decay or train a
pretrained backbone more slowly than a new head. Every option is checked when
the constructor is built, so a typo fails before any parameter is touched.
"""

from __future__ import annotations

import copy
import difflib
import math
import warnings
from collections.abc import Mapping

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.modules.instancenorm import _InstanceNorm

from hooks_core import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from torch import Tensor

__all__ = ["DefaultOptimWrapperConstructor"]

# Each multiplier option of paramwise_cfg, and the param-group value it scales.
_MULTIPLIERS = {
    "bias_lr_mult": "lr",
    "bias_decay_mult": "weight_decay",
    "norm_decay_mult": "weight_decay",
    "dwconv_decay_mult": "weight_decay",
    "flat_decay_mult": "weight_decay",
}
_OPTIONS = ("custom_keys", *_MULTIPLIERS, "bypass_duplicate")
# The multipliers of a custom_keys entry; its other keys are copied into the param group.
_CUSTOM_MULTIPLIERS = {"lr_mult": "lr", "decay_mult": "weight_decay"}

# Layers whose weights and biases `norm_decay_mult` scales (RMSNorm exists in torch >= 2.4).
_NORM_TYPES: tuple[type[nn.Module], ...] = tuple(
    cls
    for cls in (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm, getattr(nn, "RMSNorm", None))
    if cls is not None
)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DefaultOptimWrapperConstructor:
    """Build an optimizer wrapper for a model, optionally with per-parameter lr and weight decay.

    Args:
        optim_wrapper_cfg: The wrapper config: ``optimizer``, a dict config for
            `OPTIMIZERS` without ``params`` (the constructor supplies them); the
            wrapper ``type`` (default ``'OptimWrapper'``); and the wrapper's
            other options (``accumulative_counts``, ``clip_grad``, ...).
        paramwise_cfg: Per-parameter settings. Without it (None or empty), the
            optimizer gets ``model.parameters()`` as one group, exactly as
            ``torch.optim.SGD(model.parameters(), ...)`` would. Its options:

            - ``custom_keys``: ``{substring: dict(lr_mult=1., decay_mult=1., **group_keys)}``.
              A parameter whose qualified name (``'backbone.conv1.weight'``)
              contains a key takes that entry, overriding every multiplier
              below; the longest matching key wins, ties going to the
              alphabetically first. Keys other than the two multipliers (say
              ``momentum``) are copied into the parameter's group.
            - ``bias_lr_mult``: scales the lr of every ``bias`` except those of norm layers.
            - ``norm_decay_mult``: scales the weight decay of norm layers' weights
              and biases (BatchNorm, SyncBatchNorm, GroupNorm, LayerNorm,
              InstanceNorm, RMSNorm).
            - ``dwconv_decay_mult``: scales the weight decay of depthwise
              convolutions (``groups == in_channels > 1``), weight and bias.
            - ``bias_decay_mult``: scales the weight decay of the other biases.
            - ``flat_decay_mult``: scales the weight decay of the remaining 1-D
              parameters (a learned scale, a position embedding row, ...).
            - ``bypass_duplicate``: keep a parameter shared by several modules
              once, under its first name; without it a shared parameter is an error.

            The weight-decay multipliers are exclusive and tried in the order
            above (norm, depthwise, bias, flat). A multiplier needs the base
            value it scales (``lr``, ``weight_decay``) in the optimizer config.
            Parameters with ``requires_grad=False`` are left out, with one
            warning that lists them.

    Raises:
        TypeError: a config or option of the wrong type.
        ValueError: an unknown or misplaced option (with close matches), a
            negative multiplier, or a multiplier whose base value is missing.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
        >>> constructor = DefaultOptimWrapperConstructor(
        ...     dict(optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4)),
        ...     paramwise_cfg=dict(norm_decay_mult=0.0),
        ... )
        >>> [g['weight_decay'] for g in constructor(model).optimizer.param_groups]
        [0.0001, 0.0001, 0.0, 0.0]
    """

    def __init__(
        self, optim_wrapper_cfg: dict[str, Any], paramwise_cfg: dict[str, Any] | None = None
    ) -> None:
        self.optim_wrapper_cfg = _checked_wrapper_cfg(optim_wrapper_cfg)
        optimizer_cfg = self.optim_wrapper_cfg["optimizer"]
        self.paramwise_cfg = _checked_paramwise_cfg(paramwise_cfg, optimizer_cfg)
        self.base_lr: Any = optimizer_cfg.get("lr")
        self.base_wd: Any = optimizer_cfg.get("weight_decay")
        custom_keys = self.paramwise_cfg.get("custom_keys", {})
        # Longest first, then alphabetical: the first key that matches wins.
        self._custom_order = sorted(custom_keys, key=lambda key: (-len(key), key))

    def __call__(self, model: nn.Module) -> Any:
        """Build the optimizer over `model`'s parameters and the wrapper around it.

        Each call builds new objects from a fresh copy of the config, so the
        wrapper cannot alter the configuration by consuming its options.
        """
        cfg = copy.deepcopy(self.optim_wrapper_cfg)
        optimizer_cfg = cfg.pop("optimizer")
        wrapper_type = cfg.pop("type", "OptimWrapper")
        params = self.build_param_groups(model) if self.paramwise_cfg else model.parameters()
        optimizer = OPTIMIZERS.build({**optimizer_cfg, "params": params})
        return OPTIM_WRAPPERS.build({**cfg, "type": wrapper_type, "optimizer": optimizer})

    def build_param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        """One param group per trainable parameter of `model`, in `model.parameters()` order.

        Raises:
            ValueError: a parameter is shared and ``bypass_duplicate`` is off,
                or `model` has no trainable parameter.
        """
        bypass_duplicate = self.paramwise_cfg.get("bypass_duplicate", False)
        groups: list[dict[str, Any]] = []
        first_names: dict[int, str] = {}
        frozen: dict[int, str] = {}
        for name, param_name, param, module in _named_parameters(model):
            if not param.requires_grad:
                frozen.setdefault(id(param), name)
                continue
            if id(param) in first_names:
                if bypass_duplicate:
                    continue
                raise ValueError(
                    f"parameter {name!r} is the same tensor as {first_names[id(param)]!r} "
                    "(a shared parameter or module); set paramwise_cfg bypass_duplicate=True "
                    "to give it to the optimizer once, under its first name"
                )
            first_names[id(param)] = name
            groups.append(self._param_group(name, param_name, param, module))
        if frozen:
            warnings.warn(
                f"{len(frozen)} parameter(s) with requires_grad=False are left out of the "
                f"optimizer: {', '.join(frozen.values())}",
                UserWarning,
                stacklevel=2,
            )
        if not groups:
            raise ValueError(f"{type(model).__name__} has no trainable parameter to optimize")
        return groups

    def _param_group(
        self, name: str, param_name: str, param: nn.Parameter, module: nn.Module
    ) -> dict[str, Any]:
        """The group of one parameter: its lr and weight decay, and a custom key's extras."""
        extras = self._custom_settings(name)
        if extras is None:
            lr_mult, decay_mult = self._multipliers(param_name, param, module)
            extras = {}
        else:
            lr_mult = extras.pop("lr_mult", 1.0)
            decay_mult = extras.pop("decay_mult", 1.0)
        group: dict[str, Any] = {"params": [param]}
        if self.base_lr is not None:
            group["lr"] = self.base_lr * lr_mult
        if self.base_wd is not None:
            group["weight_decay"] = self.base_wd * decay_mult
        group.update(extras)
        return group

    def _custom_settings(self, name: str) -> dict[str, Any] | None:
        """A copy of the custom_keys entry for parameter `name`, or None if no key matches."""
        for key in self._custom_order:
            if key in name:
                return dict(self.paramwise_cfg["custom_keys"][key])
        return None

    def _multipliers(
        self, param_name: str, param: Tensor, module: nn.Module
    ) -> tuple[float, float]:
        """The (lr, weight decay) multipliers of a parameter that no custom key matches."""
        options = self.paramwise_cfg
        is_norm = isinstance(module, _NORM_TYPES)
        is_bias = param_name == "bias"
        lr_mult = options.get("bias_lr_mult", 1.0) if is_bias and not is_norm else 1.0
        if is_norm:
            decay_option = "norm_decay_mult"
        elif _is_depthwise(module):
            decay_option = "dwconv_decay_mult"
        elif is_bias:
            decay_option = "bias_decay_mult"
        elif param.ndim == 1:
            decay_option = "flat_decay_mult"
        else:
            return lr_mult, 1.0
        return lr_mult, options.get(decay_option, 1.0)


def _named_parameters(
    model: nn.Module,
) -> Iterator[tuple[str, str, nn.Parameter, nn.Module]]:
    """Yield ``(qualified name, name in its module, parameter, module)``, shared ones repeated."""
    for module_name, module in model.named_modules(remove_duplicate=False):
        for param_name, param in module.named_parameters(recurse=False, remove_duplicate=False):
            name = f"{module_name}.{param_name}" if module_name else param_name
            yield name, param_name, param, module


def _is_depthwise(module: nn.Module) -> bool:
    """A convolution with one filter group per input channel (more than one channel)."""
    return isinstance(module, _ConvNd) and module.groups == module.in_channels > 1


# ---------------------------------------------------------------- validation
def _checked_wrapper_cfg(cfg: Any) -> dict[str, Any]:
    """A deep copy of the wrapper config, after checking its ``optimizer`` entry."""
    if not isinstance(cfg, Mapping):
        raise TypeError(f"optim_wrapper_cfg must be a dict, got {type(cfg).__name__}: {cfg!r}")
    misplaced = sorted({"constructor", "paramwise_cfg"} & set(cfg))
    if misplaced:
        raise ValueError(
            f"optim_wrapper_cfg has {misplaced}, which the runner takes out before building the "
            "constructor; pass paramwise_cfg as the constructor's own argument"
        )
    if "optimizer" not in cfg:
        raise ValueError(
            "optim_wrapper_cfg needs an 'optimizer' config such as "
            f"optimizer=dict(type='SGD', lr=0.01); got keys {sorted(cfg)}"
        )
    optimizer = cfg["optimizer"]
    if not isinstance(optimizer, Mapping):
        raise TypeError(
            "optim_wrapper_cfg['optimizer'] must be a dict config such as "
            f"dict(type='SGD', lr=0.01), got {type(optimizer).__name__}; to use an optimizer "
            "you already built, build the wrapper directly: OptimWrapper(optimizer=...)"
        )
    if "params" in optimizer:
        raise ValueError(
            "optim_wrapper_cfg['optimizer'] must not set 'params': the constructor passes the "
            "model's parameters; use paramwise_cfg to give some of them other settings"
        )
    return copy.deepcopy({**cfg, "optimizer": dict(optimizer)})


def _checked_paramwise_cfg(cfg: Any, optimizer_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `cfg` (None gives ``{}``) after checking every option."""
    if cfg is None:
        return {}
    if not isinstance(cfg, Mapping):
        raise TypeError(f"paramwise_cfg must be a dict or None, got {type(cfg).__name__}")
    for key, value in cfg.items():
        if key not in _OPTIONS:
            raise ValueError(_unknown_option(f"paramwise_cfg option {key!r}", key, _OPTIONS))
        if key in _MULTIPLIERS:
            _check_multiplier(f"paramwise_cfg['{key}']", value)
    if not isinstance(cfg.get("bypass_duplicate", False), bool):
        raise TypeError(
            f"paramwise_cfg['bypass_duplicate'] must be a bool, got {cfg['bypass_duplicate']!r}"
        )
    scaled = {key: target for key, target in _MULTIPLIERS.items() if key in cfg}
    if "custom_keys" in cfg:
        scaled.update(_checked_custom_keys(cfg["custom_keys"]))
    _check_bases(scaled, optimizer_cfg)
    return copy.deepcopy(dict(cfg))


def _checked_custom_keys(custom_keys: Any) -> dict[str, str]:
    """Check custom_keys; return the multipliers it sets, labelled, with what each scales."""
    if not isinstance(custom_keys, Mapping):
        raise TypeError(
            "paramwise_cfg['custom_keys'] must be a dict {name substring: dict(lr_mult=..., "
            f"decay_mult=...)}}, got {type(custom_keys).__name__}"
        )
    scaled = {}
    for key, settings in custom_keys.items():
        label = f"paramwise_cfg['custom_keys'][{key!r}]"
        if not isinstance(key, str):
            raise TypeError(f"custom_keys keys are parameter-name substrings, got {key!r}")
        if not isinstance(settings, Mapping):
            raise TypeError(
                f"{label} must be a dict such as dict(lr_mult=0.1, decay_mult=0.0), "
                f"got {type(settings).__name__}"
            )
        for option in settings:
            _check_custom_option(label, option, settings)
            if option in _CUSTOM_MULTIPLIERS:
                scaled[f"{label}['{option}']"] = _CUSTOM_MULTIPLIERS[option]
    return scaled


def _check_custom_option(label: str, option: Any, settings: Mapping[str, Any]) -> None:
    """Reject a misspelt multiplier, ``params``, or a value set both directly and by multiplier."""
    if option in _CUSTOM_MULTIPLIERS:
        _check_multiplier(f"{label}['{option}']", settings[option])
        if _CUSTOM_MULTIPLIERS[option] in settings:
            raise ValueError(
                f"{label} sets both {option!r} and {_CUSTOM_MULTIPLIERS[option]!r}; "
                "keep one: the multiplier scales the optimizer's value, the other replaces it"
            )
        return
    if option == "params":
        raise ValueError(f"{label} must not set 'params': the constructor assigns them")
    looks_like_multiplier = isinstance(option, str) and (
        option.endswith(("_mult", "_mul"))
        or difflib.get_close_matches(option, list(_CUSTOM_MULTIPLIERS), 1, 0.75)
    )
    if looks_like_multiplier:
        raise ValueError(
            _unknown_option(f"{label} multiplier {option!r}", option, list(_CUSTOM_MULTIPLIERS))
            + "; other keys are copied into the param group as they are (e.g. momentum)"
        )


def _check_multiplier(label: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{label} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{label} must be a finite number >= 0, got {value!r}")


def _check_bases(scaled: Mapping[str, str], optimizer_cfg: Mapping[str, Any]) -> None:
    """Each multiplier needs the optimizer value it scales to be set in the optimizer config."""
    for base in ("lr", "weight_decay"):
        options = [label for label, target in scaled.items() if target == base]
        if options and optimizer_cfg.get(base) is None:
            raise ValueError(
                f"{', '.join(options)} scale(s) the optimizer's {base!r}, but the optimizer "
                f"config does not set it; add {base}=... to optim_wrapper.optimizer"
            )


def _unknown_option(what: str, key: Any, valid: Any) -> str:
    close = difflib.get_close_matches(str(key), list(valid), 1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what}{hint}; valid options: {', '.join(valid)}"
