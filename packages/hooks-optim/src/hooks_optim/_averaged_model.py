"""Averaged copies of a model's weights: exponential moving averages and SWA.

An averaged model holds a deep copy of the model it averages, with gradients
off, and folds the model's current weights into that copy each time
`update_parameters` is called (every `interval` calls). The number of calls is
the ``steps`` buffer, so it is part of the state dict and a resumed run
continues the average exactly where it stopped. Subclasses only say how one
tensor is averaged (`avg_func`). They are registered in `MODELS`, so
``EMAHook(ema_type=...)`` builds them by name.

A model sharded by FSDP2 (`FSDPStrategy`) cannot be deep-copied: its average
holds copies of this rank's shards instead, under the model's names, so
averaging stays local to each rank (see `_ShardCopy`).
"""

from __future__ import annotations

import abc
import copy
import logging

import torch
from torch import nn

from hooks_core import MODELS
from hooks_core.runner.strategy import holds_dtensors, load_whole_tensors
from hooks_core.utils import check_positive_int

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "BaseAveragedModel",
    "ExponentialMovingAverage",
    "MomentumAnnealingEMA",
    "StochasticWeightAverage",
]

_logger = logging.getLogger(__name__)


class BaseAveragedModel(nn.Module, abc.ABC):
    """A frozen deep copy of a model whose weights follow a running average of the model's.

    The first `update_parameters` call copies the model's weights; later calls
    average them in every `interval` calls. Floating-point parameters are
    averaged, and floating-point buffers too with `update_buffers` (e.g.
    BatchNorm statistics). Every other buffer (all of them without
    `update_buffers`, and integer ones such as ``num_batches_tracked`` always)
    is copied from the model on every call, so the copy always has statistics
    that match the model's.

    Args:
        model: The model to average; it is deep-copied and never modified.
        interval: Average every this many `update_parameters` calls.
        device: Keep the averaged copy there (e.g. ``'cpu'`` to spare GPU
            memory); None keeps it on the model's device.
        update_buffers: Average floating-point buffers as well, instead of
            copying them.

    Attributes:
        module: The averaged copy; call the averaged model to run it.
        steps: A long tensor buffer: how many times `update_parameters` ran.
    """

    steps: torch.Tensor

    def __init__(
        self,
        model: nn.Module,
        interval: int = 1,
        device: torch.device | str | None = None,
        update_buffers: bool = False,
    ) -> None:
        super().__init__()
        check_positive_int(interval, "interval")
        self.module = _frozen_copy(model, device)
        self.interval = interval
        self.device = device
        self.update_buffers = update_buffers
        first = next(self.module.parameters(), None)
        where = device if device is not None else (first.device if first is not None else None)
        self.register_buffer("steps", torch.tensor(0, dtype=torch.long, device=where))
        # A host-side mirror of `steps`: reading the buffer every iteration would
        # synchronise with the GPU. `_load_from_state_dict` keeps the two in step.
        self._step_count = 0

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the averaged copy."""
        return self.module(*args, **kwargs)

    @abc.abstractmethod
    def avg_func(self, averaged: torch.Tensor, source: torch.Tensor, steps: int) -> None:
        """Fold `source` into `averaged` in place; `steps` is the number of earlier updates.

        Args:
            averaged: A tensor of the averaged copy, updated in place.
            source: The matching tensor of the model, on `averaged`'s device.
            steps: How many `update_parameters` calls came before this one (at
                least `interval`, as the first call copies).
        """

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Fold `model`'s current weights into the average (or copy them, on the first call).

        Args:
            model: The model being averaged, with the structure of the copy
                (unwrap DDP first).

        Raises:
            ValueError: `model` has other parameters or buffers than the copy.
        """
        steps = self._step_count
        averaged, copied = self._split(self.module)
        source_averaged, source_copied = self._split(model)
        if steps == 0:
            _copy_into(averaged, source_averaged)
        elif steps % self.interval == 0:
            for target, source in zip(averaged, source_averaged, strict=True):
                self.avg_func(target, source.detach().to(target.device), steps)
        _copy_into(copied, source_copied)
        self._step_count = steps + 1
        self.steps.fill_(steps + 1)

    @torch.no_grad()
    def copy_from(self, model: nn.Module) -> None:
        """Make the copy equal to `model` (every parameter and buffer), leaving `steps` alone."""
        _copy_into(_tensors(self.module), _tensors(model))

    @property
    def avg_parameters(self) -> dict[str, torch.Tensor]:
        """The copy's tensors an update averages, by name (MMEngine's attribute).

        Its named parameters, and with `update_buffers` its whole state dict.
        """
        if self.update_buffers:
            return dict(self.module.state_dict())
        return dict(self.module.named_parameters())

    def _split(self, model: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """`model`'s tensors split into those an update averages and those it copies."""
        averaged: list[torch.Tensor] = []
        copied: list[torch.Tensor] = []
        for param in model.parameters():
            (averaged if param.is_floating_point() else copied).append(param)
        for buffer in model.buffers():
            wanted = self.update_buffers and buffer.is_floating_point()
            (averaged if wanted else copied).append(buffer)
        return averaged, copied

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any) -> None:
        """Load as usual, then refresh the host-side step count from the loaded buffer."""
        super()._load_from_state_dict(state_dict, prefix, *args)
        self._step_count = int(self.steps)

    def extra_repr(self) -> str:
        return (
            f"interval={self.interval}, device={self.device!r}, "
            f"update_buffers={self.update_buffers}"
        )


@MODELS.register_module()
class ExponentialMovingAverage(BaseAveragedModel):
    """Exponential moving average: ``averaged = (1 - momentum) * averaged + momentum * source``.

    MMEngine's convention: `momentum` is the weight of the *new* value, so a
    small momentum averages over about ``1 / momentum`` updates.

    Args:
        model: The model to average.
        momentum: The weight of the model's current weights, in (0, 1); above
            0.5 (likely an optimizer-style momentum) a warning is logged.
        interval: Average every this many updates.
        device: Where to keep the averaged copy; None: the model's device.
        update_buffers: Average floating-point buffers as well.

    Example:
        >>> ema = ExponentialMovingAverage(model, momentum=0.001)
        >>> ema.update_parameters(model)  # after every optimizer step
    """

    def __init__(
        self,
        model: nn.Module,
        momentum: float = 0.0002,
        interval: int = 1,
        device: torch.device | str | None = None,
        update_buffers: bool = False,
    ) -> None:
        super().__init__(model, interval, device, update_buffers)
        self.momentum = _check_momentum(momentum)
        if self.momentum > 0.5:
            _logger.warning(
                "The momentum of an EMA is the weight of the new value, usually a small "
                "number unlike an optimizer's momentum, but got %s. Please make sure the "
                "value is correct.",
                momentum,
            )

    def avg_func(self, averaged: torch.Tensor, source: torch.Tensor, steps: int) -> None:
        _ema_step(averaged, source, self.momentum)

    def extra_repr(self) -> str:
        return f"momentum={self.momentum}, {super().extra_repr()}"


@MODELS.register_module()
class MomentumAnnealingEMA(ExponentialMovingAverage):
    """An EMA whose momentum starts high and decays towards `momentum`.

    The weight of the model's current weights is
    ``max(momentum, gamma / (gamma + steps))``: early in training the average
    follows the model closely instead of being dominated by the random initial
    weights; after about ``gamma / momentum`` updates it is a plain EMA.

    Args:
        model: The model to average.
        momentum: The smallest weight of the model's current weights, in (0, 1).
        gamma: How slowly the momentum decays; must be positive.
        interval: Average every this many updates.
        device: Where to keep the averaged copy; None: the model's device.
        update_buffers: Average floating-point buffers as well.
    """

    def __init__(
        self,
        model: nn.Module,
        momentum: float = 0.0002,
        gamma: int = 100,
        interval: int = 1,
        device: torch.device | str | None = None,
        update_buffers: bool = False,
    ) -> None:
        super().__init__(model, momentum, interval, device, update_buffers)
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or gamma <= 0:
            raise ValueError(f"gamma must be a positive number, got {gamma!r}")
        self.gamma = gamma

    def avg_func(self, averaged: torch.Tensor, source: torch.Tensor, steps: int) -> None:
        _ema_step(averaged, source, max(self.momentum, self.gamma / (self.gamma + steps)))

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, {super().extra_repr()}"


@MODELS.register_module()
class StochasticWeightAverage(BaseAveragedModel):
    """The running mean of the weights sampled every `interval` updates (SWA).

    After the first update (which copies) the average includes one more
    sample every `interval` updates, each with equal weight.

    Args:
        model: The model to average.
        interval: Take a sample every this many updates.
        device: Where to keep the averaged copy; None: the model's device.
        update_buffers: Average floating-point buffers as well.
    """

    def avg_func(self, averaged: torch.Tensor, source: torch.Tensor, steps: int) -> None:
        samples = steps // self.interval  # already in the average, counting the first copy
        averaged.add_(source - averaged, alpha=1.0 / (samples + 1))


def _frozen_copy(model: nn.Module, device: torch.device | str | None) -> nn.Module:
    """A deep copy of `model` (of its shards, if sharded) without gradients, on `device` if given.

    Raises:
        ValueError: a `device` for the copy of a sharded model, whose shards stay
            on the device of their mesh.
    """
    if holds_dtensors(model.parameters()):
        if device is not None:
            raise ValueError(
                f"the averaged model of a sharded model keeps its shards where the model's are; "
                f"remove device={device!r}"
            )
        return _ShardCopy.of(model)
    module = copy.deepcopy(model)
    for param in module.parameters():
        param.requires_grad_(False)
        param.grad = None
    if device is not None:
        module.to(device)
    return module


class _ShardCopy(nn.Module):
    """The parameters and buffers of a sharded model under the same names, without its code.

    Built by `of`: a tree of plain modules mirroring the model's, holding
    frozen copies of this rank's shards (DTensors) in the model's order, so the
    averaged model pairs them with the model's own. It loads checkpoints of
    whole tensors (each rank keeps its part) but cannot run: `EMAHook`
    evaluates the average by exchanging it into the model.
    """

    @classmethod
    def of(cls, model: nn.Module) -> _ShardCopy:
        root = cls()
        copies: dict[str, nn.Module] = {"": root}
        tensors: dict[int, nn.Parameter] = {}  # a parameter shared by two modules stays shared
        for name, module in model.named_modules():
            node = copies.setdefault(name, nn.Module())
            if name:
                parent, _, child = name.rpartition(".")
                copies[parent].add_module(child, node)
            for key, param in module._parameters.items():
                if param is not None and id(param) not in tensors:
                    tensors[id(param)] = nn.Parameter(param.detach().clone(), requires_grad=False)
                node.register_parameter(key, None if param is None else tensors[id(param)])
            for key, buffer in module._buffers.items():
                persistent = key not in module._non_persistent_buffers_set
                value = None if buffer is None else buffer.detach().clone()
                node.register_buffer(key, value, persistent=persistent)
        load_whole_tensors(root)
        return root

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            "the average of a sharded model holds only this rank's shards and cannot run; "
            "EMAHook validates and tests it by exchanging its weights into the model"
        )


def _tensors(model: nn.Module) -> list[torch.Tensor]:
    return [*model.parameters(), *model.buffers()]


def _copy_into(targets: list[torch.Tensor], sources: list[torch.Tensor]) -> None:
    for target, source in zip(targets, sources, strict=True):
        target.copy_(source.detach())


def _ema_step(averaged: torch.Tensor, source: torch.Tensor, momentum: float) -> None:
    averaged.lerp_(source, momentum)  # MMEngine's operation, so the numbers match bit for bit


def _check_momentum(momentum: float) -> float:
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
        raise TypeError(f"momentum must be a number, got {momentum!r}")
    if not 0.0 < momentum < 1.0:
        raise ValueError(f"momentum must be in (0, 1), got {momentum!r}")
    return float(momentum)
