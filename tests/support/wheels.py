"""Build a package's wheel for real and read back what an installer would see."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from email.message import Message

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "packages"
# Where the packages' metadata and READMEs point: the project's public repository.
REPOSITORY = "https://github.com/hooks-dev/hooks"
PROJECT_URLS = ("Homepage", "Documentation", "Repository", "Issues", "Changelog")


@dataclass
class Wheel:
    """The file names, the METADATA, the entry_points.txt and the license files of a built wheel."""

    names: set[str]
    metadata: Message
    entry_points: str
    licenses: dict[str, str]  # name under .dist-info/licenses/ -> text


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
        licenses = {
            name.removeprefix(f"{dist_info}/licenses/"): archive.read(name).decode()
            for name in names
            if name.startswith(f"{dist_info}/licenses/")
        }
    return Wheel(names, metadata, entry_points, licenses)


def release_problems(wheel: Wheel) -> list[str]:
    """What would be wrong about `wheel` on a package index: license, authors, URLs, README
    links, and source files left out (a VCS ignore rule such as ``dist/`` can drop a package).

    A README is the package's page on the index, where a relative link leads
    nowhere: every link must be absolute, and a link into the repository must
    name a file or folder that exists in this checkout.
    """
    metadata, problems = wheel.metadata, []
    if metadata["License-Expression"] != "Apache-2.0":
        problems.append(f"License-Expression is {metadata['License-Expression']!r}")
    if not wheel.licenses.get("LICENSE", "").lstrip().startswith("Apache License"):
        problems.append(f"no Apache LICENSE in the wheel's .dist-info/licenses: {wheel.licenses}")
    if not (metadata["Author"] or metadata["Author-email"]):
        problems.append("no author")
    urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL") or [])
    for label in PROJECT_URLS:
        if not urls.get(label, "").startswith(REPOSITORY):
            problems.append(f"Project-URL {label} is {urls.get(label)!r}")
    typed = f"{metadata['Name'].replace('-', '_')}/py.typed"
    if typed not in wheel.names:
        problems.append(f"no {typed}")
    source = PACKAGES / metadata["Name"] / "src"
    shipped = {
        path.relative_to(source).as_posix()
        for path in source.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    problems += [f"{name} is not in the wheel" for name in sorted(shipped - wheel.names)]
    readme = metadata.get_payload() or ""
    for target in re.findall(r"\]\(([^)\s]+)\)", readme) + urls.get("Documentation", "").split():
        if target.startswith("#"):
            continue
        if not target.startswith(("https://", "http://")):
            problems.append(f"relative link {target!r} in the README")
        elif target.startswith(f"{REPOSITORY}/"):
            path = re.sub(r"^(blob|tree)/main/", "", target.removeprefix(f"{REPOSITORY}/"))
            if path != "issues" and not (ROOT / path.split("#")[0]).exists():
                problems.append(f"link {target!r} names no file of the repository")
    return problems
