"""``hooks-train``: a mistake in the config or the options is one line and exit status 2.

Each test runs the command for real, as a user would, on tiny configs written
to `tmp_path` that train the toy model of tests/support in the core alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parents[1] / "support"

# A whole (tiny) run; objects, not type names, so no satellite package is needed.
RUN = """
import torch
import toy

model = toy.ToyModel()
train_dataloader = dict(dataset=toy.ToyDataset(16), batch_size=8)
train_cfg = dict(by_epoch=True, max_epochs=1)
optim_wrapper = toy.PlainOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
log_level = 'WARNING'
"""

# Registered by configs that name it in custom_imports: hooks a config gets wrong.
PARTS = """
from hooks_core import HOOKS, Hook


@HOOKS.register_module()
class NoBatchIdxHook(Hook):
    def after_train_iter(self, runner, step):  # the point passes batch_idx, data_batch, outputs
        pass


@HOOKS.register_module()
class PickyHook(Hook):
    def __init__(self, interval=1):
        if interval < 1:
            raise ValueError(f'interval must be at least 1, got {interval}')
"""


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def hooks_train(tmp_path: Path, config: str, *options: str) -> subprocess.CompletedProcess[str]:
    """Run ``hooks-train tmp_path/config`` with the toy parts importable."""
    write(tmp_path / "run.py", RUN)
    write(tmp_path / "cli_error_parts.py", PARTS)
    command = [sys.executable, "-m", "hooks_core.cli", str(tmp_path / config),
               "--work-dir", str(tmp_path / "work"), *options]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get(
        "PYTHONPATH", "")])}  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def the_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a user's mistake prints, checked to be all there is on stderr."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hooks-train: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("files", "options", "expected"),
    [
        ({"exp.py": "_base_ = 'run.py'\n"}, ["--cfg-options", "train_cfg.max_epoch=2"],
         ["exp.py: --cfg-options train_cfg.max_epoch=2: cfg-options: 'train_cfg.max_epoch' is "
          "not in the config; did you mean 'train_cfg.max_epochs'?"]),
        ({"exp.py": "_base_ = 'run.py'\ncustom_hooks = [dict(type='IterTimerHok')]\n"}, [],
         ["exp.py: ", "'IterTimerHok'", "'IterTimerHook'"]),
        ({"exp.py": "_base_ = 'run.py'\ncustom_imports = ['cli_error_parts']\n"
                    "custom_hooks = [dict(type='NoBatchIdxHook')]\n"}, [],
         ["exp.py: NoBatchIdxHook.after_train_iter(runner, step) cannot be called at hook point "
          "'after_train_iter'", "expected after_train_iter(self, runner, batch_idx"]),
        ({"exp.py": "_base_ = 'run.py'\ncustom_imports = ['cli_error_parts']\n"
                    "custom_hooks = [dict(type='PickyHook', interval=0)]\n"}, [],
         ["exp.py: interval must be at least 1, got 0; raised by PickyHook(...)"]),
        ({"exp.py": "custom_imports = ['no_such_parts']\n"}, [],
         ["exp.py: custom_imports: custom_imports could not import 'no_such_parts'"]),
        ({}, [], ["missing.py: no config file "]),
        ({"exp.py": "model = dict(type='ToyModel'\n"}, [], ["exp.py: ", "exp.py, line 1"]),
        ({"exp.json": '{"model": 1,}'}, [], ["exp.json: config ", "is not valid JSON"]),
    ],
    ids=["cfg-options key", "unknown type", "hook signature", "constructor error and note",
         "custom_imports", "missing file", "python syntax", "json syntax"],
)  # fmt: skip
def test_a_mistake_is_one_line_naming_the_config_and_exits_2(
    tmp_path: Path, files: dict[str, str], options: list[str], expected: list[str]
) -> None:
    for name, text in files.items():
        write(tmp_path / name, text)
    config = next(iter(files), "missing.py")
    line = the_error_line(hooks_train(tmp_path, config, *options))
    assert str(tmp_path / config) in line  # the config the user named
    for part in expected:
        assert part in line


def test_debug_shows_the_traceback_with_its_notes(tmp_path: Path) -> None:
    write(tmp_path / "exp.py", "_base_ = 'run.py'\ncustom_imports = ['cli_error_parts']\n"
                               "custom_hooks = [dict(type='PickyHook', interval=0)]\n")  # fmt: skip
    result = hooks_train(tmp_path, "exp.py", "--debug")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ValueError: interval must be at least 1, got 0" in result.stderr
    assert "raised by PickyHook(...)" in result.stderr  # the registry's PEP 678 note
    assert "hooks-train: error:" not in result.stderr


def test_an_error_raised_while_training_keeps_its_traceback(tmp_path: Path) -> None:
    write(tmp_path / "broken_model.py", """
        import toy


        class BrokenModel(toy.ToyModel):
            def forward(self, *args, **kwargs):
                raise ValueError('the forward pass failed on purpose')
    """)  # fmt: skip
    write(tmp_path / "exp.py", """
        _base_ = 'run.py'
        import sys
        sys.path.insert(0, {folder!r})
        import torch
        import toy
        import broken_model

        model = broken_model.BrokenModel()
        optim_wrapper = toy.PlainOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    """.replace("{folder!r}", repr(str(tmp_path))))  # fmt: skip
    result = hooks_train(tmp_path, "exp.py")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ValueError: the forward pass failed on purpose" in result.stderr
    assert "hooks-train: error:" not in result.stderr


def test_a_typo_in_a_loop_type_is_one_line_too(tmp_path: Path) -> None:
    write(tmp_path / "exp.py", "_base_ = 'run.py'\ntrain_cfg = dict(type='EpochBasedTrainLop')\n")
    line = the_error_line(hooks_train(tmp_path, "exp.py"))
    assert "'EpochBasedTrainLop' is not in the hooks_core::loop registry" in line
    assert "Did you mean 'EpochBasedTrainLoop'" in line


def test_a_rerun_does_not_write_among_an_earlier_runs_checkpoints(tmp_path: Path) -> None:
    write(
        tmp_path / "exp.py", "_base_ = 'run.py'\ncustom_hooks = [dict(type='toy.SaveEveryIter')]\n"
    )
    first = hooks_train(tmp_path, "exp.py")
    assert first.returncode == 0, first.stderr
    work = tmp_path / "work"
    before = {path.name: path.stat().st_mtime_ns for path in work.iterdir() if path.is_file()}
    assert "iter_2.pth" in before and "last_checkpoint" in before

    line = the_error_line(
        hooks_train(tmp_path, "exp.py", "--cfg-options", "train_cfg.max_epochs=2")
    )
    assert f"{work} holds the checkpoints of an earlier run (3 files)" in line
    assert "--resume" in line and "--overwrite" in line
    after = {path.name: path.stat().st_mtime_ns for path in work.iterdir() if path.is_file()}
    assert after == before  # nothing was touched

    resumed = hooks_train(tmp_path, "exp.py", "--resume", "--cfg-options", "train_cfg.max_epochs=2")
    assert resumed.returncode == 0, resumed.stderr
    assert (work / "iter_4.pth").is_file()

    again = hooks_train(tmp_path, "exp.py", "--overwrite")
    assert again.returncode == 0, again.stderr
    assert "removed 5 checkpoint files of the earlier run" in again.stdout
    assert sorted(p.name for p in work.glob("*.pth")) == ["iter_1.pth", "iter_2.pth"]


def test_overwrite_leaves_a_run_still_training_there_alone(tmp_path: Path) -> None:
    import fcntl
    import json
    import os

    write(
        tmp_path / "exp.py", "_base_ = 'run.py'\ncustom_hooks = [dict(type='toy.SaveEveryIter')]\n"
    )
    assert hooks_train(tmp_path, "exp.py").returncode == 0
    work = tmp_path / "work"
    before = sorted(path.name for path in work.glob("*.pth"))
    # What a run training there holds: the lock file, locked, naming it.
    with open(work / ".hooks.lock", "w", encoding="utf-8") as lock:
        json.dump({"pid": os.getpid(), "host": "elsewhere", "since": "now"}, lock)
        lock.flush()
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        line = the_error_line(hooks_train(tmp_path, "exp.py", "--overwrite"))
    assert f"work_dir {work} is in use" in line
    assert f"pid {os.getpid()} on host elsewhere" in line
    assert sorted(path.name for path in work.glob("*.pth")) == before  # nothing removed
