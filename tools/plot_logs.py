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

The legend names each run after the config it was started from (the
``filename`` in the run's ``vis_data/config.json``), else after its work_dir
folder, else after its timestamped run folder; runs that would share a name
get their timestamp appended.

With ``--eval`` each panel also shows the key's validation counterpart
(``val_<key>``, drawn at the iteration that ended its epoch) and the run's
final test value (a ``test/...`` record of the same name, drawn as a star at
the end), where the log has them. ``--log-y`` draws the keys it names on a
log scale.

Usage::

    python tools/plot_logs.py work_dirs/baseline work_dirs/warmup \\
        --keys loss accuracy/top1 lr --out curves.png --legend baseline warmup
    python tools/plot_logs.py work_dirs/digits_cnn --keys loss accuracy/top1 --eval --log-y loss
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "find_scalars",
    "load_records",
    "series",
    "iteration_series",
    "tested_value",
    "available_keys",
    "run_names",
    "draw",
    "plot",
    "main",
]

SCALARS = "scalars.json"
MARKER_BELOW = 60  # curves with fewer points (validation metrics, say) get markers
TEST_PREFIX = "test/"  # test records' keys: test/accuracy/top1, test/test_loss


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
    warning on stderr. Non-finite values, bare (``NaN``, MMEngine's logs) or
    as strings (``"NaN"``, this project's), become floats in `series`.
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


# How the JSON logs write non-finite values (strict JSON has no NaN).
NON_FINITE = frozenset({"NaN", "Infinity", "-Infinity"})


def _number(value: Any) -> float | None:
    if isinstance(value, str) and value in NON_FINITE:
        return float(value)
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


def _epoch_length(records: Sequence[Mapping[str, Any]]) -> int | None:
    """Iterations per epoch of an epoch-based run, from its training records' iter and epoch.

    Iteration ``i`` of epoch ``e`` means ``(e - 1) * L < i <= e * L``, so the
    largest ``ceil(i / e)`` is ``L`` itself once any epoch's last iteration is logged.
    """
    lengths = [
        math.ceil(i / e)
        for record in records
        if (i := _number(record.get("iter"))) and (e := _number(record.get("epoch"))) and e > 0
    ]
    return max(lengths, default=None)


def iteration_series(
    records: Sequence[Mapping[str, Any]], key: str
) -> tuple[list[int], list[float]]:
    """`series` of `key` with validation steps moved onto the iteration axis of the training curves.

    In an epoch-based run a validation record (one without ``iter``) has the
    epoch as its ``step``; it is drawn at that epoch's last iteration, so
    ``val_loss`` lines up with ``loss``.
    """
    length = _epoch_length(records)
    if length is None:
        return series(records, key)
    moved = [
        record
        if "iter" in record or _number(record.get("step")) is None
        else {**record, "step": record["step"] * length}
        for record in records
        if key in record
    ]
    return series(moved, key)


def _plain_name(key: str) -> str:
    """`key` without its evaluation prefixes: ``test/test_loss`` and ``val_loss`` give ``loss``."""
    key = key.removeprefix(TEST_PREFIX)
    for prefix in ("test_", "val_"):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def tested_value(records: Sequence[Mapping[str, Any]], key: str) -> tuple[str, float] | None:
    """The last test record's ``(name, value)`` for `key`, or None if the log has no test of it.

    Test records carry ``test/`` keys; ``test/accuracy/top1`` belongs to
    ``accuracy/top1``, and ``test/test_loss`` or ``test/loss`` to ``loss``.
    """
    plain = _plain_name(key)
    found = None
    for record in records:
        for name, value in record.items():
            number = _number(value)
            if name.startswith(TEST_PREFIX) and number is not None and _plain_name(name) == plain:
                found = (name, number)
    return found


def _val_key(key: str) -> str | None:
    """The validation counterpart of a training key (``loss`` -> ``val_loss``); None for others."""
    return None if key.startswith(("val_", "test")) else f"val_{key}"


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


def draw(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    keys: Sequence[str],
    xaxis: str = "step",
    title: str | None = None,
    *,
    log_y: Collection[str] = (),
    with_eval: bool = False,
) -> Figure:
    """One panel per key, one line per run (the legend shows the run names), as a Figure.

    Args:
        log_y: Keys whose panel has a log-scale y axis (losses, say).
        with_eval: Also draw each key's ``val_<key>`` and final ``test/`` value.

    Raises:
        ValueError: if a key has no value in any run (the message lists the
            available keys and the close matches), or `log_y` names a key not
            in `keys`.
    """
    if not keys:
        raise ValueError("no keys to plot")
    if unknown := sorted(set(log_y) - set(keys)):
        raise ValueError(
            f"a log scale for {', '.join(unknown)}, which is not plotted: add it to keys"
        )
    points = {
        key: {name: series(records, key, xaxis) for name, records in runs.items()} for key in keys
    }
    for key, per_run in points.items():
        if not any(xs for xs, _ in per_run.values()):
            raise ValueError(_missing_key_message(key, available_keys(runs, xaxis)))
        for name, (xs, _) in per_run.items():
            if not xs:
                print(f"note: run {name!r} has no {key!r}; left out of that panel", file=sys.stderr)

    from matplotlib.figure import Figure  # not pyplot: the caller's backend is left alone

    colors = {name: f"C{i % 10}" for i, name in enumerate(runs)}
    fig = Figure(figsize=(8, 2.8 * len(keys)))
    axes = fig.subplots(len(keys), 1, squeeze=False)
    for ax, key in zip(axes[:, 0], keys, strict=True):
        for name, (xs, ys) in points[key].items():
            if not xs:
                continue
            marker = "o" if len(xs) < MARKER_BELOW else None
            ax.plot(xs, ys, label=name, color=colors[name], marker=marker, markersize=3, lw=1.5)
            if with_eval:
                _draw_eval(ax, key, name, runs[name], xs, xaxis, colors[name])
        ax.set_title(key, fontsize=10)
        ax.set_xlabel(_xlabel(runs, key, xaxis))
        ax.grid(alpha=0.3)
        if key in log_y:
            _log_scale(ax, key)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    keys: Sequence[str],
    out: str | Path,
    xaxis: str = "step",
    title: str | None = None,
    *,
    log_y: Collection[str] = (),
    with_eval: bool = False,
) -> None:
    """Draw the figure of `draw` to a PNG at `out`.

    Raises:
        ValueError: as `draw`; nothing is written then.
    """
    fig = draw(runs, keys, xaxis, title, log_y=log_y, with_eval=with_eval)
    fig.savefig(out, dpi=100)


def _draw_eval(
    ax: Axes,
    key: str,
    name: str,
    records: Sequence[Mapping[str, Any]],
    xs: Sequence[int],
    xaxis: str,
    color: str,
) -> None:
    """Add a run's ``val_<key>`` line (dashed) and its final test value (a star at the end)."""
    ends = list(xs)
    val_key = _val_key(key)
    if val_key is not None:
        on_iterations = xaxis == "step" and any("iter" in r for r in records if key in r)
        vx, vy = iteration_series(records, val_key) if on_iterations else series(records, val_key)
        if vx:
            ax.plot(vx, vy, label=f"{name}: {val_key}", color=color, ls="--", marker="o", ms=3)
            ends += vx
    tested = tested_value(records, key)
    if tested is not None:
        label = f"{name}: {tested[0]} {tested[1]:.4g}"
        ax.plot([max(ends)], [tested[1]], label=label, color=color, ls="none", marker="*", ms=12)


def _log_scale(ax: Axes, key: str) -> None:
    """Put the panel on a log y axis, unless none of its values is positive (then say so)."""
    positive = any(y > 0 for line in ax.get_lines() for y in line.get_ydata() if math.isfinite(y))
    if not positive:
        print(f"note: {key!r} has no positive value; its panel stays linear", file=sys.stderr)
        return
    ax.set_yscale("log")


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


def _config_name(scalars: Path) -> str | None:
    """The stem of the config file a run started from, read from its ``config.json``."""
    try:
        cfg = json.loads((scalars.parent / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    filename = cfg.get("filename") if isinstance(cfg, dict) else None
    if not isinstance(filename, str) or not filename:
        return None
    return PurePosixPath(filename.replace("\\", "/")).stem or None


def _run_folder(scalars: Path) -> Path:
    """The timestamped folder of the run that wrote `scalars` (``<run>/vis_data/scalars.json``)."""
    folder = Path(os.path.abspath(scalars)).parent
    return folder.parent if folder.name == "vis_data" else folder


def _default_name(scalars: Path) -> str:
    """The config's name, else the work_dir folder's, else the run folder's (its timestamp)."""
    run = _run_folder(scalars)
    in_work_dir = Path(os.path.abspath(scalars)).parent.name == "vis_data"
    return _config_name(scalars) or (in_work_dir and run.parent.name) or run.name


def run_names(paths: Sequence[Path], args: Sequence[str] | None = None) -> list[str]:
    """Legend names for the runs that wrote `paths`, made distinct where they would clash.

    A run is named after its config (see `_default_name`); runs that share a
    name get their timestamp appended, then their run folder's path, then
    the argument they were given as (`args`, when the same run is given twice).
    """
    runs = [_run_folder(Path(path)) for path in paths]
    names = [_default_name(Path(path)) for path in paths]
    with_time = [
        f"{n} ({r.name})" if n != r.name else str(r) for n, r in zip(names, runs, strict=True)
    ]
    ladder = [with_time, [str(run) for run in runs], list(args or [str(p) for p in paths])]
    for candidates in ladder:
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
    parser.add_argument(
        "--eval", action="store_true", help="also draw each key's val_KEY and final test/ value"
    )
    parser.add_argument("--log-y", nargs="+", default=[], metavar="KEY", help="keys on a log scale")
    args = parser.parse_args(argv)
    if args.legend is not None and len(args.legend) != len(args.runs):
        parser.error(f"--legend gives {len(args.legend)} names for {len(args.runs)} runs")
    try:
        paths = [find_scalars(run) for run in args.runs]
        names = args.legend or run_names(paths, args.runs)
        if len(set(names)) != len(names):
            raise ValueError(f"the legend names must differ: {names}")
        runs = {name: load_records(path) for name, path in zip(names, paths, strict=True)}
        plot(
            runs,
            args.keys,
            args.out,
            xaxis=args.xaxis,
            title=args.title,
            log_y=args.log_y,
            with_eval=args.eval,
        )
    except (OSError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    for name, path in zip(names, paths, strict=True):
        print(f"{name}: {path} ({len(runs[name])} records)")
    print(f"wrote {args.out}: {len(args.keys)} keys, {len(runs)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
