"""tools/vis_scheduler.py: simulated schedule values and the PNG it draws."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tool_scripts import load_tool

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tools" / "examples" / "warmup_cosine.py"


@pytest.fixture(scope="module")
def vis() -> ModuleType:
    return load_tool("vis_scheduler")


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


DATA_MODULE = """
from hooks_core import DATASETS


@DATASETS.register_module(force=True)
class VisTinyData:
    def __init__(self, n=100, missing=None):
        if missing:
            raise FileNotFoundError(f"no data at {missing}\\nrun the download script first")
        self.n = n

    def __len__(self):
        return self.n
"""


@pytest.fixture
def data_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module next to the configs that registers ``VisTinyData``; returns its name."""
    name = f"vis_tiny_data_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(DATA_MODULE, encoding="utf-8")
    monkeypatch.setattr(sys, "path", list(sys.path))  # undo what custom_imports adds
    return name


def _config(tmp_path: Path, body: str) -> Path:
    """`body` and an epoch-based schedule (3 epochs, a warm-up, a step each epoch) as a file."""
    path = tmp_path / "cfg.py"
    path.write_text(
        textwrap.dedent(body)
        + textwrap.dedent("""
            optim_wrapper = dict(optimizer=dict(type="SGD", lr=0.1, momentum=0.9))
            param_scheduler = [
                dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=5),
                dict(type="StepLR", step_size=1, gamma=0.5, by_epoch=True, begin=1),
            ]
            train_cfg = dict(by_epoch=True, max_epochs=3)
        """),
        encoding="utf-8",
    )
    return path


def test_the_dataset_size_is_read_from_the_config(
    vis: Any, tmp_path: Path, data_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, f"""
        custom_imports = dict(imports=["{data_module}"])
        train_dataloader = dict(dataset=dict(type="VisTinyData", n=95), batch_size=10)
    """)  # fmt: skip
    cfg = vis.load_config(config)
    assert vis.needs_dataset_size(cfg)
    assert vis.dataset_size(cfg) == 95
    out = tmp_path / "lr.png"
    assert vis.main([str(config), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert f"wrote {out}: 30 iterations (dataset size read from the config)" in printed
    assert vis.main([str(config), "--out", str(out), "--dataset-size", "40"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}: 12 iterations"  # the option wins


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "the config has no train_dataloader.dataset"),
        ("train_dataloader = dict(batch_size=4)", "the config has no train_dataloader.dataset"),
        (
            'train_dataloader = dict(dataset=dict(type="NoSuchData"), batch_size=4)',
            "building train_dataloader.dataset failed: NotRegisteredError: ",
        ),
        (
            'custom_imports = dict(imports=["{module}"])\n'
            'train_dataloader = dict(dataset=dict(type="VisTinyData", missing="/data/x"))',
            "building train_dataloader.dataset failed: FileNotFoundError: no data at /data/x; ",
        ),
        (
            'custom_imports = dict(imports=["no_such_module_here"])\n'
            'train_dataloader = dict(dataset=dict(type="VisTinyData"))',
            "building train_dataloader.dataset failed: ImportError: custom_imports could not "
            "import 'no_such_module_here'",
        ),
    ],
    ids=["no-dataloader", "no-dataset", "unknown-type", "dataset-raises", "import-fails"],
)
def test_without_a_buildable_dataset_one_line_names_the_fix(
    vis: Any,
    tmp_path: Path,
    data_module: str,
    capsys: pytest.CaptureFixture[str],
    body: str,
    reason: str,
) -> None:
    config = _config(tmp_path, body.format(module=data_module))
    out = tmp_path / "lr.png"
    assert vis.main([str(config), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert f": error: cannot tell the epoch length of {config}: " in line
    assert reason in line
    assert line.endswith("; pass --dataset-size N (training samples per epoch)")
    assert not out.exists()


def test_the_command_exits_2_without_a_traceback(tmp_path: Path) -> None:
    out = tmp_path / "lr.png"
    command = [sys.executable, "tools/vis_scheduler.py", str(EXAMPLE), "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert "pass --dataset-size N" in done.stderr
    assert not out.exists()


def test_an_iteration_based_schedule_does_not_build_the_dataset(
    vis: Any, tmp_path: Path, data_module: str
) -> None:
    config = tmp_path / "iters.py"
    config.write_text(textwrap.dedent(f"""
        custom_imports = dict(imports=["{data_module}"])
        train_dataloader = dict(dataset=dict(type="VisTinyData", missing="/x"), batch_size=4)
        optim_wrapper = dict(optimizer=dict(type="SGD", lr=0.1))
        param_scheduler = dict(type="StepLR", step_size=5, gamma=0.5, by_epoch=False)
        train_cfg = dict(by_epoch=False, max_iters=20)
    """), encoding="utf-8")  # fmt: skip
    assert not vis.needs_dataset_size(vis.load_config(config))
    assert vis.main([str(config), "--out", str(tmp_path / "lr.png")]) == 0
    converted = vis.load_config(config)
    converted["param_scheduler"] = dict(converted["param_scheduler"], convert_to_iter_based=True)
    assert vis.needs_dataset_size(converted)
