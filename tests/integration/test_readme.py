"""Every command block of the README runs as written (shortened where it trains or measures).

A command block is a fenced ``bash`` block, or a ``$ command`` line in a block of
output. Each command must have an entry in `HOW_TO_RUN` below, so a command added
to the README without being exercised here fails this test, and so does one
that stops working.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import tomllib
from ports import free_port
from tool_scripts import load_tool

from hooks_core import HOOKS

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DEMO_CONFIG = ROOT / "configs" / "digits" / "digits_cnn.py"
SHORT_TRAINING = ["train_cfg.max_epochs=1", "+train_dataloader.dataset.limit=256"]


def readme_blocks() -> list[tuple[str, str]]:
    """(language, text) of every fenced block, in order."""
    return re.findall(r"^ *```(\w*)\n(.*?)^ *```", README, re.MULTILINE | re.DOTALL)


def readme_commands() -> list[str]:
    """The commands of the bash blocks and the ``$`` lines of output blocks."""
    commands = []
    for language, text in readme_blocks():
        lines = [re.sub(r"\s+# .*$", "", line).strip() for line in text.splitlines()]
        lines = [line for line in lines if line]
        if language == "bash":  # a line that starts with an option continues the one above
            for line in lines:
                if line.startswith("[") and commands:
                    commands[-1] += f" {line}"
                else:
                    commands.append(line)
        elif not language:
            commands += [line[2:] for line in lines if line.startswith("$ ")]
    return commands


def clean_env() -> dict[str, str]:
    """This process's environment without the test environment's own markers.

    The commands start hatch themselves, as a user's shell would.
    """
    drop = ("VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTHONPATH")
    return {
        key: value
        for key, value in os.environ.items()
        if key not in drop and not key.startswith("HATCH_")
    }


def run(args: list[str], timeout: int = 900, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                            **kwargs)  # type: ignore[call-overload]  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


# ---------------------------------------------------------------- how each command runs here
def demo(tmp_path: Path) -> None:
    # Also the README's example of passing train options through `demo`.
    work_dir = tmp_path / "demo"
    train_args = ["--cfg-options", *SHORT_TRAINING, "--seed", "1", "--work-dir", str(work_dir)]
    if not load_tool(
        "dev"
    ).environments_current():  # never so under tools/dev.py test, which refreshes
        pytest.skip("tools/dev.py would rebuild every environment, this test's own included")
    result = run([sys.executable, "tools/dev.py", "demo", *train_args], env=clean_env())
    assert "Finished digits_cnn_" in result.stdout
    assert (work_dir / "epoch_1.pth").is_file()


def tests_command(tmp_path: Path) -> None:
    # Running the whole suite from inside it would recurse: CI's entry point runs
    # exactly this command, which is what proves it.
    assert "python3 tools/dev.py test\n" in (ROOT / ".ci" / "run").read_text()


def train_synopsis(tmp_path: Path) -> None:
    synopsis = next(c for c in readme_commands() if c.startswith("hooks-train "))
    help_text = run([str(Path(sys.executable).parent / "hooks-train"), "--help"]).stdout
    for option in re.findall(r"--[\w-]+", synopsis):
        assert option in help_text, option


def torchrun_line(tmp_path: Path) -> None:
    torchrun = str(Path(sys.executable).parent / "torchrun")
    run(
        [torchrun, "--nproc-per-node", "2", "--master-port", str(free_port()), "tools/train.py",
         str(DEMO_CONFIG), "--launcher", "pytorch", "--work-dir", str(tmp_path / "ddp"),
         "--cfg-options", *SHORT_TRAINING, "test_dataloader=None", "test_cfg=None",
         "test_evaluator=None"],
        timeout=600,
    )  # fmt: skip
    assert (tmp_path / "ddp" / "epoch_1.pth").is_file()


# The benchmarks' own arguments, made small: the point is that each runs.
BENCH_SHORT = {
    "dispatch": ["--number", "200", "--repeat", "1"],
    "import-time": ["--samples", "1"],
    "runner-overhead": ["--iters", "200"],
    "iteration-profile": ["--number", "2", "--rounds", "1"],
    "save-profile": ["--epochs", "3"],
    "loop-profile": ["--epochs", "24"],
    "optim-wrapper": ["--number", "2", "--repeat", "1"],
    "logging-overhead": ["--iters", "40", "--interval", "20", "--write-ms", "1", "--rounds", "1"],
    "checkpoint-save": ["--saves", "1", "--interval", "2"],
}


def bench_scripts() -> dict[str, str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return dict(pyproject["tool"]["hatch"]["envs"]["bench"]["scripts"])


def run_bench(name: str, *extra: str) -> None:
    command = bench_scripts()[name].replace(" {args}", "")
    run([sys.executable, *shlex.split(command)[1:], *BENCH_SHORT[name], *extra], timeout=600)


def all_benchmarks(tmp_path: Path) -> None:
    scripts = bench_scripts()
    assert scripts["all"] == list(BENCH_SHORT)
    for name in BENCH_SHORT:
        run_bench(name)


def runner_overhead(tmp_path: Path) -> None:
    run_bench("runner-overhead", "--split")  # the README's split of the overhead too


def iteration_profile(tmp_path: Path) -> None:
    run_bench("iteration-profile", "--instructions")  # the README's table has the column


def save_profile(tmp_path: Path) -> None:
    run_bench("save-profile", "--instructions")  # the README's table has the columns


def loop_profile(tmp_path: Path) -> None:
    run_bench("loop-profile")


# The first key a command starts with decides how it runs: one benchmark before them all.
HOW_TO_RUN: dict[str, Callable[[Path], None]] = {
    "python3 tools/dev.py demo": demo,
    "python3 tools/dev.py test": tests_command,
    "hooks-train CONFIG": train_synopsis,
    "torchrun --nproc-per-node 2 tools/train.py CONFIG --launcher pytorch": torchrun_line,
    "python3 tools/dev.py bench runner-overhead": runner_overhead,
    "python3 tools/dev.py bench iteration-profile": iteration_profile,
    "python3 tools/dev.py bench save-profile": save_profile,
    "python3 tools/dev.py bench loop-profile": loop_profile,
    "python3 tools/dev.py bench": all_benchmarks,
}


def runner_for(command: str) -> Callable[[Path], None] | None:
    return next((fn for start, fn in HOW_TO_RUN.items() if command.startswith(start)), None)


@pytest.mark.parametrize("command", readme_commands())
def test_a_readme_command_runs(command: str, tmp_path: Path) -> None:
    how = runner_for(command)
    assert how is not None, f"the README's command {command!r} is not exercised by this test"
    how(tmp_path)


def test_the_readme_has_the_commands_this_test_knows() -> None:
    commands = readme_commands()
    assert all(any(c.startswith(start) for c in commands) for start in HOW_TO_RUN)


def test_the_custom_hook_example_registers_and_builds() -> None:
    (example,) = [text for language, text in readme_blocks() if language == "python"]
    namespace: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), namespace)
    hook = HOOKS.build(namespace["custom_hooks"][0])  # type: ignore[index]
    assert type(hook).__name__ == "NanGuard" and hook.interval == 10
