"""hooks-core's layers: what each subpackage may import, and what tests may import from it."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import hooks_core

PACKAGE = Path(hooks_core.__file__).parent
REPO = Path(__file__).resolve().parents[2]

# Each part of hooks-core and the parts it may import. The bottom rows never import
# torch; everything points down, so a reader can learn the core from the top row up.
MAY_IMPORT: dict[str, set[str]] = {
    "utils": set(),
    "registry": {"utils"},
    "engine": {"utils", "registry"},
    "dist": {"utils"},  # imports torch only inside its functions
    "runtime": {"utils", "dist"},  # the logger needs the rank
    "config": {"utils", "registry"},
    "model": {"utils", "registry"},
    "checkpoint": {"utils", "model", "registry"},  # registry: pip_install for a missing s3fs
    "dataset": {"utils", "registry", "dist"},
    "hooks": {"utils", "registry", "engine", "dist", "__about__"},
    "runner": {"utils", "registry", "engine", "runtime", "config", "dist", "model", "checkpoint",
               "dataset", "hooks", "__about__"},
}  # fmt: skip
TORCH_FREE = ("utils", "registry", "engine", "runtime", "config")


def modules_of(part: str) -> list[Path]:
    path = PACKAGE / part
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def imported(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (functions included), as absolute names."""
    name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    package = package.removesuffix(".__init__")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
                if not node.module:  # `from .. import dist`: the names are modules
                    found.update(f"{target}.{alias.name}" for alias in node.names)
                    continue
                found.add(target)
            else:
                found.add(node.module or "")
    return found


def part_of(module: str) -> str | None:
    """The part of hooks-core a module belongs to (None outside hooks-core)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "hooks_core" and len(parts) > 1 else None


def test_the_table_covers_every_part() -> None:
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()}
    parts -= {"__init__", "__pycache__", "py", "__about__", "cli", "py.typed"}
    assert parts == set(MAY_IMPORT)


def test_each_part_imports_only_the_parts_below_it() -> None:
    wrong = []
    for part, allowed in MAY_IMPORT.items():
        for path in modules_of(part):
            for module in imported(path):
                other = part_of(module)
                if other is not None and other != part and other not in allowed:
                    wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert wrong == []


def test_the_bottom_layers_never_import_torch_or_numpy() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for part in TORCH_FREE
        for path in modules_of(part)
        for module in imported(path)
        if module.split(".")[0] in ("torch", "numpy")
    ]
    assert wrong == []
    # And importing all of them (torch is installed here) loads neither.
    names = [f"hooks_core.{part}" for part in TORCH_FREE]
    code = (
        f"import json, sys; [__import__(n) for n in {names!r}];"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


# Tools that time the core's private functions where they run, by wrapping them: they follow
# its layout by design (and say so), so they alone may import its private modules.
PROFILES_INTERNALS = {Path("tools/bench/save_profile.py")}


def test_tests_and_tools_import_hooks_core_through_its_public_names() -> None:
    # A private module is one whose name starts with `_` below hooks_core.
    assert all((REPO / path).is_file() for path in PROFILES_INTERNALS)  # none left stale
    private = []
    for folder in ("tests", "tools", "configs"):
        for path in (REPO / folder).rglob("*.py"):
            if path.relative_to(REPO) in PROFILES_INTERNALS:
                continue
            for module in imported_absolute(path):
                if module.startswith("hooks_core.") and any(
                    part.startswith("_") and part != "__about__" for part in module.split(".")[1:]
                ):
                    private.append(f"{path.relative_to(REPO)}: {module}")
    assert private == []


def imported_absolute(path: Path) -> set[str]:
    """Absolute imports of a script or test, including those in code strings run by it."""
    text = path.read_text()
    found = {
        node.module or "" for node in ast.walk(ast.parse(text)) if isinstance(node, ast.ImportFrom)
    }
    found |= {
        alias.name
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    for node in ast.walk(ast.parse(text)):  # `python -c "import hooks_core._x"` in a string
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for statement in re.findall(r"(?:import|from) ([\w., ]+)", node.value):
                found.update(name.strip().split(" ")[0] for name in statement.split(","))
    return found
