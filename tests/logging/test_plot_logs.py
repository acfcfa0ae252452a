"""tools/plot_logs.py: reading scalars.json logs and the PNG drawn from them."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("plot_logs", ROOT / "tools" / "plot_logs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_run(
    work_dir: Path, timestamp: str, lr: float, epochs: int = 3, iters: int = 4, **extra: str
) -> Path:
    """An epoch-based run as MMEngine's LocalVisBackend writes it: train records, then val."""
    lines = []
    for epoch in range(1, epochs + 1):
        for i in range(1, iters + 1):
            step = (epoch - 1) * iters + i
            record = dict(lr=lr, data_time=0.01, loss=2.0 / step, time=0.1)
            record.update(epoch=epoch, iter=step, memory=100, step=step)
            lines.append(json.dumps(record))
        val = {"accuracy/top1": 30.0 + 10 * epoch, "data_time": 0.02, "time": 0.05, "step": epoch}
        lines.append(json.dumps(val))
        if epoch == 1:
            lines.append("  ")  # a blank line is ignored
    path = work_dir / timestamp / "vis_data" / "scalars.json"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join([*lines, extra.get("tail", "")]), encoding="utf-8")
    return path


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    """``base`` ends cleanly; ``crashed`` died writing its last line and logged a NaN loss."""
    base = tmp_path / "base"
    _write_run(base, "20240101_000000", lr=0.1)
    crashed = tmp_path / "crashed"
    tail = '{"lr": 0.01, "loss": NaN, "step": 13}\n{"lr": 0.01, "data_time": 0.0'
    _write_run(crashed, "20240102_000000", lr=0.01, epochs=2, tail=tail)
    return base, crashed


def test_series_keeps_each_key_at_its_own_steps(tool: Any, two_runs: tuple[Path, Path]) -> None:
    records = tool.load_records(tool.find_scalars(two_runs[0]))
    assert len(records) == 3 * 4 + 3
    steps, loss = tool.series(records, "loss")
    assert steps == list(range(1, 13))
    assert loss == pytest.approx([2.0 / s for s in steps])
    assert tool.series(records, "accuracy/top1") == ([1, 2, 3], [40.0, 50.0, 60.0])
    steps, time = tool.series(records, "time")  # in both train and val records
    assert len(steps) == 15
    assert time[4] == pytest.approx(0.05)
    assert tool.series(records, "epoch", xaxis="iter")[0] == list(range(1, 13))
    assert tool.series(records, "grad_norm") == ([], [])


def test_validation_panels_say_their_steps_are_epochs(
    tool: Any, two_runs: tuple[Path, Path]
) -> None:
    runs = {p.name: tool.load_records(tool.find_scalars(p)) for p in two_runs}
    assert tool._xlabel(runs, "accuracy/top1", "step") == "step (epoch)"
    assert tool._xlabel(runs, "loss", "step") == "step"
    assert tool._xlabel(runs, "time", "step") == "step"  # both train and val records
    iter_based = [{"loss": 1.0, "iter": 10, "step": 10}, {"accuracy/top1": 50.0, "step": 10}]
    assert tool._xlabel({"run": iter_based}, "accuracy/top1", "step") == "step"
    assert tool._xlabel(runs, "accuracy/top1", "iter") == "iter"


def test_a_truncated_last_line_is_skipped_with_a_warning(
    tool: Any, two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tool.find_scalars(two_runs[1])
    records = tool.load_records(path)
    assert len(records) == 2 * 4 + 2 + 1
    err = capsys.readouterr().err
    assert "truncated last line" in err
    assert f"{path}:{2 * 5 + 1 + 2}: skipping a truncated last line" in err  # blank lines count
    assert err.count("warning") == 1
    steps, loss = tool.series(records, "loss")
    assert steps[-1] == 13
    assert math.isnan(loss[-1])


def test_a_run_folder_reads_its_newest_log(tool: Any, tmp_path: Path) -> None:
    old = _write_run(tmp_path / "run", "20240101_000000", lr=0.1)
    new = _write_run(tmp_path / "run", "20240105_000000", lr=0.2)
    os.utime(old, (2_000_000_000, 2_000_000_000))  # the older name was written last
    assert tool.find_scalars(tmp_path / "run") == old
    os.utime(new, (2_000_000_100, 2_000_000_100))
    assert tool.find_scalars(tmp_path / "run") == new
    assert tool.find_scalars(new) == new
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no vis_data/scalars\.json under"):
        tool.find_scalars(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        tool.find_scalars(tmp_path / "nowhere")


def test_plot_writes_a_png(tool: Any, two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    import matplotlib.image

    runs = {p.name: tool.load_records(tool.find_scalars(p)) for p in two_runs}
    runs["empty"] = []  # a run with none of the keys is left out of every panel
    out = tmp_path / "curves.png"
    tool.plot(runs, ["loss", "accuracy/top1", "lr"], out)
    assert out.read_bytes()[:8] == PNG_MAGIC
    image = matplotlib.image.imread(out)
    height, width, channels = image.shape
    assert width == 800
    assert height == pytest.approx(3 * 280, abs=2)
    assert channels in (3, 4)
    assert image.std() > 0.05  # not a blank canvas


def test_a_key_no_run_has_lists_the_available_keys(
    tool: Any, two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    runs = {p.name: tool.load_records(tool.find_scalars(p)) for p in two_runs}
    out = tmp_path / "curves.png"
    with pytest.raises(ValueError, match="'top1' is in none of the runs") as info:
        tool.plot(runs, ["loss", "top1"], out)
    message = str(info.value)
    assert "did you mean 'accuracy/top1'" in message
    for key in ("accuracy/top1", "data_time", "epoch", "iter", "loss", "lr", "memory", "time"):
        assert key in message
    assert "'step'" not in message
    assert not out.exists()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "tools/plot_logs.py", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_the_command_line(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    base, crashed = two_runs
    crashed_file = next(crashed.glob("*/vis_data/scalars.json"))
    out = tmp_path / "cli.png"
    keys = ["--keys", "loss", "accuracy/top1", "lr"]
    done = _cli(str(base), str(crashed_file), *keys, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert f"wrote {out}: 3 keys, 2 runs" in done.stdout
    assert "base: " in done.stdout  # a run is named after its folder, a file after its run
    assert "20240102_000000: " in done.stdout
    assert "truncated last line" in done.stderr

    done = _cli(str(base), str(crashed), "--legend", "lr 0.1", "lr 0.01", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "lr 0.01: " in done.stdout


def test_runs_with_the_same_folder_name_keep_their_paths(
    tool: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _write_run(tmp_path / "a" / "run", "20240101_000000", lr=0.1)
    second = _write_run(tmp_path / "b" / "run", "20240101_000000", lr=0.2)
    out = tmp_path / "curves.png"
    assert tool.main([str(first), str(second), str(tmp_path / "b"), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{tmp_path / 'a' / 'run' / '20240101_000000'}: {first} (15 records)"
    assert lines[1] == f"{tmp_path / 'b' / 'run' / '20240101_000000'}: {second} (15 records)"
    assert lines[2] == f"b: {second} (15 records)"
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_command_line_errors(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    base, crashed = two_runs
    out = tmp_path / "x.png"
    done = _cli(str(base), str(crashed), "--keys", "loss", "acc", "--out", str(out))
    assert done.returncode == 2
    assert "'acc' is in none of the runs; did you mean 'accuracy/top1'?" in done.stderr
    assert "Available keys:" in done.stderr
    assert not out.exists()

    done = _cli(str(base), str(crashed), "--legend", "only-one", "--out", str(out))
    assert done.returncode == 2
    assert "--legend gives 1 names for 2 runs" in done.stderr

    done = _cli(str(tmp_path / "nowhere"), "--out", str(out))
    assert done.returncode == 2
    assert "no such file or folder" in done.stderr
    assert not out.exists()
