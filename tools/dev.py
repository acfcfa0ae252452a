"""Development entry point that needs nothing but Python: it installs hatch for itself.

    python tools/dev.py demo            # train the demo model (sets up its environment)
    python tools/dev.py test            # lint, type-check, then every package's tests
    python tools/dev.py test core       # only the tests of one package environment
    python tools/dev.py lint            # ruff and mypy only
    python tools/dev.py bench           # the benchmarks under tools/bench/
    python tools/dev.py bench runner-overhead --instructions   # one, with its own arguments

Hatch lives in a private virtual environment under `.tools/` (ignored by git),
so the global Python stays untouched, and so do the environments it creates
(`.tools/hatch-data/`): a fresh clone always starts from fresh environments.
They install with uv from one cache, `.tools/uv-cache/`, so torch and the other
shared packages are unpacked once and linked into every environment. When
a package's metadata changes (a new entry point, a dependency), the environments
are rebuilt, since an editable install keeps the metadata it was installed with.

Each package's tests run in their own environment (see
`[tool.hatch.envs.hatch-test]` in the root pyproject.toml), which is how the
core is proven to work with no satellite installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import venv
import xml.etree.ElementTree as ET
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
HATCH_REQUIREMENT = "hatch==1.18.2"
# Files whose change makes the installed environments stale.
METADATA = ("pyproject.toml", "tools/constraints.txt", "packages/*/pyproject.toml",
            "tests/plugins/*/pyproject.toml")  # fmt: skip


def hatch_environment() -> dict[str, str]:
    """Where hatch keeps its environments, and how uv installs them.

    uv gets one cache for all environments and the local wheel folders pip is
    configured with (``find-links``): that is where a machine may keep builds that
    an index does not have, such as this machine's CPU build of torch. It compiles
    the bytecode as pip does: without it, where ``PYTHONDONTWRITEBYTECODE`` is set,
    every process would compile torch's modules again (seconds per test process).
    """
    env = {
        "HATCH_DATA_DIR": str(TOOLS / "hatch-data"),
        "UV_CACHE_DIR": str(TOOLS / "uv-cache"),
        "UV_COMPILE_BYTECODE": "1",
    }
    links = os.environ.get("UV_FIND_LINKS") or pip_find_links()
    if links:
        env["UV_FIND_LINKS"] = links
    return env


def pip_find_links() -> str:
    """pip's ``find-links`` (environment or config files), comma-separated as uv takes them."""
    links = os.environ.get("PIP_FIND_LINKS")
    if links is None:
        found = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.find-links"],
            capture_output=True, text=True,
        )  # fmt: skip
        links = found.stdout if found.returncode == 0 else ""
    return ",".join(links.split())


HATCH_ENV = hatch_environment()


def bench_script(parser: argparse.ArgumentParser, name: str | None) -> str:
    """The bench environment's script for benchmark `name` (``all`` for None); exits if unknown.

    Through this command, not ``hatch run`` typed by hand, a benchmark runs in
    the environment the tests use: hatch's data folder and the local torch build
    are set here, and a bare ``hatch run`` would make a second environment
    elsewhere with torch from the index.
    """
    envs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["envs"]
    names = sorted(envs["bench"]["scripts"])
    if name is not None and name not in names:
        parser.error(f"unknown benchmark {name!r}; choose from {', '.join(names)}")
    return name or "all"


def hatch() -> Path:
    """Return the path of a working hatch, installing it into `.tools/hatch` on first use."""
    env = TOOLS / "hatch"
    bindir = env / ("Scripts" if os.name == "nt" else "bin")
    exe = bindir / "hatch"
    stamp = env / "requirement.txt"
    if exe.exists() and stamp.exists() and stamp.read_text() == HATCH_REQUIREMENT:
        return exe
    print(f"dev: installing {HATCH_REQUIREMENT} into {env.relative_to(ROOT)}", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(env)
    pip = [str(bindir / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, HATCH_REQUIREMENT], check=True)
    stamp.write_text(HATCH_REQUIREMENT)
    return exe


def test_packages() -> list[str]:
    """The `pkg` values of the hatch-test matrix, in the order the root pyproject lists them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    matrices = config["tool"]["hatch"]["envs"]["hatch-test"]["matrix"]
    return [pkg for matrix in matrices for pkg in matrix["pkg"]]


def run(args: list[str], **env: str) -> int:
    print(f"\ndev: $ {' '.join(args)}", flush=True)
    return subprocess.run(args, cwd=ROOT, env={**os.environ, **HATCH_ENV, **env}).returncode


STAMP = TOOLS / "environments.sha256"


def metadata_digest() -> str:
    """A digest of every file whose change makes the installed environments stale."""
    digest = hashlib.sha256()
    for pattern in METADATA:
        for path in sorted(ROOT.glob(pattern)):
            digest.update(path.relative_to(ROOT).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def environments_current() -> bool:
    """Whether the environments were built from the packages' metadata as it is now."""
    return STAMP.exists() and STAMP.read_text() == metadata_digest()


def refresh_environments(hatch_exe: Path) -> None:
    """Remove the hatch environments if any package's metadata changed since they were built."""
    if environments_current():
        return
    print("dev: package metadata changed; rebuilding the environments", flush=True)
    subprocess.run([str(hatch_exe), "env", "prune"], cwd=ROOT, env={**os.environ, **HATCH_ENV},
                   check=True)  # fmt: skip
    STAMP.write_text(metadata_digest())


def junit_counts(report: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) from a pytest JUnit XML report; all failed if it is missing."""
    if not report.exists():
        return 0, 1, 0
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    total, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    return total - failed - skipped, failed, skipped


def lint(hatch_exe: Path) -> bool:
    return run([str(hatch_exe), "run", "lint:check"]) == 0


def test(hatch_exe: Path, packages: list[str]) -> tuple[list[str], list[int]]:
    """Run each package's test environment; return the failing ones and the test counts."""
    reports = TOOLS / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    totals, failed_envs = [0, 0, 0], []
    for pkg in packages:
        report = reports / f"{pkg}.xml"
        report.unlink(missing_ok=True)
        code = run(
            [str(hatch_exe), "test", "-i", f"pkg={pkg}"],
            PYTEST_ADDOPTS=f"--junitxml={report}",
        )
        totals = [t + c for t, c in zip(totals, junit_counts(report), strict=True)]
        if code != 0:
            failed_envs.append(pkg)
    return failed_envs, totals


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    test_parser = sub.add_parser("test", help="lint, type-check and run the tests")
    test_parser.add_argument("packages", nargs="*", help="test environments (default: all)")
    sub.add_parser("lint", help="ruff and mypy")
    bench_parser = sub.add_parser(
        "bench",
        help="run the benchmarks under tools/bench/, or one of them; extra arguments go to it",
    )
    bench_parser.add_argument("name", nargs="?", help="one benchmark (default: all)")
    sub.add_parser(
        "demo", help="train the demo (tools/demo.py); extra arguments go to the train command"
    )
    # The demo's own arguments are the train command's (`demo --cfg-options ... --seed 1`),
    # which this parser does not know: they are passed on as they are.
    args, extra = parser.parse_known_args()
    if extra and args.command not in ("demo", "bench"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra[:1] == ["--"]:  # the older spelling, `demo -- --seed 1`
        extra = extra[1:]

    script = bench_script(parser, args.name) if args.command == "bench" else None
    hatch_exe = hatch()
    refresh_environments(hatch_exe)
    if args.command == "lint":
        return 0 if lint(hatch_exe) else 1
    if args.command == "bench":
        return run([str(hatch_exe), "run", f"bench:{script}", *extra])
    if args.command == "demo":
        return run([str(hatch_exe), "run", "demo:train", *extra])
    packages = args.packages or test_packages()
    unknown = sorted(set(packages) - set(test_packages()))
    if unknown:
        parser.error(f"unknown test environment(s) {unknown}; choose from {test_packages()}")
    lint_ok = lint(hatch_exe) if not args.packages else True
    failed_envs, (passed, failed, skipped) = test(hatch_exe, packages)
    print(f"\ndev: test environments: {', '.join(packages)}")
    if failed_envs:
        print(f"dev: FAILED test environments: {', '.join(failed_envs)}")
    if not lint_ok:
        print("dev: FAILED lint or type check (see above)")
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if lint_ok and not failed_envs else 1


if __name__ == "__main__":
    sys.exit(main())
