"""The demo end to end, as a new user runs it (shortened): artifacts, plots and accuracy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import torch
from run_logs import read_json_lines

ROOT = Path(__file__).resolve().parents[2]
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
