"""tools/plot_logs.py: reading scalars.json logs and the PNG drawn from them."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tool_scripts import load_tool

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_tool("plot_logs")


def _write_run(
    work_dir: Path,
    timestamp: str,
    lr: float,
    epochs: int = 3,
    iters: int = 4,
    tail: str = "",
    val_loss: bool = False,
    test: dict[str, float] | None = None,
) -> Path:
    """An epoch-based run as MMEngine's LocalVisBackend writes it: train records, then val.

    `val_loss` adds a validation loss to the val records, `test` a last record
    of test results (``test/...`` keys).
    """
    lines = []
    for epoch in range(1, epochs + 1):
        for i in range(1, iters + 1):
            step = (epoch - 1) * iters + i
            record = dict(lr=lr, data_time=0.01, loss=2.0 / step, time=0.1)
            record.update(epoch=epoch, iter=step, memory=100, step=step)
            lines.append(json.dumps(record))
        val = {"accuracy/top1": 30.0 + 10 * epoch, "data_time": 0.02, "time": 0.05, "step": epoch}
        if val_loss:
            val["val_loss"] = 1.0 / epoch
        lines.append(json.dumps(val))
        if epoch == 1:
            lines.append("  ")  # a blank line is ignored
    if test is not None:
        lines.append(json.dumps({**test, "step": epochs}))
    path = work_dir / timestamp / "vis_data" / "scalars.json"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join([*lines, tail]), encoding="utf-8")
    return path


def _write_config(scalars: Path, **config: str) -> None:
    """The ``config.json`` the JSON backend writes next to ``scalars.json``."""
    (scalars.parent / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


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


def test_non_finite_values_plot_in_both_forms(tool: Any, tmp_path: Path) -> None:
    """This project's strict-JSON strings and MMEngine's bare constants."""
    log = tmp_path / "scalars.json"
    log.write_text('{"loss": 1.0, "step": 1}\n{"loss": "NaN", "step": 2}\n'
                   '{"loss": Infinity, "step": 3}\n{"loss": "-Infinity", "step": 4}\n')  # fmt: skip
    steps, loss = tool.series(tool.load_records(log), "loss")
    assert steps == [1, 2, 3, 4]
    assert loss[0] == 1.0 and math.isnan(loss[1]) and loss[2:] == [math.inf, -math.inf]


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
    assert "base: " in done.stdout  # without a config.json, a run is named after its work_dir
    assert "crashed: " in done.stdout  # also when it is given as its scalars.json
    assert "truncated last line" in done.stderr

    done = _cli(str(base), str(crashed), "--legend", "lr 0.1", "lr 0.01", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "lr 0.01: " in done.stdout


def test_runs_with_the_same_name_and_timestamp_keep_their_paths(
    tool: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _write_run(tmp_path / "a" / "run", "20240101_000000", lr=0.1)
    second = _write_run(tmp_path / "b" / "run", "20240101_000000", lr=0.2)
    out = tmp_path / "curves.png"
    assert tool.main([str(first), str(second), str(tmp_path / "b"), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{tmp_path / 'a' / 'run' / '20240101_000000'}: {first} (15 records)"
    assert lines[1] == f"{second}: {second} (15 records)"  # the same run twice: as given
    assert lines[2] == f"{tmp_path / 'b'}: {second} (15 records)"
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_runs_are_named_after_their_config(tool: Any, tmp_path: Path) -> None:
    cnn = _write_run(tmp_path / "work_dirs" / "exp1", "20240101_000000", lr=0.1)
    _write_config(cnn, filename="/home/me/configs/digits/digits_cnn.py", work_dir="exp1")
    windows = _write_run(tmp_path / "work_dirs" / "exp2", "20240101_000000", lr=0.1)
    _write_config(windows, filename="C:\\configs\\resnet18_8xb32.yaml")
    no_filename = _write_run(tmp_path / "work_dirs" / "from_code", "20240101_000000", lr=0.1)
    _write_config(no_filename, work_dir="work_dirs/from_code")
    broken = _write_run(tmp_path / "work_dirs" / "broken", "20240101_000000", lr=0.1)
    (broken.parent / "config.json").write_text('{"filename": "cut sho', encoding="utf-8")
    loose = tmp_path / "loose" / "scalars.json"  # not in a run's vis_data folder
    loose.parent.mkdir()
    loose.write_text(cnn.read_text(encoding="utf-8"), encoding="utf-8")
    paths = [cnn, windows, no_filename, broken, loose]
    names = ["digits_cnn", "resnet18_8xb32", "from_code", "broken", "loose"]
    assert tool.run_names(paths) == names


def test_runs_of_one_config_get_their_timestamps(
    tool: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _write_run(tmp_path / "work_dirs" / "lr_0.1", "20240101_000000", lr=0.1)
    second = _write_run(tmp_path / "work_dirs" / "lr_0.01", "20240102_000000", lr=0.01)
    other = _write_run(tmp_path / "work_dirs" / "other", "20240103_000000", lr=0.01)
    for path, config in ((first, "cnn.py"), (second, "cnn.py"), (other, "mlp.py")):
        _write_config(path, filename=str(tmp_path / "configs" / config))
    out = tmp_path / "curves.png"
    assert tool.main([str(tmp_path / "work_dirs" / "lr_0.1"), str(second), str(other),
                      "--out", str(out)]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        f"cnn (20240101_000000): {first} (15 records)",
        f"cnn (20240102_000000): {second} (15 records)",
        f"mlp: {other} (15 records)",
    ]
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_validation_points_move_to_the_iteration_that_ended_their_epoch(
    tool: Any, tmp_path: Path
) -> None:
    path = _write_run(tmp_path / "run", "20240101_000000", lr=0.1, iters=5, val_loss=True)
    records = tool.load_records(path)
    assert tool.iteration_series(records, "val_loss") == ([5, 10, 15], [1.0, 0.5, 1 / 3])
    assert tool.iteration_series(records, "loss") == tool.series(records, "loss")
    iter_based = [{"loss": 1.0, "iter": 10, "step": 10}, {"val_loss": 0.5, "iter": 10, "step": 10}]
    assert tool.iteration_series(iter_based, "val_loss") == ([10], [0.5])


def test_the_test_value_of_a_key(tool: Any) -> None:
    records = [
        {"loss": 0.5, "iter": 4, "epoch": 1, "step": 4},
        {"test/accuracy/top1": 90.0, "test/test_loss": 0.25, "test/time": 0.1, "step": 0},
        {"test/accuracy/top1": 91.5, "step": 0},  # tested again: the last one counts
    ]
    assert tool.tested_value(records, "accuracy/top1") == ("test/accuracy/top1", 91.5)
    assert tool.tested_value(records, "loss") == ("test/test_loss", 0.25)
    assert tool.tested_value(records, "val_loss") == ("test/test_loss", 0.25)
    assert tool.tested_value([{"test/loss": 0.3, "step": 1}], "loss") == ("test/loss", 0.3)
    assert tool.tested_value(records, "lr") is None
    assert tool.tested_value(records[:1], "accuracy/top1") is None


def _lines(ax: Any) -> dict[str, tuple[list[float], list[float]]]:
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}


def test_eval_panels_add_validation_and_the_final_test(tool: Any, tmp_path: Path) -> None:
    test = {"test/accuracy/top1": 75.0, "test/test_loss": 0.4, "test/time": 0.04}
    path = _write_run(tmp_path / "run", "20240101_000000", lr=0.1, val_loss=True, test=test)
    runs = {"cnn": tool.load_records(path)}
    fig = tool.draw(runs, ["loss", "accuracy/top1", "lr"], log_y=["loss"], with_eval=True)
    loss, accuracy, lr = fig.axes
    assert loss.get_yscale() == "log"
    assert accuracy.get_yscale() == lr.get_yscale() == "linear"
    lines = _lines(loss)
    assert list(lines) == ["cnn", "cnn: val_loss", "cnn: test/test_loss 0.4"]
    assert lines["cnn: val_loss"][0] == [4, 8, 12]
    assert lines["cnn: test/test_loss 0.4"] == ([12], [0.4])  # at the end, whatever its step
    assert _lines(accuracy)["cnn: test/accuracy/top1 75"] == ([3], [75.0])
    assert list(_lines(lr)) == ["cnn"]
    assert [t.get_text() for t in loss.get_legend().get_texts()] == list(lines)

    plain = tool.draw(runs, ["loss", "accuracy/top1"])  # without with_eval: as before
    assert [list(_lines(ax)) for ax in plain.axes] == [["cnn"], ["cnn"]]
    assert plain.axes[0].get_yscale() == "linear"


def test_eval_panels_without_eval_records(tool: Any, tmp_path: Path) -> None:
    """A log with neither a validation loss nor test records: the training curves alone."""
    runs = {"cnn": tool.load_records(_write_run(tmp_path / "run", "20240101_000000", lr=0.1))}
    fig = tool.draw(runs, ["loss", "accuracy/top1"], log_y=["loss"], with_eval=True)
    assert [list(_lines(ax)) for ax in fig.axes] == [["cnn"], ["cnn"]]
    assert fig.axes[0].get_yscale() == "log"


def test_log_scale_needs_a_plotted_positive_key(
    tool: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = {"run": [{"loss": 0.0, "step": 1}, {"loss": -1.0, "step": 2}]}
    with pytest.raises(ValueError, match="a log scale for lr, which is not plotted"):
        tool.draw(runs, ["loss"], log_y=["lr"])
    fig = tool.draw(runs, ["loss"], log_y=["loss"])
    assert fig.axes[0].get_yscale() == "linear"
    assert "'loss' has no positive value; its panel stays linear" in capsys.readouterr().err


def test_the_command_line_draws_eval_points_on_a_log_scale(tmp_path: Path) -> None:
    import matplotlib.image

    test = {"test/accuracy/top1": 75.0, "test/test_loss": 0.4}
    path = _write_run(tmp_path / "run", "20240101_000000", lr=0.1, val_loss=True, test=test)
    _write_config(path, filename="configs/cnn.py")
    out, linear = tmp_path / "eval.png", tmp_path / "linear.png"
    keys = ["--keys", "loss", "accuracy/top1"]
    done = _cli(str(tmp_path / "run"), *keys, "--eval", "--log-y", "loss", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"cnn: {path} (16 records)" in done.stdout
    done = _cli(str(tmp_path / "run"), *keys, "--out", str(linear))
    assert done.returncode == 0, done.stderr
    image, plain = matplotlib.image.imread(out), matplotlib.image.imread(linear)
    assert image.shape == plain.shape
    assert image.std() > 0.05
    assert abs(image - plain).max() > 0.5  # the extra lines and the log axis show

    done = _cli(str(tmp_path / "run"), *keys, "--log-y", "lr", "--out", str(out))
    assert done.returncode == 2
    assert "a log scale for lr, which is not plotted: add it to keys" in done.stderr


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
