"""hooks-core builds a wheel that is typed, versioned and has no required dependency."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import hooks_core

PACKAGE = Path(__file__).resolve().parents[2] / "packages" / "hooks-core"


def test_wheel_contents_and_metadata(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(tmp_path), str(PACKAGE)],
        check=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("hooks_core-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
    assert "hooks_core/py.typed" in names
    assert "hooks_core/__init__.py" in names
    assert not any(name.startswith("tests/") for name in names)
    assert metadata["Name"] == "hooks-core"
    assert metadata["Version"] == hooks_core.__version__
    # Only the optional torch extra; nothing is required at install time.
    requires = metadata.get_all("Requires-Dist") or []
    assert requires == ["torch>=2.1; extra == 'torch'"]
    assert "hooks-core" in (metadata.get_payload() or "")  # the README is the long description
