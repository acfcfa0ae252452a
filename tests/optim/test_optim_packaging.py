"""The hooks-optim wheel: typed, a compatible hooks-core range, and its plugin entry points."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import hooks_optim

PACKAGE = Path(__file__).resolve().parents[2] / "packages" / "hooks-optim"


def test_wheel_metadata_and_entry_points(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(tmp_path), str(PACKAGE)],
        check=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("hooks_optim-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert "hooks_optim/py.typed" in names
    assert metadata["Version"] == hooks_optim.__version__
    requires = metadata.get_all("Requires-Dist") or []
    assert "hooks-core<0.2,>=0.1" in requires
    assert "torch>=2.1" in requires
    assert "[hooks_core.plugins]\nhooks_optim = hooks_optim" in entry_points
    assert "param_scheduler = hooks_optim:ParamSchedulerHook" in entry_points
