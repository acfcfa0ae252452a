"""Count the instructions of one stretch of a Python program under valgrind's callgrind.

Run the program as ``valgrind --tool=callgrind --instr-atstart=no python ...``
and call `start()` and `stop()` around the stretch: only what runs in between is
instrumented and counted, so the interpreter's start-up and the imports (tens of
seconds under valgrind) cost no instrumentation and do not show in the total.
Instruction counts do not depend on what else the machine runs, which is why
the overhead benchmarks use them beside CPU time.

The client requests are C macros from ``valgrind/callgrind.h``; a three-line C
file is compiled with the machine's C compiler into a shared library loaded
with ctypes (on the first use, cached in the temporary folder). Outside
valgrind the requests do nothing.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["callgrind_command", "read_total", "read_totals", "start", "stop"]

_SOURCE = """
#include <valgrind/callgrind.h>
void region_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void region_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT("region"); }
"""
_library: ctypes.CDLL | None = None


def _load() -> ctypes.CDLL:
    global _library
    if _library is None:
        digest = hashlib.sha256(_SOURCE.encode()).hexdigest()[:12]
        target = Path(tempfile.gettempdir()) / f"hooks-bench-callgrind-{digest}.so"
        if not target.exists():
            compiler = shutil.which("cc") or shutil.which("gcc")
            if compiler is None:
                raise RuntimeError("counting instructions needs a C compiler (cc or gcc) on PATH")
            source = target.with_suffix(f".{os.getpid()}.c")
            source.write_text(_SOURCE)
            built = target.with_suffix(f".{os.getpid()}.so")
            subprocess.run([compiler, "-O1", "-shared", "-fPIC", "-o", built, source], check=True)
            os.replace(built, target)  # another process may have built it too: same bytes
            source.unlink()
        _library = ctypes.CDLL(str(target))
    return _library


def start() -> None:
    """Zero the counts and instrument from here on."""
    _load().region_start()


def stop() -> None:
    """Stop instrumenting and write the counts since `start` to the output file."""
    _load().region_stop()


def callgrind_command(out_file: str | os.PathLike[str]) -> list[str]:
    """The valgrind prefix for a program that marks its own region with `start`/`stop`."""
    if shutil.which("valgrind") is None:
        raise RuntimeError("counting instructions needs valgrind (Debian package 'valgrind')")
    return [
        "valgrind", "--tool=callgrind", "--instr-atstart=no",
        f"--callgrind-out-file={out_file}", "--dump-line=no", "--compress-strings=no",
    ]  # fmt: skip


def read_total(out_file: str | os.PathLike[str]) -> int:
    """Instructions counted between the program's `start` and `stop` (its first region)."""
    return read_totals(out_file, 1)[0]


def read_totals(out_file: str | os.PathLike[str], regions: int) -> list[int]:
    """Instructions of each of the program's first `regions` regions, in order."""
    totals = []
    for number in range(1, regions + 1):
        dump = Path(f"{out_file}.{number}")  # callgrind numbers the dumps a program asks for
        text = dump.read_text(errors="replace") if dump.exists() else ""
        if "Trigger: Client Request: region" not in text:
            raise RuntimeError(f"no region dump {dump}: did the program reach stop()?")
        totals.append(int(re.search(r"^totals: (\d+)", text, re.M).group(1)))  # type: ignore[union-attr]
    return totals
