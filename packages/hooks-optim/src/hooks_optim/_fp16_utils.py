"""MMCV 1.x's mixed-precision decorators, `auto_fp16` and `force_fp32`, and `wrap_fp16_model`.

A module's methods decorated with `auto_fp16` run in half precision, and those
with `force_fp32` in float32, once the module's ``fp16_enabled`` is True
(`wrap_fp16_model`, called by ``Fp16OptimizerHook.before_run``, sets it);
before that they run as written. Half precision is float16 on CUDA and
bfloat16 elsewhere (`half_dtype`), the one rule the fp16 optimizer hooks
follow too: CPU autocast computes in bfloat16, which also needs no loss scale.
"""

from __future__ import annotations

import functools
import inspect
from collections import abc

import torch
from torch import nn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

__all__ = ["auto_fp16", "cast_tensor_type", "force_fp32", "half_dtype", "wrap_fp16_model"]

_HALF_TYPES = (torch.float16, torch.bfloat16)


def half_dtype(device_type: str) -> torch.dtype:
    """The half-precision type on `device_type`: float16 on CUDA, bfloat16 elsewhere."""
    return torch.float16 if device_type == "cuda" else torch.bfloat16


def cast_tensor_type(
    inputs: Any, src_type: torch.dtype | Iterable[torch.dtype], dst_type: torch.dtype
) -> Any:
    """`inputs` with every tensor of `src_type` (a dtype or several) cast to `dst_type`.

    MMCV's function, through containers: mappings, lists, tuples (named ones
    too) and sets are rebuilt with the same type; modules, strings, arrays and
    tensors of other types are left as they are.
    """
    sources = (src_type,) if isinstance(src_type, torch.dtype) else tuple(src_type)
    if isinstance(inputs, torch.Tensor):
        return inputs.to(dst_type) if inputs.dtype in sources else inputs
    if isinstance(inputs, (nn.Module, str, bytes)) or not isinstance(inputs, abc.Iterable):
        return inputs
    if isinstance(inputs, abc.Mapping):
        cast = {k: cast_tensor_type(v, sources, dst_type) for k, v in inputs.items()}
        return type(inputs)(cast)  # type: ignore[call-arg]
    if isinstance(inputs, (list, tuple, set, frozenset)):
        items = [cast_tensor_type(item, sources, dst_type) for item in inputs]
        if isinstance(inputs, tuple) and hasattr(inputs, "_fields"):  # a namedtuple
            return type(inputs)(*items)
        return type(inputs)(items)
    return inputs  # arrays and other iterables are not ours to rebuild


def auto_fp16(
    apply_to: Iterable[str] | None = None,
    out_fp32: bool = False,
    supported_types: tuple[type, ...] = (nn.Module,),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run the decorated method in half precision when its module's ``fp16_enabled`` is True.

    The float32 tensors among the arguments named in `apply_to` (all
    arguments when None) are cast to `half_dtype` of the module's device and
    the method runs under ``torch.autocast`` with that type.

    Args:
        apply_to: The names of the arguments to cast; None casts all of them.
        out_fp32: Cast the half-precision tensors of the result back to float32.
        supported_types: The classes whose methods may be decorated.

    Raises:
        TypeError: the method is called on an object of none of `supported_types`.

    Example:
        >>> class Head(nn.Module):
        ...     @auto_fp16(apply_to=('x',))
        ...     def forward(self, x, scale=1.0): ...
    """

    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        names = _argument_names(method)

        @functools.wraps(method)
        def run(*args: Any, **kwargs: Any) -> Any:
            owner = args[0] if args else None
            if not isinstance(owner, supported_types):
                raise TypeError(
                    f"@auto_fp16 decorates methods of {supported_types}; "
                    f"{method.__qualname__} was called on {type(owner).__name__}"
                )
            if not getattr(owner, "fp16_enabled", False):
                return method(*args, **kwargs)
            device_type = _device_type(owner, args, kwargs)
            dtype = half_dtype(device_type)
            args, kwargs = _cast(names, apply_to, args, kwargs, (torch.float32,), dtype)
            with torch.autocast(device_type, dtype=dtype):
                output = method(*args, **kwargs)
            return cast_tensor_type(output, _HALF_TYPES, torch.float32) if out_fp32 else output

        return run

    return decorate


def force_fp32(
    apply_to: Iterable[str] | None = None, out_fp16: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run the decorated method in float32 when its module's ``fp16_enabled`` is True.

    The half-precision tensors among the arguments named in `apply_to` (all
    when None) are cast to float32 and autocast is off inside the method, e.g.
    for a loss that needs float32's precision.

    Args:
        apply_to: The names of the arguments to cast; None casts all of them.
        out_fp16: Cast the float32 tensors of the result to `half_dtype`.

    Raises:
        TypeError: the method is called on something that is not an ``nn.Module``.
    """

    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        names = _argument_names(method)

        @functools.wraps(method)
        def run(*args: Any, **kwargs: Any) -> Any:
            owner = args[0] if args else None
            if not isinstance(owner, nn.Module):
                raise TypeError(
                    f"@force_fp32 decorates methods of nn.Module; "
                    f"{method.__qualname__} was called on {type(owner).__name__}"
                )
            if not getattr(owner, "fp16_enabled", False):
                return method(*args, **kwargs)
            device_type = _device_type(owner, args, kwargs)
            args, kwargs = _cast(names, apply_to, args, kwargs, _HALF_TYPES, torch.float32)
            with torch.autocast(device_type, enabled=False):
                output = method(*args, **kwargs)
            if out_fp16:
                return cast_tensor_type(output, (torch.float32,), half_dtype(device_type))
            return output

        return run

    return decorate


def wrap_fp16_model(model: nn.Module) -> None:
    """Turn on the decorators: set ``fp16_enabled = True`` on every submodule that has the flag.

    As MMCV does with PyTorch 1.6 and later, the weights stay float32: autocast
    does the casting. A module without the attribute is left alone.
    """
    for module in model.modules():
        if hasattr(module, "fp16_enabled"):
            module.fp16_enabled = True  # type: ignore[assignment]


def _argument_names(method: Callable[..., Any]) -> list[str]:
    """The names of `method`'s positional parameters, in order (``self`` first)."""
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    parameters = inspect.signature(method).parameters.values()
    return [p.name for p in parameters if p.kind in kinds]


def _cast(
    names: list[str],
    apply_to: Iterable[str] | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    sources: tuple[torch.dtype, ...],
    dst_type: torch.dtype,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Cast the named arguments (all with `apply_to` None); extra positional ones stay as given."""
    wanted = set(names if apply_to is None else apply_to)
    new_args = tuple(
        cast_tensor_type(value, sources, dst_type)
        if index < len(names) and names[index] in wanted
        else value
        for index, value in enumerate(args)
    )
    new_kwargs = {
        key: cast_tensor_type(value, sources, dst_type) if key in wanted else value
        for key, value in kwargs.items()
    }
    return new_args, new_kwargs


def _device_type(owner: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The device type of the module's first parameter, else of the first tensor argument."""
    parameter = next(owner.parameters(), None) if isinstance(owner, nn.Module) else None
    if parameter is not None:
        return parameter.device.type
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            return value.device.type
    return "cpu"
