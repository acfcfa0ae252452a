"""Missing-package hints give a command that works: from the checkout hooks-core came from."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hooks_core.registry import install_hint, pip_install

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv", path=str(ROOT / ".tools" / "hatch" / "bin")) or shutil.which("uv")


def test_an_editable_checkout_gives_the_sibling_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert pip_install("hooks-logging[wandb]") == 'pip install "./packages/hooks-logging[wandb]"'
    assert install_hint("hook", "WandbLoggerHook") == (
        "'WandbLoggerHook' is provided by hooks-logging, which is not installed: "
        'pip install "./packages/hooks-logging[wandb]"'
    )
    monkeypatch.chdir(ROOT / "tests")  # outside the checkout's root: the full path
    assert pip_install("hooks-eval") == f'pip install "{ROOT / "packages" / "hooks-eval"}"'


def installed_copy(tmp_path: Path, source: str) -> Path:
    """A virtual environment with hooks-core installed (not editable) from `source`."""
    assert UV is not None
    venv = tmp_path / "venv"
    subprocess.run([UV, "venv", "--quiet", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([UV, "pip", "install", "--quiet", "--no-deps", "--python", str(python),
                    source], check=True, cwd=ROOT)  # fmt: skip
    return python


def hint_in(python: Path) -> str:
    code = "from hooks_core.registry import pip_install; print(pip_install('hooks-optim'))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env=env)  # fmt: skip
    return out.stdout.strip()


@pytest.mark.skipif(UV is None, reason="needs uv (tools/dev.py installs it with hatch)")
def test_an_install_from_the_checkout_folder_is_found_through_direct_url(tmp_path: Path) -> None:
    python = installed_copy(tmp_path, "./packages/hooks-core")
    (record,) = (tmp_path / "venv").glob("lib/python*/site-packages/hooks_core-*/direct_url.json")
    assert "editable" not in json.loads(record.read_text()).get("dir_info", {})
    assert hint_in(python) == 'pip install "./packages/hooks-optim"'


@pytest.mark.skipif(UV is None, reason="needs uv (tools/dev.py installs it with hatch)")
def test_an_install_from_a_wheel_gives_the_index_name(tmp_path: Path) -> None:
    from wheels import build_wheel

    build_wheel("hooks-core", tmp_path / "dist")
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert hint_in(installed_copy(tmp_path, str(wheel))) == 'pip install "hooks-optim"'


def test_a_runner_without_torch_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from hooks_core import Runner\n"
        "try:\n"
        "    Runner.from_cfg({'model': {'type': 'Net'}, 'work_dir': 'unused'})\n"
        "except ModuleNotFoundError as err:\n"
        "    print(err.name, '|', err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)  # fmt: skip
    assert out.stdout.strip() == (
        'torch | the Runner needs torch: pip install "./packages/hooks-core[torch]"'
    )
