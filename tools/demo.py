"""The demo: train a small CNN on scikit-learn's digits, then draw its curves and LR schedule.

    python tools/dev.py demo                  # sets everything up, then runs this
    python tools/demo.py [train options]      # in an environment that has the packages

It runs the ``hooks-train`` command on ``configs/digits/digits_cnn.py`` (any
extra arguments are passed on, e.g. ``--cfg-options train_cfg.max_epochs=5``),
which trains, validates after every epoch, keeps the best checkpoint and tests
it. Then it plots the logged loss (on a log scale), accuracy and learning
rate with ``tools/plot_logs.py``, adding the validation loss and the final
test results where the JSON log has them, and the LR schedule the config asks
for with ``tools/vis_scheduler.py``, next to the run's logs.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import plot_logs
import vis_scheduler

from hooks_core import load_config
from hooks_core.cli import main as train

if TYPE_CHECKING:
    from collections.abc import Sequence

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "digits" / "digits_cnn.py"
CURVES = ["loss", "accuracy/top1", "lr"]  # the panels of curves.png


def draw_plots(log_dir: Path, config: Path, dataset_size: int | None = None) -> list[Path]:
    """The run's curves and its planned LR schedule, as PNGs in `log_dir`.

    `dataset_size` defaults to the length of the config's training data set.
    """
    scalars = log_dir / "vis_data" / "scalars.json"
    records = plot_logs.load_records(scalars)
    curves = log_dir / "curves.png"
    name = plot_logs.run_names([scalars])[0]
    plot_logs.plot({name: records}, CURVES, curves, log_y=["loss"], with_eval=True)
    schedule = log_dir / "lr_schedule.png"
    cfg = load_config(config)
    if dataset_size is None:
        dataset_size = vis_scheduler.dataset_size(cfg)
    values = vis_scheduler.simulate(cfg, dataset_size=dataset_size)
    epoch_length = math.ceil(dataset_size / cfg["train_dataloader"]["batch_size"])
    title = f"{config.name}: the planned schedule"
    vis_scheduler.plot(values, str(schedule), title=title, epoch_length=epoch_length)
    return [curves, schedule]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not any(arg == "--work-dir" or arg.startswith("--work-dir=") for arg in args):
        args += ["--work-dir", str(ROOT / "work_dirs" / "digits_cnn")]
    start = time.perf_counter()
    status = train([str(CONFIG), *args])
    seconds = time.perf_counter() - start
    work_dir = Path(args[args.index("--work-dir") + 1]) if "--work-dir" in args else None
    if status != 0 or work_dir is None:
        return status
    log_dir = plot_logs.find_scalars(work_dir).parent.parent
    for path in draw_plots(log_dir, CONFIG):
        print(f"  {'plot':<15}  {path}")
    print(f"The demo took {seconds:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
