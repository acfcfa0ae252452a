"""The demo end to end, as a new user runs it (shortened): artifacts, plots and accuracy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch
from run_logs import read_json_lines
from tensorboard.backend.event_processing import event_accumulator
from tool_scripts import load_tool

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "digits" / "digits_cnn.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_the_demo_trains_tests_the_best_checkpoint_and_draws_its_plots(tmp_path: Path) -> None:
    work_dir = tmp_path / "digits"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "demo.py"), "--work-dir", str(work_dir),
         "--cfg-options", "train_cfg.max_epochs=3", "custom_hooks.0.momentum=0.2"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout

    (log_dir,) = [path for path in work_dir.iterdir() if path.is_dir()]
    records = read_json_lines(log_dir / "vis_data" / "scalars.json")
    val = [r for r in records if "accuracy/top1" in r]
    assert [r["step"] for r in val] == [1, 2, 3]
    assert [r["step"] for r in records if "loss" in r][-1] == 3 * 40  # 40 iterations an epoch
    assert list((log_dir / "vis_data").glob("events.out.tfevents.*"))
    events = event_accumulator.EventAccumulator(str(log_dir / "vis_data"), size_guidance={
        event_accumulator.SCALARS: 0})  # fmt: skip
    events.Reload()
    tags = events.Tags()["scalars"]
    for tag in tags:  # validation's points have names of their own: no curve goes back
        steps = [event.step for event in events.Scalars(tag)]
        assert steps == sorted(steps), tag
    assert {"loss", "val/time", "accuracy/top1", "test/accuracy/top1"} <= set(tags)
    assert (log_dir / f"{log_dir.name}.log").is_file()

    (best,) = work_dir.glob("best_accuracy_top1_epoch_*.pth")
    assert (work_dir / "epoch_3.pth").is_file()
    checkpoint = torch.load(best, weights_only=True)
    assert checkpoint["meta"]["epoch"] == max(val, key=lambda r: r["accuracy/top1"])["step"]

    tested = re.search(r"Epoch\(test\) \[3/3\]    accuracy/top1: (\d+\.\d+)", out)
    assert tested is not None, out[-2000:]
    assert float(tested.group(1)) > 80.0  # chance is 10 %
    assert f"Testing the best checkpoint {best}" in out

    for name in ("curves.png", "lr_schedule.png"):
        assert (log_dir / name).read_bytes().startswith(PNG_MAGIC)
        assert str(log_dir / name) in out
    for label in ("text log", "JSON log", "TensorBoard", "last checkpoint", "best checkpoint"):
        assert re.search(rf"^  {label} +\S", out, re.MULTILINE), label


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """tools/demo.py as a module, with its neighbours (plot_logs, vis_scheduler) importable."""
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    monkeypatch.setattr(sys, "path", list(sys.path))  # undo what custom_imports adds
    return load_tool("demo")


def _write_log(log_dir: Path, test: dict[str, float] | None) -> None:
    """Two epochs of 40 iterations as the demo logs them, with a validation loss."""
    lines = []
    for epoch in (1, 2):
        for i in range(10, 41, 10):
            step = (epoch - 1) * 40 + i
            lines.append(
                {"lr": 3e-3, "loss": 2.0 / step, "epoch": epoch, "iter": step, "step": step}
            )
        lines.append({"accuracy/top1": 80.0 + epoch, "val_loss": 0.5 / epoch, "epoch": epoch,
                      "step": epoch})  # fmt: skip
    if test is not None:
        lines.append({**test, "step": 2})
    vis_data = log_dir / "vis_data"
    vis_data.mkdir(parents=True)
    (vis_data / "scalars.json").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    (vis_data / "config.json").write_text(json.dumps({"filename": str(CONFIG)}))


def _drawn(demo: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The figures `plot_logs.plot` draws from now on, kept for the test to read."""
    figures: list[Any] = []
    draw = demo.plot_logs.draw

    def keep(*args: Any, **kwargs: Any) -> Any:
        figures.append(draw(*args, **kwargs))
        return figures[-1]

    monkeypatch.setattr(demo.plot_logs, "draw", keep)
    return figures


def _labels(ax: Any) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


@pytest.mark.parametrize("tested", [True, False], ids=["with-test-records", "without"])
def test_the_loss_panel_is_logarithmic_with_validation_and_test(
    demo: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tested: bool
) -> None:
    log_dir = tmp_path / "digits_cnn" / "20240101_000000"
    test = {"test/accuracy/top1": 92.5, "test/test_loss": 0.3, "test/time": 0.01}
    _write_log(log_dir, test if tested else None)
    figures = _drawn(demo, monkeypatch)
    paths = demo.draw_plots(log_dir, CONFIG)  # the dataset size comes from the config
    assert paths == [log_dir / "curves.png", log_dir / "lr_schedule.png"]
    for path in paths:
        assert path.read_bytes().startswith(PNG_MAGIC)
    ((loss, accuracy, lr),) = [figure.axes for figure in figures]
    assert loss.get_yscale() == "log"
    assert lr.get_yscale() == "linear"
    stars = ["digits_cnn: test/test_loss 0.3"] if tested else []
    assert _labels(loss) == ["digits_cnn", "digits_cnn: val_loss", *stars]
    (val,) = [line for line in loss.lines if line.get_label() == "digits_cnn: val_loss"]
    assert list(val.get_xdata()) == [40, 80]  # each epoch's validation at its last iteration
    stars = ["digits_cnn: test/accuracy/top1 92.5"] if tested else []
    assert _labels(accuracy) == ["digits_cnn", *stars]
