"""The averaged models (EMA, momentum-annealing EMA, SWA): their math, buffers and state.

The math is checked on one- and two-element tensors against values computed by
hand (chosen so float32 represents every step exactly).
"""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from hooks_core import MODELS
from hooks_optim import (
    BaseAveragedModel,
    ExponentialMovingAverage,
    MomentumAnnealingEMA,
    StochasticWeightAverage,
)


class Tiny(nn.Module):
    """One parameter, one float buffer, one integer buffer."""

    def __init__(self, *values: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(values))
        self.register_buffer("stat", torch.tensor(values))
        self.register_buffer("count", torch.tensor(0))

    def set(self, *values: float, stat: float | None = None, count: int | None = None) -> Tiny:
        with torch.no_grad():
            self.w.copy_(torch.tensor(values))
            if stat is not None:
                self.stat.fill_(stat)
            if count is not None:
                self.count.fill_(count)
        return self


def weights(averaged: BaseAveragedModel) -> list[float]:
    return averaged.module.w.tolist()  # type: ignore[no-any-return]


def feed(
    averaged: BaseAveragedModel, model: Tiny, *sources: tuple[float, ...]
) -> list[list[float]]:
    """Update from each source in turn; return the averaged weights after each update."""
    seen = []
    for values in sources:
        averaged.update_parameters(model.set(*values))
        seen.append(weights(averaged))
    return seen


# ------------------------------------------------------------ the averaged models
def test_ema_follows_the_documented_formula() -> None:
    model = Tiny(1.0, 2.0)
    ema = ExponentialMovingAverage(model, momentum=0.25)
    # First update copies; then averaged = 0.75 * averaged + 0.25 * source.
    assert feed(ema, model, (1.0, 2.0), (5.0, 6.0), (10.0, 3.0)) == [
        [1.0, 2.0],
        [2.0, 3.0],
        [4.0, 3.0],
    ]
    assert int(ema.steps) == 3


def test_ema_averages_only_every_interval_updates() -> None:
    model = Tiny(0.0)
    ema = ExponentialMovingAverage(model, momentum=0.5, interval=2)
    sources = [(0.0,), (8.0,), (4.0,), (100.0,), (6.0,)]
    assert feed(ema, model, *sources) == [[0.0], [0.0], [2.0], [2.0], [4.0]]


def test_momentum_annealing_starts_high_and_decays_to_momentum() -> None:
    model = Tiny(1.0)
    ema = MomentumAnnealingEMA(model, momentum=0.25, gamma=1)
    seen = feed(ema, model, (1.0,), (3.0,), (5.0,), (7.0,), (11.0,))
    # momentum = max(0.25, 1 / (1 + steps)): 1/2, 1/3, then 1/4 (1/4 and 1/5 floored).
    assert seen[:2] == [[1.0], [2.0]]
    assert seen[2] == pytest.approx([2.0 * 2 / 3 + 5.0 / 3], abs=1e-6)  # 3.0
    assert seen[3] == pytest.approx([3.0 * 0.75 + 7.0 * 0.25], abs=1e-6)  # 4.0
    assert seen[4] == pytest.approx([4.0 * 0.75 + 11.0 * 0.25], abs=1e-6)  # 5.75


def test_stochastic_weight_average_is_the_running_mean() -> None:
    model = Tiny(0.0, 0.0)
    swa = StochasticWeightAverage(model)
    seen = feed(swa, model, (1.0, 2.0), (3.0, 6.0), (5.0, 1.0), (7.0, 3.0))
    assert seen == [[1.0, 2.0], [2.0, 4.0], [3.0, 3.0], [4.0, 3.0]]


def test_stochastic_weight_average_samples_every_interval() -> None:
    model = Tiny(0.0)
    swa = StochasticWeightAverage(model, interval=2)
    seen = feed(swa, model, (1.0,), (100.0,), (3.0,), (100.0,), (5.0,))
    assert seen == [[1.0], [1.0], [2.0], [2.0], [3.0]]


def test_buffers_are_copied_unless_update_buffers() -> None:
    model = Tiny(0.0)
    copied = ExponentialMovingAverage(model, momentum=0.5)
    averaged = ExponentialMovingAverage(model, momentum=0.5, update_buffers=True)
    for stat, count in ((2.0, 1), (6.0, 2), (10.0, 3)):
        model.set(0.0, stat=stat, count=count)
        copied.update_parameters(model)
        averaged.update_parameters(model)
    assert copied.module.stat.tolist() == [10.0]  # the source's, as it is now
    assert averaged.module.stat.tolist() == [7.0]  # 2 -> (2 + 6) / 2 = 4 -> (4 + 10) / 2 = 7
    assert int(copied.module.count) == int(averaged.module.count) == 3  # integers: copied


def test_the_copy_is_independent_frozen_and_saves_its_steps() -> None:
    model = Tiny(1.0)
    ema = ExponentialMovingAverage(model, momentum=0.5)
    assert not any(p.requires_grad for p in ema.parameters())
    model.set(9.0)
    assert weights(ema) == [1.0]  # a deep copy, not a view
    feed(ema, model, (2.0,), (4.0,))
    state = ema.state_dict()
    assert set(state) == {"steps", "module.w", "module.stat", "module.count"}
    restored = ExponentialMovingAverage(Tiny(0.0), momentum=0.5)
    restored.load_state_dict(state)
    assert int(restored.steps) == 2 and weights(restored) == [3.0]
    restored.update_parameters(model.set(5.0))  # averages: the loaded steps count
    assert weights(restored) == [4.0]


def test_averaged_models_build_by_name_and_check_their_arguments() -> None:
    model = Tiny(1.0)
    for name in ("ExponentialMovingAverage", "MomentumAnnealingEMA", "StochasticWeightAverage"):
        built = MODELS.build(dict(type=name, model=model, interval=2))
        assert type(built).__name__ == name and built.interval == 2
    assert MODELS.build(dict(type="ExponentialMovingAverage", model=model)).momentum == 0.0002
    with pytest.raises(TypeError):
        BaseAveragedModel(model)  # type: ignore[abstract]
    with pytest.raises(ValueError, match="momentum"):
        ExponentialMovingAverage(model, momentum=1.5)
    with pytest.raises(ValueError, match="interval"):
        StochasticWeightAverage(model, interval=0)
    with pytest.raises(ValueError, match="gamma"):
        MomentumAnnealingEMA(model, gamma=0)


def test_ema_updates_with_lerp_as_mmengine_does() -> None:
    torch.manual_seed(0)
    model = nn.Linear(8, 8)
    ema = ExponentialMovingAverage(model, momentum=0.3)
    reference = {k: v.detach().clone() for k, v in model.state_dict().items()}
    ema.update_parameters(model)
    for _ in range(3):
        with torch.no_grad():
            for param in model.parameters():
                param.add_(torch.randn_like(param))
        ema.update_parameters(model)
        for name, param in model.named_parameters():
            reference[name].lerp_(param.detach(), 0.3)
    for name, value in ema.module.state_dict().items():
        assert torch.equal(value, reference[name]), name  # bit for bit


def test_a_large_ema_momentum_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hooks_optim"):
        ExponentialMovingAverage(Tiny(1.0), momentum=0.4)
        assert not caplog.records
        ExponentialMovingAverage(Tiny(1.0), momentum=0.9)
    (record,) = caplog.records
    assert "usually a small number" in record.getMessage() and "0.9" in record.getMessage()


def test_avg_parameters_names_the_tensors_an_update_averages() -> None:
    model = Tiny(1.0)
    assert set(ExponentialMovingAverage(model).avg_parameters) == {"w"}
    averaged = ExponentialMovingAverage(model, update_buffers=True)
    assert set(averaged.avg_parameters) == {"w", "stat", "count"}
    assert averaged.avg_parameters["w"].data_ptr() == averaged.module.w.data_ptr()
