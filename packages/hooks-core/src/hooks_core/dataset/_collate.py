"""Collate functions: how the samples of a batch are put together before the model sees them.

`pseudo_collate`, the default of a dataloader built from a config (as in
MMEngine), regroups the samples by key or position into lists and stacks
nothing, so samples of different sizes batch without padding. `default_collate`
regroups the same way and stacks the leaves with torch's ``default_collate``.
Both are in the ``FUNCTIONS`` registry, for ``collate_fn=dict(type=...)``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping, Sequence

from ..registry._roots import FUNCTIONS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["pseudo_collate", "default_collate"]


def pseudo_collate(data_batch: Sequence[Any]) -> Any:
    """Regroup a list of samples into one sample of lists, without stacking anything.

    Dicts give a dict of the same type whose values are regrouped key by key,
    tuples a list with one entry per position, named tuples and other sequences
    their own type; anything else (tensors, numbers, strings, data samples) is
    returned as the sequence of values it is, one per sample.

    Args:
        data_batch: The samples, as the dataloader drew them.

    Returns:
        The batch, shaped like one sample.

    Raises:
        RuntimeError: sequence samples of different lengths.

    Example:
        >>> pseudo_collate([dict(x=1, name='a'), dict(x=2, name='b')])
        {'x': [1, 2], 'name': ['a', 'b']}
    """
    return _regroup(data_batch, _as_given)


def default_collate(data_batch: Sequence[Any]) -> Any:
    """Regroup a list of samples like `pseudo_collate`, then stack the leaves into tensors.

    Tensors, arrays and numbers are batched by ``torch.utils.data.default_collate``
    (stacked along a new first dimension, so they need equal shapes); strings and
    bytes stay lists.

    Args:
        data_batch: The samples, as the dataloader drew them.

    Returns:
        The batch, shaped like one sample, with stacked tensors.

    Example:
        >>> import torch
        >>> batch = default_collate([dict(x=torch.zeros(3)), dict(x=torch.ones(3))])
        >>> batch['x'].shape
        torch.Size([2, 3])
    """
    first = data_batch[0]
    if type(first) is tuple and _all_tensors(first):
        return _stacked_positions(data_batch)
    return _regroup(data_batch, _stacked)


def _all_tensors(values: tuple[Any, ...]) -> bool:
    tensor = sys.modules["torch"].Tensor if "torch" in sys.modules else None
    return tensor is not None and all(isinstance(value, tensor) for value in values)


def _stacked_positions(data_batch: Sequence[Any]) -> list[Any]:
    """Samples that are tuples of tensors (a `TensorDataset`'s): a list with a stack per position.

    The list torch's ``default_collate`` gives, without its Python-level pass
    comparing the samples' lengths (one C-level pass here) and its dispatch by
    type at each position; each position is stacked by torch's own function for
    tensors, which in a dataloader worker stacks into shared memory.
    """
    if len(set(map(len, data_batch))) != 1:
        raise _different_lengths(data_batch, len(data_batch[0]))
    stack = _tensor_collate()
    return [stack(column) for column in zip(*data_batch, strict=True)]


def _different_lengths(data_batch: Sequence[Any], size: int) -> RuntimeError:
    return RuntimeError(
        f"the samples of a batch are sequences of different lengths "
        f"({sorted({len(sample) for sample in data_batch})}); each must have {size} items"
    )


@functools.cache
def _torch_default_collate() -> Callable[[list[Any]], Any]:
    from torch.utils.data import default_collate as torch_default_collate

    return torch_default_collate


@functools.cache
def _tensor_collate() -> Callable[[Sequence[Any]], Any]:
    """Torch's ``default_collate`` for a sequence of tensors (its ``collate_tensor_fn``)."""
    try:
        from torch.utils.data._utils.collate import collate_tensor_fn
    except ImportError:  # a torch that moved it: the whole default_collate does the same
        default = _torch_default_collate()
        return lambda tensors: default(list(tensors))
    return collate_tensor_fn


def _regroup(data_batch: Sequence[Any], leaf: Callable[[Sequence[Any]], Any]) -> Any:
    """Turn samples of one structure into that structure of per-sample values; `leaf` ends it."""
    first = data_batch[0]
    kind = type(first)
    if isinstance(first, (str, bytes)):
        return data_batch
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # a named tuple
        return kind(*(_regroup(values, leaf) for values in zip(*data_batch, strict=True)))
    if isinstance(first, Sequence):
        size = len(first)
        if any(len(sample) != size for sample in data_batch):
            raise _different_lengths(data_batch, size)
        columns = [_regroup(values, leaf) for values in zip(*data_batch, strict=True)]
        if isinstance(first, tuple):
            return columns
        try:
            return kind(columns)
        except TypeError:  # a sequence type that cannot be built from a list (`range`)
            return columns
    if isinstance(first, Mapping):
        return kind({key: _regroup([sample[key] for sample in data_batch], leaf) for key in first})
    return leaf(data_batch)


def _as_given(values: Sequence[Any]) -> Any:
    return values


def _stacked(values: Sequence[Any]) -> Any:
    return _torch_default_collate()(list(values))


FUNCTIONS.register_module(module=pseudo_collate)
FUNCTIONS.register_module(module=default_collate)
