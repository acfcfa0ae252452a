"""Benchmark: how long `import hooks_core` takes in a fresh interpreter.

Each sample starts a new Python process; the reported cost is the median time
of ``python -c "import hooks_core"`` minus the median of ``python -c "pass"``,
measured interleaved in the same run, with the bytecode cache warm. The
modules the import pulls in are listed, so a heavy dependency shows up here.

Run it with ``python3 tools/dev.py bench`` (or ``python3 tools/dev.py bench import-time``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# Users' interpreters cache bytecode; an environment that forbids it would
# time the compiler instead of the import.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def sample(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()

    sample("import hooks_core")  # writes the bytecode cache
    baseline, with_core = [], []
    for _ in range(args.samples):
        baseline.append(sample("pass"))
        with_core.append(sample("import hooks_core"))
    base_ms = statistics.median(baseline) * 1e3
    core_ms = statistics.median(with_core) * 1e3

    probe = (
        "import sys, json; before = set(sys.modules); import hooks_core; "
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    new_modules = json.loads(out.stdout)

    print(f"import hooks_core, median of {args.samples} fresh processes")
    print(f"{'case':<28} {'ms':>8}")
    print(f"{'python -c pass':<28} {base_ms:8.1f}")
    print(f"{'python -c import hooks_core':<28} {core_ms:8.1f}")
    print(f"{'cost of the import':<28} {core_ms - base_ms:8.1f}")
    heavy = sorted({"torch", "numpy"} & set(new_modules))
    print(f"top-level modules it imports: {', '.join(new_modules)}")
    print(f"torch/numpy imported: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
