"""`DefaultOptimWrapperConstructor`: turns an ``optim_wrapper`` config and a model into a wrapper.

The runner's `build_optim_wrapper` builds this constructor from the config
(minus ``constructor`` and ``paramwise_cfg``) and calls it with the model. The
constructor builds the optimizer through `OPTIMIZERS` and the wrapper through
`OPTIM_WRAPPERS`, both by name, so either can be a third-party type.

With a ``paramwise_cfg``, each trainable parameter gets a param group of its own
whose ``lr`` and ``weight_decay`` are the optimizer's, scaled by the multipliers
that apply to it, with MMEngine's rules: it is how detection and segmentation
recipes exclude norms and biases from weight decay or train a pretrained
backbone more slowly than a new head. Subclasses customise the groups by
overriding `add_params`, as with MMEngine's constructor. Every option of this
class is checked when it is built, so a typo fails before any parameter is touched.
"""

from __future__ import annotations

import copy
import difflib
import functools
import inspect
import logging
import math
from collections.abc import Mapping

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from hooks_core import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS
from hooks_core.model import model_class_name, unwrap_model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["DefaultOptimWrapperConstructor", "build_optim_wrapper"]

_logger = logging.getLogger(__name__)

# Each multiplier option of paramwise_cfg, and the param-group value it scales.
_MULTIPLIERS = {
    "bias_lr_mult": "lr",
    "bias_decay_mult": "weight_decay",
    "norm_decay_mult": "weight_decay",
    "dwconv_decay_mult": "weight_decay",
    "flat_decay_mult": "weight_decay",
    "dcn_offset_lr_mult": "lr",
}
_OPTIONS = ("custom_keys", *_MULTIPLIERS, "bypass_duplicate")
# The multipliers of a custom_keys entry; its other keys are copied into the param group.
_CUSTOM_MULTIPLIERS = {"lr_mult": "lr", "decay_mult": "weight_decay"}

# The layers `norm_decay_mult` applies to (MMEngine's list).
_NORM_TYPES = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)


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
            ``torch.optim.SGD(model.parameters(), ...)`` would. Its options, as
            in MMEngine:

            - ``custom_keys``: ``{substring: dict(lr_mult=1., decay_mult=1., **group_keys)}``.
              A parameter whose qualified name (``'backbone.conv1.weight'``)
              contains a key takes that entry, overriding every multiplier
              below; the longest matching key wins, ties going to the
              alphabetically first. Its group's ``lr`` and ``weight_decay``
              are the optimizer's times the multipliers, and every key of the
              entry (the multipliers too, say ``momentum``) is copied into it.
            - ``bias_lr_mult``: scales the lr of every ``bias`` except those of
              norm layers and deformable convolutions.
            - ``norm_decay_mult``: scales the weight decay of norm layers' weights
              and biases (BatchNorm, SyncBatchNorm, GroupNorm, LayerNorm, InstanceNorm).
            - ``bias_decay_mult``: scales the weight decay of the other biases.
            - ``dwconv_decay_mult``: scales the weight decay of the other
              parameters of depthwise 2-D convolutions (``groups == in_channels``).
            - ``flat_decay_mult``: scales the weight decay of the other 1-D
              parameters (a learned scale, a position embedding row, ...).
            - ``dcn_offset_lr_mult``: scales the lr of the offset convolutions
              of mmcv's deformable convolutions (needs ``mmcv``).
            - ``bypass_duplicate``: keep a parameter shared by several modules
              once, under its first name; without it a shared parameter is an error.

            The weight-decay multipliers are tried in the order above (norm,
            bias, depthwise, flat) and the first one *given* applies. A
            multiplier needs the base value it scales (``lr``,
            ``weight_decay``) in the optimizer config. Parameters with
            ``requires_grad=False`` are left out, each with a logged warning.

    Attributes:
        optimizer_cfg: The optimizer config.
        optim_wrapper_cfg: The wrapper config without ``optimizer``.
        paramwise_cfg: The per-parameter settings (``{}`` without).
        base_lr: The optimizer config's ``lr`` (None if unset).
        base_wd: The optimizer config's ``weight_decay`` (None if unset).

    Raises:
        TypeError: a config or option of the wrong type.
        ValueError: an unknown or misplaced option (with close matches), a
            negative multiplier, or a multiplier whose base value is missing.
            A subclass may take options of its own: only this class refuses
            unknown ones.

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
        wrapper_cfg = _checked_wrapper_cfg(optim_wrapper_cfg)
        self.optimizer_cfg: dict[str, Any] = wrapper_cfg.pop("optimizer")
        self.optim_wrapper_cfg: dict[str, Any] = wrapper_cfg
        if paramwise_cfg is not None and not isinstance(paramwise_cfg, Mapping):
            raise TypeError(
                f"paramwise_cfg must be a dict or None, got {type(paramwise_cfg).__name__}"
            )
        self.paramwise_cfg: dict[str, Any] = copy.deepcopy(dict(paramwise_cfg or {}))
        self.base_lr: Any = self.optimizer_cfg.get("lr")
        self.base_wd: Any = self.optimizer_cfg.get("weight_decay")
        self._validate_cfg()

    def _validate_cfg(self) -> None:
        """Check `paramwise_cfg` against the options and the optimizer's base values."""
        strict = type(self) is DefaultOptimWrapperConstructor
        _check_paramwise_cfg(self.paramwise_cfg, self.optimizer_cfg, strict)

    def __call__(self, model: nn.Module) -> Any:
        """Build the optimizer over `model`'s parameters and the wrapper around it.

        A DDP-wrapped model is unwrapped first. Each call builds new objects
        from a fresh copy of the config, so the wrapper cannot alter the
        configuration by consuming its options.

        Raises:
            ValueError: with `paramwise_cfg`, `model` has no trainable parameter.
        """
        model = unwrap_model(model)
        wrapper_cfg = copy.deepcopy(self.optim_wrapper_cfg)
        wrapper_cfg.setdefault("type", "OptimWrapper")
        optimizer_cfg = copy.deepcopy(self.optimizer_cfg)
        params: Any = model.parameters()
        if self.paramwise_cfg:
            params = []
            self.add_params(params, model)
            if not params:
                name = model_class_name(model)
                raise ValueError(f"{name} has no trainable parameter to optimize")
        optimizer_cfg[_params_argument(optimizer_cfg["type"])] = params
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(wrapper_cfg, default_args={"optimizer": optimizer})

    def add_params(
        self,
        params: list[dict[str, Any]],
        module: nn.Module,
        prefix: str = "",
        is_dcn_module: bool | None = None,
    ) -> None:
        """Append a param group for each trainable parameter of `module` and its children.

        Override it to group parameters otherwise (e.g. a layer-wise lr decay).

        Args:
            params: The param groups so far, appended to in place.
            module: The module whose parameters to add.
            prefix: `module`'s qualified name in the model (``''`` for the model).
            is_dcn_module: Whether `module` belongs to a deformable convolution.

        Raises:
            ValueError: a parameter is already in `params` (shared) and
                ``bypass_duplicate`` is off.
        """
        for name, param in module.named_parameters(recurse=False):
            full_name = f"{prefix}.{name}" if prefix else name
            if _holds(params, param):
                if self.paramwise_cfg.get("bypass_duplicate", False):
                    _logger.warning("%s is a duplicate: bypass_duplicate skips it", full_name)
                    continue
                raise ValueError(
                    f"parameter {full_name!r} is the same tensor as one added before (a shared "
                    "parameter or module); set paramwise_cfg bypass_duplicate=True to give it "
                    "to the optimizer once, under its first name"
                )
            if not param.requires_grad:
                _logger.warning("%s is left out of the optimizer: requires_grad=False", full_name)
                continue
            group: dict[str, Any] = {"params": [param]}
            custom = self._custom_settings(f"{prefix}.{name}")
            if custom is None:
                group.update(self._rule_settings(name, param, module, prefix, is_dcn_module))
            else:
                group.update(self._custom_group(custom))
            params.append(group)
        is_dcn = isinstance(module, _dcn_types())
        for child_name, child in module.named_children():
            child_prefix = f"{prefix}.{child_name}" if prefix else child_name
            self.add_params(params, child, prefix=child_prefix, is_dcn_module=is_dcn)

    def _custom_settings(self, name: str) -> dict[str, Any] | None:
        """The custom_keys entry for parameter `name`, or None if no key matches."""
        custom_keys = self.paramwise_cfg.get("custom_keys", {})
        # Longest first, then alphabetical: the first key that matches wins.
        for key in sorted(custom_keys, key=lambda key: (-len(key), key)):
            if key in name:
                return dict(custom_keys[key])
        return None

    def _custom_group(self, custom: dict[str, Any]) -> dict[str, Any]:
        """A custom key's settings: scaled ``lr``/``weight_decay`` and the entry's own keys."""
        group: dict[str, Any] = {}
        if self.base_lr is not None:
            group["lr"] = self.base_lr * custom.get("lr_mult", 1.0)
        if self.base_wd is not None:
            group["weight_decay"] = self.base_wd * custom.get("decay_mult", 1.0)
        group.update(custom)
        return group

    def _rule_settings(
        self,
        name: str,
        param: nn.Parameter,
        module: nn.Module,
        prefix: str,
        is_dcn_module: bool | None,
    ) -> dict[str, Any]:
        """The ``lr``/``weight_decay`` the multiplier options give a parameter no key matches."""
        options = self.paramwise_cfg
        is_norm = isinstance(module, _NORM_TYPES)
        is_bias = name == "bias"
        group: dict[str, Any] = {}
        bias_lr_mult = options.get("bias_lr_mult")
        if is_bias and not (is_norm or is_dcn_module) and bias_lr_mult is not None:
            group["lr"] = self.base_lr * bias_lr_mult
        offset_lr_mult = options.get("dcn_offset_lr_mult")
        if (
            "conv_offset" in prefix
            and is_dcn_module
            and offset_lr_mult is not None
            and isinstance(module, nn.Conv2d)
        ):
            group["lr"] = self.base_lr * offset_lr_mult
        if self.base_wd is None:
            return group
        candidates = (
            ("norm_decay_mult", is_norm),
            ("bias_decay_mult", is_bias and not is_dcn_module),
            ("dwconv_decay_mult", _is_depthwise(module)),
            ("flat_decay_mult", param.ndim == 1 and not is_dcn_module),
        )
        for option, applies in candidates:
            if applies and options.get(option) is not None:
                group["weight_decay"] = self.base_wd * options[option]
                break
        return group


def _holds(params: list[dict[str, Any]], param: nn.Parameter) -> bool:
    """Whether a group of `params` holds the very tensor `param`."""
    return any(p is param for group in params for p in group["params"])


def _is_depthwise(module: nn.Module) -> bool:
    """MMEngine's test: a 2-D convolution with as many filter groups as input channels."""
    return isinstance(module, nn.Conv2d) and module.in_channels == module.groups


@functools.cache
def _dcn_types() -> tuple[type[nn.Module], ...]:
    """mmcv's deformable convolutions, if mmcv (with its ops) is installed."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("mmcv") is None:
        return ()
    try:
        ops = importlib.import_module("mmcv.ops")
    except ImportError:  # mmcv without its compiled ops
        return ()
    return (ops.DeformConv2d, ops.ModulatedDeformConv2d)


def _params_argument(optimizer_type: Any) -> str:
    """The name of the optimizer's first argument (``params``, or e.g. ``model_params``)."""
    cls = OPTIMIZERS.get(optimizer_type) if isinstance(optimizer_type, str) else optimizer_type
    if cls is None:
        return "params"  # let the build report the unknown name
    try:
        return next(iter(inspect.signature(cls).parameters), "params")
    except (TypeError, ValueError):  # no introspectable signature
        return "params"


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


def _check_paramwise_cfg(
    cfg: dict[str, Any], optimizer_cfg: Mapping[str, Any], strict: bool
) -> None:
    """Check every option of `cfg` this class knows; with `strict`, refuse any other."""
    for key, value in cfg.items():
        if key not in _OPTIONS:
            if strict:
                raise ValueError(_unknown_option(f"paramwise_cfg option {key!r}", key, _OPTIONS))
            continue
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


def build_optim_wrapper(model: nn.Module, cfg: Mapping[str, Any]) -> Any:
    """Build the optimizer wrapper for `model` from an ``optim_wrapper`` config, as MMEngine.

    The config's ``constructor`` (default ``'DefaultOptimWrapperConstructor'``)
    is built from `OPTIM_WRAPPER_CONSTRUCTORS` with the config's
    ``paramwise_cfg`` and the rest of the config, then called with `model`.
    `cfg` itself is not modified.
    """
    if not isinstance(cfg, Mapping):
        raise TypeError(f"build_optim_wrapper needs a config dict, got {type(cfg).__name__}")
    wrapper_cfg = copy.deepcopy(dict(cfg))
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        {
            "type": wrapper_cfg.pop("constructor", "DefaultOptimWrapperConstructor"),
            "paramwise_cfg": wrapper_cfg.pop("paramwise_cfg", None),
            "optim_wrapper_cfg": wrapper_cfg,
        }
    )
    return constructor(model)
