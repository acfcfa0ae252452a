"""The installed ``hooks-train`` command: a config and its options, and training under torchrun."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ports import free_port
from run_logs import read_json_lines

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "digits" / "digits_cnn.py"
SHORT = ["train_cfg.max_epochs=1", "+train_dataloader.dataset.limit=256", "test_dataloader=None",
         "test_cfg=None", "test_evaluator=None"]  # fmt: skip


def hooks_train() -> str:
    found = shutil.which("hooks-train", path=str(Path(sys.executable).parent))
    assert found is not None, "the hooks-train console script is not installed"
    return found


def test_a_misspelt_option_stops_before_training_with_a_suggestion(tmp_path: Path) -> None:
    result = subprocess.run(
        [hooks_train(), str(CONFIG), "--work-dir", str(tmp_path),
         "--cfg-options", "optim_wrapper.optimizer.lrr=0.1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "did you mean 'optim_wrapper.optimizer.lr'?" in result.stderr
    assert not any(tmp_path.iterdir())  # nothing was started


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path) -> None:
    first = [hooks_train(), str(CONFIG), "--work-dir", str(tmp_path), "--cfg-options", *SHORT]
    subprocess.run(first, capture_output=True, text=True, timeout=300, check=True)
    longer = [*first[: -len(SHORT)], *SHORT[1:], "train_cfg.max_epochs=2", "--resume"]
    result = subprocess.run(longer, capture_output=True, text=True, timeout=300, check=True)
    assert "resumed epoch: 1, iter: 8" in result.stdout
    assert (tmp_path / "epoch_2.pth").is_file()


def torchrun_train(
    config: Path, work_dir: Path, *options: str, restarts: int = 0
) -> subprocess.CompletedProcess[str]:
    """`tools/train.py` on two gloo processes under torchrun; the fault hooks importable."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2",
        f"--max-restarts={restarts}", "--master-addr=127.0.0.1", f"--master-port={free_port()}",
        str(ROOT / "tools" / "train.py"), str(config), "--launcher", "pytorch",
        "--work-dir", str(work_dir), *options,
    ]  # fmt: skip
    paths = [str(Path(__file__).parent), str(CONFIG.parent), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def with_fault(tmp_path: Path, hook: str) -> Path:
    """The digits config with one more custom hook, from ``fault_hooks``."""
    config = tmp_path / "with_fault.py"
    config.write_text(
        f"_base_ = [{str(CONFIG)!r}]\n"
        "custom_imports = dict(imports=['digits_parts', 'fault_hooks'])\n"
        f"custom_hooks = [dict(type='EMAHook', momentum=0.02), {hook}]\n"
    )
    return config


def test_torchrun_trains_on_two_processes(tmp_path: Path) -> None:
    result = torchrun_train(CONFIG, tmp_path, "--cfg-options", *SHORT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (log_dir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    records = read_json_lines(log_dir / "vis_data" / "scalars.json")
    # 256 samples, 2 ranks, batch 32: 4 iterations an epoch on each rank.
    assert [r["step"] for r in records if "loss" in r] == [4]
    assert [r["step"] for r in records if "accuracy/top1" in r] == [1]
    assert result.stdout.count("Finished digits_cnn") == 1  # rank 0 reports
    assert (tmp_path / "epoch_1.pth").is_file()


def test_a_torchrun_restart_continues_from_the_launch_s_own_checkpoint(tmp_path: Path) -> None:
    """Without --resume (here --overwrite of an earlier run), a restart still keeps its progress."""
    work = tmp_path / "work"
    earlier = [hooks_train(), str(CONFIG), "--work-dir", str(work), "--cfg-options", *SHORT]
    subprocess.run(earlier, capture_output=True, text=True, timeout=300, check=True)
    marker = tmp_path / "killed"
    config = with_fault(tmp_path, f"dict(type='KillOnce', marker={str(marker)!r}, at_iter=6)")
    result = torchrun_train(
        config, work, "--overwrite", "--cfg-options", *SHORT[1:], "train_cfg.max_epochs=2",
        restarts=1,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert marker.exists()  # rank 1 died after iteration 6 (of 8)
    assert output.count("hooks-train: removed") == 1  # the earlier run's, at the launch only
    assert "torchrun restarted the workers (restart 1 of at most 1)" in output
    # epoch 1's checkpoint, or the one rank 0 saved when torchrun stopped it
    assert re.search(r"resumed epoch: 1, iter: [456]\b", output), output[-4000:]
    assert (work / "epoch_2.pth").is_file()


def test_torchrun_s_failure_summary_shows_the_rank_s_error(tmp_path: Path) -> None:
    config = with_fault(tmp_path, "dict(type='RaiseAt', at_iter=2)")
    result = torchrun_train(config, tmp_path / "work", "--cfg-options", *SHORT)
    assert result.returncode != 0
    summary = result.stderr[result.stderr.index("Root Cause") :]
    assert "RaiseAt: rank 1 fails after iteration 2" in summary
    assert "after_train_iter" in summary  # the traceback, not "To enable traceback see ..."
