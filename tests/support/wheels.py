"""Build a package's wheel for real and read back what an installer would see."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from email.message import Message

PACKAGES = Path(__file__).resolve().parents[2] / "packages"


@dataclass
class Wheel:
    """The file names, the METADATA and the entry_points.txt of a built wheel."""

    names: set[str]
    metadata: Message
    entry_points: str


def build_wheel(distribution: str, out: Path) -> Wheel:
    """Build ``packages/<distribution>`` into `out` through hatchling's PEP 517 hook.

    That is the call any installer makes (pip, uv, ``python -m build``), here in
    the test environment's own Python, which has hatchling.
    """
    hook = "import sys, hatchling.build; hatchling.build.build_wheel(sys.argv[1])"
    subprocess.run([sys.executable, "-c", hook, str(out)], cwd=PACKAGES / distribution, check=True)
    (wheel,) = out.glob(f"{distribution.replace('-', '_')}-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        entry_points_file = f"{dist_info}/entry_points.txt"
        entry_points = (
            archive.read(entry_points_file).decode() if entry_points_file in names else ""
        )
    return Wheel(names, metadata, entry_points)
