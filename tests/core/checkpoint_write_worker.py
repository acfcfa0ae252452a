"""Save checkpoints past a file-size limit (RLIMIT_FSIZE), so the kernel refuses with EFBIG.

Usage: ``WORK_DIR LIMIT``. Saves ``iter_1.pth`` within the limit, then lowers the
limit to LIMIT bytes (with SIGXFSZ ignored, the write fails with EFBIG instead of
killing the process) and tries to save a larger ``iter_2.pth`` and to overwrite
``iter_1.pth``. Prints one JSON line: the log file, iter_1's SHA-256 before, and
each failed save's error.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "support"))

import torch
from toy import runner_kwargs

from hooks_core import Runner

if __name__ == "__main__":
    work_dir, limit = sys.argv[1], int(sys.argv[2])
    runner = Runner(**runner_kwargs(work_dir))
    first = runner.save_checkpoint(work_dir, "iter_1.pth")
    with open(first, "rb") as file:
        report: dict[str, object] = {"iter_1_sha256": hashlib.sha256(file.read()).hexdigest()}
    report["log_file"] = os.path.join(runner.log_dir, f"{runner.timestamp}.log")

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    ballast = {"ballast": torch.zeros(4 * limit, dtype=torch.uint8)}  # over the limit
    for name in ("iter_2.pth", "iter_1.pth"):
        try:
            runner.save_checkpoint(work_dir, name, meta=ballast)
        except OSError as err:
            cause = err.__cause__
            report[name] = {
                "type": type(err).__name__,
                "errno": err.errno,
                "message": str(err),
                "cause": [type(cause).__name__, getattr(cause, "errno", None)],
            }
    print(json.dumps(report))
