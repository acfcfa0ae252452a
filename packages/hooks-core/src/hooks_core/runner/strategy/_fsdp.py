"""`FSDPStrategy`: shard parameters, gradients and optimizer state across ranks with FSDP2.

Built on torch's own stack: `torch.distributed.fsdp.fully_shard` over a
`DeviceMesh` (1-D: shard over every rank; 2-D ``(replicate, shard)``: HSDP),
`MixedPrecisionPolicy`, `CPUOffloadPolicy`, composable activation
checkpointing, and ``torch.distributed.checkpoint.state_dict`` for whole-model
checkpoints. Every option is checked when the strategy is made, except those
that need the model or the process group, which are checked when it wraps.
Torch is imported on first use.
"""

from __future__ import annotations

import math

from ...checkpoint import numbered_optim_state, optimizer_wrappers
from ...model._wrapper import is_model_wrapper, wrap_model
from ...registry._roots import STRATEGIES
from ._base import BaseStrategy
from ._ddp import require_process_group
from ._sharded import load_whole_tensors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any

    from torch import nn

__all__ = ["FSDPStrategy"]

_DTYPE_NAMES = ("float32", "float16", "bfloat16", "float64")
_PRECISION_KEYS = ("param_dtype", "reduce_dtype", "output_dtype", "cast_forward_inputs")
_NOT_OPTIMIZER_STATE = ("state", "param_groups")


@STRATEGIES.register_module()
class FSDPStrategy(BaseStrategy):
    """Fully sharded data parallel training with FSDP2 (``torch.distributed.fsdp.fully_shard``).

    The model is sharded when the runner wraps it, before the optimizer is
    built, so the optimizer holds (and steps) this rank's shards only.
    Checkpoints stay MMEngine's ``.pth`` files with whole tensors: the weights
    and optimizer state are gathered to rank 0 when saving, and every rank
    takes its shard when loading, so they load into a single-process or DDP run
    and back. Needs ``torchrun`` and ``launcher='pytorch'``.

    Args:
        mesh_shape: The device mesh. None or ``(world_size,)``: shard over every
            rank. ``(replicate, shard)``: HSDP, shard within groups of `shard`
            ranks (e.g. one node) and replicate across `replicate` groups; the
            product must be the world size.
        wrap_policy: Which submodules get their own FSDP group (gathered and
            freed one at a time) besides the root: a list of module class names
            (``['TransformerBlock']``), or ``dict(min_num_params=N)`` for every
            submodule holding at least N parameters not already in a smaller
            group. None: one group for the whole model.
        mixed_precision: ``dict(param_dtype='bfloat16', reduce_dtype='float32',
            output_dtype=None, cast_forward_inputs=True)``, torch's
            `MixedPrecisionPolicy`: compute in `param_dtype`, reduce gradients
            in `reduce_dtype`; the sharded parameters and the optimizer stay in
            their own dtype. Dtypes by name or as torch dtypes.
        cpu_offload: Keep the sharded parameters, gradients and optimizer state
            on the CPU (torch's `CPUOffloadPolicy`).
        activation_checkpointing: Module class names whose activations are
            recomputed in the backward pass instead of kept.
        reshard_after_forward: Free the gathered parameters after each forward
            (and gather again in backward). True keeps every parameter sharded
            between steps, which checkpoints and EMA rely on.
        state_dict_cfg: ``'full'``: checkpoints are one ``.pth`` holding the
            whole model, gathered on rank 0 (MMEngine's ``'full'``).
            ``'sharded'``: checkpoints are folders in which every rank writes
            its shards with ``torch.distributed.checkpoint`` (Lightning's
            ``state_dict_type='sharded'``), which resume on any number of
            ranks. A `CheckpointHook`'s ``save_format`` overrides it.

    Example:
        >>> strategy = dict(type='FSDPStrategy', wrap_policy=['Block'],
        ...                 mixed_precision=dict(param_dtype='bfloat16'))
    """

    def __init__(
        self,
        *,
        mesh_shape: Sequence[int] | None = None,
        wrap_policy: Sequence[str] | Mapping[str, int] | None = None,
        mixed_precision: Mapping[str, Any] | None = None,
        cpu_offload: bool = False,
        activation_checkpointing: Sequence[str] | None = None,
        reshard_after_forward: bool = True,
        state_dict_cfg: str = "full",
    ) -> None:
        self.mesh_shape = _check_mesh_shape(mesh_shape)
        self.wrap_policy = _check_wrap_policy(wrap_policy)
        self.mixed_precision = _check_mixed_precision(mixed_precision)
        self.cpu_offload = _check_bool(cpu_offload, "cpu_offload")
        self.activation_checkpointing = _check_class_names(
            activation_checkpointing, "activation_checkpointing"
        )
        self.reshard_after_forward = _check_bool(reshard_after_forward, "reshard_after_forward")
        if state_dict_cfg not in ("full", "sharded"):
            raise ValueError(
                f"FSDPStrategy state_dict_cfg={state_dict_cfg!r}: give 'full' (whole tensors "
                "gathered on rank 0, in one .pth file) or 'sharded' (a folder every rank writes "
                "with torch.distributed.checkpoint)"
            )
        self.state_dict_cfg = state_dict_cfg

    # ------------------------------------------------------------ wrapping
    def wrap_model(self, model: Any, model_wrapper_cfg: Mapping[str, Any] | None = None) -> Any:
        """Shard `model` in place with ``fully_shard`` and return it (still the user's model).

        Submodules chosen by `wrap_policy` are sharded first (innermost first),
        then the whole model; activation checkpointing is applied before. A model
        already sharded with ``fully_shard`` is kept as it is.

        Raises:
            RuntimeError: no process group (launch with torchrun).
            TypeError: a `model_wrapper_cfg`, or a model inside DDP.
            ValueError: `mesh_shape` does not cover the world size, or a class
                name of `wrap_policy`/`activation_checkpointing` is not in the model.
        """
        if model_wrapper_cfg is not None:
            raise TypeError(
                f"FSDPStrategy shards the model itself, so model_wrapper_cfg must be None, got "
                f"{model_wrapper_cfg!r}: remove it from the config"
            )
        require_process_group(self)
        if is_model_wrapper(model):
            raise TypeError(
                f"FSDPStrategy shards the model itself; give it the model, not "
                f"{type(model).__name__}"
            )
        from torch.distributed.fsdp import FSDPModule, fully_shard

        if not isinstance(model, FSDPModule):
            groups = list(self._group_roots(model))  # the class names are checked first
            checkpointed = list(
                _modules_named(model, self.activation_checkpointing, "activation_checkpointing")
            )
            mesh = self.build_mesh()
            model = wrap_model(model, False, {})  # onto this rank's GPU when there is one
            if checkpointed:
                from torch.distributed._composable.checkpoint_activation import checkpoint

                for module in checkpointed:
                    checkpoint(module)
            options = self._shard_options(mesh)
            for module in groups:
                fully_shard(module, **options)
            fully_shard(model, **options)
        load_whole_tensors(model)
        return model

    def build_mesh(self) -> Any:
        """The `DeviceMesh` of `mesh_shape` over this run's ranks (GPUs if any, else the CPU).

        Raises:
            ValueError: the mesh does not hold exactly the world size's ranks.
        """
        import torch
        import torch.distributed as dist
        from torch.distributed.device_mesh import init_device_mesh

        world_size = dist.get_world_size()
        shape = self.mesh_shape or (world_size,)
        if math.prod(shape) != world_size:
            raise ValueError(
                f"FSDPStrategy mesh_shape={shape} holds {math.prod(shape)} ranks but this run has "
                f"{world_size} (torchrun's world size): give a shape whose product is "
                f"{world_size}, e.g. ({world_size},) to shard over every rank, or (replicate, "
                "shard) such as (nodes, GPUs per node) for HSDP"
            )
        names = ("shard",) if len(shape) == 1 else ("replicate", "shard")
        device = "cuda" if torch.cuda.is_available() else "cpu"
        return init_device_mesh(device, shape, mesh_dim_names=names)

    def _group_roots(self, model: nn.Module) -> Iterator[nn.Module]:
        """The submodules `wrap_policy` gives their own FSDP group, innermost first."""
        policy = self.wrap_policy
        if policy is None:
            return
        innermost_first = list(model.modules())[:0:-1]  # reversed pre-order, root left out
        if isinstance(policy, tuple):
            chosen = {id(m) for m in _modules_named(model, policy, "wrap_policy")}
            yield from (module for module in innermost_first if id(module) in chosen)
            return
        grouped: set[int] = set()
        for module in innermost_first:
            free = [p for p in module.parameters() if id(p) not in grouped]
            if sum(p.numel() for p in free) >= policy:
                grouped.update(id(p) for p in free)
                yield module

    def _shard_options(self, mesh: Any) -> dict[str, Any]:
        """The keywords of every ``fully_shard`` call."""
        import torch
        from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy

        options: dict[str, Any] = {
            "mesh": mesh,
            "reshard_after_forward": self.reshard_after_forward,
        }
        if self.mixed_precision is not None:
            precision = {
                key: getattr(torch, value) if isinstance(value, str) else value
                for key, value in self.mixed_precision.items()
            }
            options["mp_policy"] = MixedPrecisionPolicy(**precision)
        if self.cpu_offload:
            options["offload_policy"] = CPUOffloadPolicy(pin_memory=torch.cuda.is_available())
        return options

    def prepare_optim_wrapper(self, optim_wrapper: Any, model: Any) -> Any:
        """Check that each optimizer holds the sharded parameters (it was built after sharding).

        Raises:
            ValueError: an optimizer was built over the parameters before sharding.
        """
        own = {id(param) for param in model.parameters()}
        for wrapper in optimizer_wrappers(optim_wrapper).values():
            optimizer = getattr(wrapper, "optimizer", None)
            if optimizer is None:
                continue
            stray = [
                p for group in optimizer.param_groups for p in group["params"] if id(p) not in own
            ]
            if stray:
                raise ValueError(
                    f"{len(stray)} parameters of the optimizer are not the sharded model's: it was "
                    "built before FSDPStrategy sharded the model. Give optim_wrapper as a config "
                    "(e.g. dict(optimizer=dict(type='AdamW', lr=1e-3))) so that the runner builds "
                    "it over the sharded parameters"
                )
        return optim_wrapper

    def sync_weights(self, model: Any) -> None:
        """Give every rank its shard of the model rank 0 gathers (HSDP replicas then agree)."""
        from torch.distributed.checkpoint.state_dict import set_model_state_dict

        options = _options(broadcast_from_rank0=True)
        set_model_state_dict(model, self.model_state_dict(model), options=options)

    # ------------------------------------------------------------ checkpoints
    def model_state_dict(self, model: Any) -> dict[str, Any]:
        """The whole model's weights on the CPU, gathered on rank 0 (the others get ``{}``).

        A collective: every rank calls it. Keys are the model's own, as unsharded.
        """
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        return get_model_state_dict(model, options=_options(cpu_offload=True))

    # `load_model_state_dict` is the base class's: `wrap_model` lets the model load whole tensors.

    def optim_state_dict(self, model: Any, optim_wrapper: Any) -> dict[str, Any]:
        """Each optimizer's whole state, gathered on rank 0, as an unsharded optimizer's.

        Parameters are numbered as ``torch.optim.Optimizer.state_dict`` numbers
        them, so the state loads into a single-process or DDP run; the wrapper's
        own entries (``base_param_settings``, ``loss_scaler``) are kept.
        """
        wrappers = optimizer_wrappers(optim_wrapper)
        if None in wrappers:
            return self._optim_state(model, wrappers[None])
        return {name: self._optim_state(model, wrapper) for name, wrapper in wrappers.items()}

    def _optim_state(self, model: Any, wrapper: Any) -> dict[str, Any]:
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        own = wrapper.state_dict()  # the wrapper's entries; its shards are replaced below
        extras = {key: value for key, value in own.items() if key not in _NOT_OPTIMIZER_STATE}
        options = _options(cpu_offload=True)
        whole = get_optimizer_state_dict(model, wrapper.optimizer, options=options)
        return {**numbered_optim_state(whole), **extras} if whole else extras

    def load_optim_state_dict(
        self, model: Any, optim_wrapper: Any, state_dict: dict[str, Any]
    ) -> None:
        """Load whole optimizer states (as `optim_state_dict` writes them); each rank keeps its own.

        Raises:
            KeyError: a state names an optimizer wrapper the run does not have.
            ValueError: the parameter groups differ from the optimizer's.
        """
        wrappers = optimizer_wrappers(optim_wrapper)
        if None in wrappers:
            self._load_optim_state(model, wrappers[None], state_dict)
            return
        for name, state in state_dict.items():
            if name not in wrappers:
                raise KeyError(
                    f"the checkpoint has an optimizer state for {name!r}, which is not one of "
                    f"the run's optimizer wrappers ({', '.join(map(str, wrappers))})"
                )
            self._load_optim_state(model, wrappers[name], state)

    def _load_optim_state(self, model: Any, wrapper: Any, state_dict: dict[str, Any]) -> None:
        from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

        extras = {
            key: value for key, value in state_dict.items() if key not in _NOT_OPTIMIZER_STATE
        }
        whole = _named(state_dict, wrapper.optimizer, model)
        set_optimizer_state_dict(model, wrapper.optimizer, whole, options=_options())
        wrapper.load_state_dict({**wrapper.optimizer.state_dict(), **extras})  # its own entries

    def __repr__(self) -> str:
        options = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"FSDPStrategy({options})"


# ------------------------------------------------------------------ state dicts
def _options(cpu_offload: bool = False, broadcast_from_rank0: bool = False) -> Any:
    """``StateDictOptions`` for whole (unsharded) state dicts."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(
        full_state_dict=True, cpu_offload=cpu_offload, broadcast_from_rank0=broadcast_from_rank0
    )


def _named(state_dict: dict[str, Any], optimizer: Any, model: Any) -> dict[str, Any]:
    """The inverse of `numbered_optim_state` for `optimizer`: numbers become its parameters' names.

    Raises:
        ValueError: the groups, or the parameters of a group, differ in number.
    """
    names = {id(param): name for name, param in model.named_parameters()}
    saved_groups = state_dict["param_groups"]
    if len(saved_groups) != len(optimizer.param_groups):
        raise ValueError(
            f"the checkpoint's optimizer has {len(saved_groups)} parameter groups and this one "
            f"{len(optimizer.param_groups)}: build the optimizer as the checkpoint's run did"
        )
    name_of: dict[int, str] = {}
    groups = []
    for number, (saved, group) in enumerate(zip(saved_groups, optimizer.param_groups, strict=True)):
        if len(saved["params"]) != len(group["params"]):
            raise ValueError(
                f"parameter group {number} of the checkpoint's optimizer has "
                f"{len(saved['params'])} parameters and this one {len(group['params'])}: build "
                "the optimizer as the checkpoint's run did"
            )
        own = [names[id(param)] for param in group["params"]]
        name_of.update(zip(saved["params"], own, strict=True))
        groups.append({**saved, "params": own})
    return {"state": {name_of[key]: value for key, value in state_dict["state"].items()},
            "param_groups": groups}  # fmt: skip


# ------------------------------------------------------------------ checking options
def _modules_named(
    model: nn.Module, names: tuple[str, ...] | None, option: str
) -> Iterator[nn.Module]:
    """The submodules of `model` whose class is one of `names`.

    Raises:
        ValueError: a name matches no module of `model`, with the class names it has.
    """
    if not names:
        return
    present = {type(module).__name__ for module in model.modules()}
    if unknown := [name for name in names if name not in present]:
        raise ValueError(
            f"FSDPStrategy {option} names {', '.join(map(repr, unknown))}, but "
            f"{type(model).__name__} has no module of that class; its module classes are "
            f"{', '.join(sorted(present))}"
        )
    yield from (module for module in model.modules() if type(module).__name__ in names)


def _check_bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"FSDPStrategy {name} must be True or False, got {value!r}")
    return value


def _check_mesh_shape(shape: Sequence[int] | None) -> tuple[int, ...] | None:
    """None, or a 1-D ``(shard,)`` or 2-D ``(replicate, shard)`` shape of positive ints."""
    if shape is None:
        return None
    if not isinstance(shape, (list, tuple)) or len(shape) not in (1, 2):
        raise ValueError(
            f"FSDPStrategy mesh_shape must be None, (shard,) or (replicate, shard) for HSDP, got "
            f"{shape!r}"
        )
    if any(isinstance(size, bool) or not isinstance(size, int) or size < 1 for size in shape):
        raise ValueError(f"FSDPStrategy mesh_shape must hold positive ints, got {shape!r}")
    return tuple(shape)


def _check_class_names(names: Any, option: str) -> tuple[str, ...] | None:
    """None, or a non-empty list of module class names (strings)."""
    if names is None:
        return None
    if (
        isinstance(names, str)
        or not isinstance(names, (list, tuple))
        or not names
        or not all(isinstance(name, str) and name for name in names)
    ):
        raise TypeError(
            f"FSDPStrategy {option} must be a list of module class names, e.g. "
            f"['TransformerBlock'], got {names!r}"
        )
    return tuple(names)


def _check_wrap_policy(policy: Any) -> tuple[str, ...] | int | None:
    """Class names (a tuple), or the ``min_num_params`` of a size policy (an int), or None."""
    if not isinstance(policy, dict):
        return _check_class_names(policy, "wrap_policy")
    size = policy.get("min_num_params")
    if (
        set(policy) != {"min_num_params"}
        or isinstance(size, bool)
        or not isinstance(size, int)
        or size < 1
    ):
        raise ValueError(
            "FSDPStrategy wrap_policy as a dict must be dict(min_num_params=N) with a positive "
            f"int N (or give a list of module class names), got {policy!r}"
        )
    return size


def _check_mixed_precision(policy: Any) -> dict[str, Any] | None:
    """None, or the keywords of torch's ``MixedPrecisionPolicy``, dtypes named or given."""
    if policy is None:
        return None
    if not isinstance(policy, dict):
        raise TypeError(
            f"FSDPStrategy mixed_precision must be a dict such as dict(param_dtype='bfloat16', "
            f"reduce_dtype='float32'), got {policy!r}"
        )
    if unknown := sorted(set(policy) - set(_PRECISION_KEYS)):
        raise ValueError(
            f"FSDPStrategy mixed_precision does not take {', '.join(unknown)}; its keys are "
            f"{', '.join(_PRECISION_KEYS)}"
        )
    import torch

    for key, value in policy.items():
        if key == "cast_forward_inputs":
            _check_bool(value, "mixed_precision cast_forward_inputs")
        elif not (value is None or value in _DTYPE_NAMES or isinstance(value, torch.dtype)):
            raise ValueError(
                f"FSDPStrategy mixed_precision {key}={value!r}: give one of "
                f"{', '.join(_DTYPE_NAMES)}, a torch dtype, or None"
            )
    return dict(policy)
