"""tools/vis_scheduler.py: simulated schedule values and the PNG it draws."""

from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tools" / "examples" / "warmup_cosine.py"


@pytest.fixture(scope="module")
def vis() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "vis_scheduler", ROOT / "tools" / "vis_scheduler.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_warms_up_then_anneals(vis: Any) -> None:
    values = vis.simulate(vis.load_config(str(EXAMPLE)), dataset_size=12800, batch_size=64)
    lr = values["lr"]
    assert len(lr) == 24 * 200 == len(values["momentum"])
    assert lr[0] == pytest.approx(0.001)
    assert lr[199] == pytest.approx(0.1)  # the warm-up ends at iteration end - 1
    assert lr[200] == pytest.approx(0.1)  # the cosine starts at epoch 1
    for i in (200, 1000, 2600, 4799):  # the converted cosine: T_max = 23 epochs of 200
        t = i - 200
        expected = 1e-4 + (0.1 - 1e-4) * (1 + math.cos(math.pi * t / 4600)) / 2
        assert lr[i] == pytest.approx(expected), i
    assert all(a >= b for a, b in itertools.pairwise(lr[200:]))
    assert set(values["momentum"]) == {0.9}


def test_iteration_based_with_adam_betas(vis: Any) -> None:
    cfg = dict(
        optim_wrapper=dict(optimizer=dict(type="torch.optim.Adam", lr=1e-3, betas=(0.95, 0.999))),
        param_scheduler=[
            dict(type="StepLR", step_size=10, gamma=0.5, by_epoch=False),
            dict(type="CosineAnnealingMomentum", T_max=30, eta_min=0.85, by_epoch=False),
        ],
        train_cfg=dict(by_epoch=False, max_iters=30),
    )
    values = vis.simulate(cfg)
    assert values["lr"][::10] == pytest.approx([1e-3, 5e-4, 2.5e-4])
    assert values["momentum"][0] == pytest.approx(0.95)
    assert values["momentum"][15] == pytest.approx(0.9)


def test_epoch_based_needs_the_dataset_size(vis: Any) -> None:
    with pytest.raises(ValueError, match="dataset-size"):
        vis.simulate(vis.load_config(str(EXAMPLE)))


def test_the_command_line_writes_a_png(vis: Any, tmp_path: Path) -> None:
    out = tmp_path / "lr.png"
    args = [str(EXAMPLE), "--out", str(out), "--dataset-size", "640", "--batch-size", "64"]
    assert vis.main(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_committed_figure_exists() -> None:
    figure = ROOT / "docs" / "img" / "warmup_cosine_lr.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
