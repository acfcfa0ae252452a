"""Plot chosen keys of one or several runs' ``scalars.json`` logs to a PNG.

Each argument is a ``scalars.json`` file (MMEngine's ``vis_data/scalars.json``:
JSON lines, one object per record, each with a ``step``) or a run folder, in
which case the newest ``**/vis_data/scalars.json`` below it is read. The
figure has one panel per key and one line per run. Training and validation
records share the file and a key only appears in the records that have it, so
each key is drawn at its own steps: training values at the global iteration,
validation metrics at the epoch for epoch-based runs (at the iteration for
iteration-based ones).

A run that crashed may leave a truncated last line: it is skipped with a
warning. A key that one run lacks is left out for that run; a key that no run
has is an error listing the keys there are.

Usage::

    python tools/plot_logs.py work_dirs/baseline work_dirs/warmup \\
        --keys loss accuracy/top1 lr --out curves.png --legend baseline warmup
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["find_scalars", "load_records", "series", "available_keys", "plot", "main"]

SCALARS = "scalars.json"
MARKER_BELOW = 60  # curves with fewer points (validation metrics, say) get markers


def find_scalars(path: str | Path) -> Path:
    """The ``scalars.json`` to read for ``path``: the file itself, or the newest below a folder."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or folder: {path}")
    found = [p for p in path.glob(f"**/vis_data/{SCALARS}") if p.is_file()]
    if not found and (path / SCALARS).is_file():  # a vis_data folder itself
        found = [path / SCALARS]
    if not found:
        raise FileNotFoundError(f"no vis_data/{SCALARS} under {path}")
    return max(found, key=lambda p: (p.stat().st_mtime, str(p)))


def load_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines log, in file order.

    Blank lines are skipped. A line that is not a JSON object (typically the
    truncated last line of a run that crashed while writing) is skipped with a
    warning on stderr. ``NaN`` and ``Infinity`` are read as floats.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    records: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            what = "truncated last line" if i == last else f"unreadable line ({exc.msg})"
            print(f"warning: {path}:{i + 1}: skipping a {what}", file=sys.stderr)
            continue
        if not isinstance(record, dict):
            print(
                f"warning: {path}:{i + 1}: skipping a line that is not an object", file=sys.stderr
            )
            continue
        records.append(record)
    return records


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def series(
    records: Sequence[Mapping[str, Any]], key: str, xaxis: str = "step"
) -> tuple[list[int], list[float]]:
    """The ``(x, y)`` points of ``key``: the records that have a number for both, in file order."""
    xs: list[int] = []
    ys: list[float] = []
    for record in records:
        x, y = _number(record.get(xaxis)), _number(record.get(key))
        if x is None or y is None or not math.isfinite(x):
            continue
        xs.append(int(x))
        ys.append(y)
    return xs, ys


def available_keys(
    runs: Mapping[str, Sequence[Mapping[str, Any]]], xaxis: str = "step"
) -> list[str]:
    """The keys with a numeric value in at least one record of any run, sorted."""
    keys = {
        key
        for records in runs.values()
        for record in records
        for key, value in record.items()
        if key != xaxis and _number(value) is not None
    }
    return sorted(keys)


def _missing_key_message(key: str, available: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, available, n=3, cutoff=0.5)
    close += [k for k in available if key.lower() in k.lower() and k not in close]
    hint = f"; did you mean {', '.join(repr(k) for k in close[:3])}?" if close else ""
    listing = ", ".join(available) if available else "(none)"
    return f"key {key!r} is in none of the runs{hint} Available keys: {listing}"


def plot(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    keys: Sequence[str],
    out: str | Path,
    xaxis: str = "step",
    title: str | None = None,
) -> None:
    """Draw one panel per key, one line per run (the legend shows the run names), to a PNG.

    Raises:
        ValueError: if a key has no value in any run; the message lists the
            available keys and the close matches.
    """
    if not keys:
        raise ValueError("no keys to plot")
    points = {
        key: {name: series(records, key, xaxis) for name, records in runs.items()} for key in keys
    }
    for key, per_run in points.items():
        if not any(xs for xs, _ in per_run.values()):
            raise ValueError(_missing_key_message(key, available_keys(runs, xaxis)))
        for name, (xs, _) in per_run.items():
            if not xs:
                print(f"note: run {name!r} has no {key!r}; left out of that panel", file=sys.stderr)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {name: f"C{i % 10}" for i, name in enumerate(runs)}
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 2.8 * len(keys)), squeeze=False)
    for ax, key in zip(axes[:, 0], keys, strict=True):
        for name, (xs, ys) in points[key].items():
            if not xs:
                continue
            marker = "o" if len(xs) < MARKER_BELOW else None
            ax.plot(xs, ys, label=name, color=colors[name], marker=marker, markersize=3, lw=1.5)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel(_xlabel(runs, key, xaxis))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _xlabel(runs: Mapping[str, Sequence[Mapping[str, Any]]], key: str, xaxis: str) -> str:
    """``step (epoch)`` for a key logged only by validation at the epoch, else ``xaxis``.

    In an epoch-based run the training records carry ``epoch`` and ``iter``;
    records of ``key`` without ``iter`` are then validation records, whose
    ``step`` is the epoch.
    """
    if xaxis != "step":
        return xaxis
    at_epoch = [
        any("epoch" in r for r in records) and not any("iter" in r for r in with_key)
        for records in runs.values()
        if (with_key := [r for r in records if key in r])
    ]
    return "step (epoch)" if at_epoch and all(at_epoch) else xaxis


def _run_names(paths: Sequence[Path], args: Sequence[str]) -> list[str]:
    """Legend names: the run folder's name, or more of its path where two would clash."""
    folders = []
    for arg in args:
        folder = Path(arg)
        if folder.is_file():
            folder = folder.parent
            if folder.name == "vis_data":
                folder = folder.parent
        folders.append(folder.resolve() if folder.name in ("", ".", "..") else folder)
    names = [folder.name for folder in folders]
    for candidates in ([str(f) for f in folders], [str(p) for p in paths]):
        clashing = {name for name in names if names.count(name) > 1}
        names = [
            new if old in clashing else old for old, new in zip(names, candidates, strict=True)
        ]
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "runs", nargs="+", metavar="RUN_OR_FILE", help=f"a {SCALARS} or a run folder"
    )
    parser.add_argument(
        "--keys", nargs="+", default=["loss"], help="the keys to plot (default: loss)"
    )
    parser.add_argument("--out", default="curves.png", help="the PNG to write")
    parser.add_argument("--legend", nargs="+", metavar="NAME", help="a name per run for the legend")
    parser.add_argument(
        "--xaxis", default="step", help="the record key for the x axis (default: step)"
    )
    parser.add_argument("--title", help="the figure's title")
    args = parser.parse_args(argv)
    if args.legend is not None and len(args.legend) != len(args.runs):
        parser.error(f"--legend gives {len(args.legend)} names for {len(args.runs)} runs")
    try:
        paths = [find_scalars(run) for run in args.runs]
        names = args.legend or _run_names(paths, args.runs)
        if len(set(names)) != len(names):
            raise ValueError(f"the legend names must differ: {names}")
        runs = {name: load_records(path) for name, path in zip(names, paths, strict=True)}
        plot(runs, args.keys, args.out, xaxis=args.xaxis, title=args.title)
    except (OSError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    for name, path in zip(names, paths, strict=True):
        print(f"{name}: {path} ({len(runs[name])} records)")
    print(f"wrote {args.out}: {len(args.keys)} keys, {len(runs)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
