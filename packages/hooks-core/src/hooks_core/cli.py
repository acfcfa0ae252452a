"""``hooks-train CONFIG``: train from a config file, MMEngine's ``tools/train.py`` as a command.

After training, when the config has a test stage, the best checkpoint (the
one `CheckpointHook(save_best=...)` recorded; the final weights otherwise) is
tested, as Hugging Face's ``load_best_model_at_end`` users expect. The run
ends by printing where its logs, event files, checkpoints and plots are.
Under ``torchrun`` with ``--launcher pytorch`` every process trains its share.

A mistake in the config or the options, found while the run is set up, is one
line on stderr and exit status 2 (``--debug`` shows its traceback instead); an
error raised once training has started keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from .runner import Runner

__all__ = ["main", "build_parser", "prepare_config"]

# What loading the config, custom_imports, --cfg-options and building the Runner raise for a
# user's mistake (NotRegisteredError is a KeyError). FileNotFoundError is named alone so that
# other OSErrors, a full disk say, keep their traceback.
_USER_ERRORS = (KeyError, ValueError, TypeError, ImportError, FileNotFoundError, SyntaxError)
_EXIT_USER_ERROR = 2  # argparse's status for a bad command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hooks-train",
        description="Train a model from a config file (Python, YAML or JSON) with the Runner.",
    )
    parser.add_argument(
        "config", help="the config file: .py (dicts, as in MMEngine), .yaml or .json"
    )
    parser.add_argument(
        "--work-dir", help="where logs and checkpoints go (default: the config's work_dir, or "
        "work_dirs/<config name>)"
    )  # fmt: skip
    parser.add_argument(
        "--resume", nargs="?", const="auto", metavar="PATH",
        help="resume training: from PATH, or without PATH from the latest checkpoint in the "
        "work dir",
    )  # fmt: skip
    parser.add_argument("--load-from", metavar="PATH", help="start from these weights")
    parser.add_argument(
        "--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
        help="override config values: optim_wrapper.optimizer.lr=0.01 train_cfg.max_epochs=5; "
        "unknown keys are errors, +key=value adds one",
    )  # fmt: skip
    parser.add_argument(
        "--launcher", choices=["none", "pytorch"], default="none",
        help="'pytorch' when started by torchrun, to train on every process",
    )  # fmt: skip
    parser.add_argument(
        "--amp", action="store_true", help="mixed precision: use AmpOptimWrapper (hooks-optim)"
    )
    parser.add_argument("--seed", type=int, help="the random seed (overrides randomness.seed)")
    parser.add_argument(
        "--overwrite", action="store_true",
        help="start over in a work dir that holds an earlier run's checkpoints (they are removed)",
    )  # fmt: skip
    parser.add_argument(
        "--debug", action="store_true",
        help="show the full traceback of a mistake in the config or options, not one line",
    )  # fmt: skip
    return parser


def prepare_config(cfg: Mapping[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The config with the command line's choices applied; `cfg` is not changed.

    Raises:
        ValueError: ``--amp`` without an ``optim_wrapper`` config dict.
    """
    from .config import apply_cfg_options

    return _apply_flags(apply_cfg_options(cfg, args.cfg_options), args)


def _apply_flags(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """`result` (changed in place) with every option but ``--cfg-options`` applied."""
    if args.work_dir is not None:
        result["work_dir"] = args.work_dir
    elif not result.get("work_dir"):
        stem = osp.splitext(osp.basename(result.get("filename") or "run"))[0]
        result["work_dir"] = osp.join("work_dirs", stem)
    if args.load_from is not None:
        result["load_from"] = args.load_from
    if args.resume is not None:
        result["resume"] = True
        if args.resume != "auto":
            result["load_from"] = args.resume
    elif _restarted() and not result.get("resume") and result.get("load_from") is None:
        result["resume"] = True  # from this launch's newest checkpoint, if it saved one
    if args.seed is not None:
        result["randomness"] = {**dict(result.get("randomness") or {}), "seed": args.seed}
    result["launcher"] = args.launcher
    if args.amp:
        result["optim_wrapper"] = _with_amp(result.get("optim_wrapper"))
    return result


def _restarted() -> bool:
    """Whether torchrun restarted this launch, so the work dir's checkpoints are its own.

    The first attempt trains only in a work dir without an earlier run's
    checkpoints (or removes them, with ``--overwrite``). Every rank decides
    alike, from the environment, without looking at files it may not share.
    """
    from .runner._elastic import restart_count

    return restart_count() > 0


def _with_amp(optim_wrapper: Any) -> dict[str, Any]:
    if not isinstance(optim_wrapper, dict):
        raise ValueError("--amp needs an optim_wrapper config dict in the config")
    if optim_wrapper.get("type") == "AmpOptimWrapper":
        return optim_wrapper
    return {**optim_wrapper, "type": "AmpOptimWrapper", "loss_scale": "dynamic"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status, 2 for a mistake in the config or options.

    Under torchrun an error that ends a rank is also written to the file torchrun
    names, so its failure summary shows the traceback rather than a link.
    """
    if "TORCHELASTIC_ERROR_FILE" in os.environ:
        from torch.distributed.elastic.multiprocessing.errors import record

        status = record(_run)(argv)  # typed as optional: it returns what `_run` does
        return 1 if status is None else status
    return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    from .runner._work_dir_lock import WorkDirLockedError

    args = build_parser().parse_args(argv)
    setup = _Setup(args)
    try:
        runner = setup.build_runner()
        # Another run training into the work dir is a wrong --work-dir, not a crash.
        _train_and_test(runner)
    except (*_USER_ERRORS, WorkDirLockedError) as err:
        if args.debug or (setup.built and not isinstance(err, WorkDirLockedError)):
            raise
        print(f"hooks-train: error: {setup.describe(err)}", file=sys.stderr)
        return _EXIT_USER_ERROR
    return 0


class _Setup:
    """Builds the runner from the command line, remembering the step under way.

    A mistake's one-line message names the config file and the step's culprit:
    the ``--cfg-options`` item or the config key being applied (None when
    reading the file or building the runner, whose errors name their part).
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.culprit: str | None = None
        self.built = False  # the runner exists: later errors are the run's, not the config's

    def build_runner(self) -> Runner:
        """Load the config, import its modules, apply the options and build the Runner."""
        from .config import apply_cfg_options, import_custom_modules, load_config
        from .runner import Runner

        cfg = load_config(self.args.config)
        self.culprit = "custom_imports"
        import_custom_modules(cfg)
        for option in self.args.cfg_options:  # one at a time, to know which one failed
            self.culprit = f"--cfg-options {option}"
            cfg = apply_cfg_options(cfg, [option])
        self.culprit = None
        cfg = _apply_flags(cfg, self.args)
        self.culprit = "--work-dir"
        _make_room(cfg, self.args)
        self.culprit = None
        runner = Runner.from_cfg(cfg)
        for stage in ("val_loop", "test_loop"):  # built now: a typo in them is a one-line error
            getattr(runner, stage)
        if cfg.get("train_cfg") is not None:
            runner.train_loop  # noqa: B018  (the loop and its dataloader, built on first read)
        self.built = True
        return runner

    def describe(self, err: BaseException) -> str:
        """`err` in one line: config file, culprit, message and PEP 678 notes, ';'-joined."""
        parts = [self.args.config, *([self.culprit] if self.culprit else [])]
        text = "; ".join([_message(err), *map(str, getattr(err, "__notes__", ()))])
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return ": ".join([*parts, " ".join(lines)])


def _make_room(cfg: Mapping[str, Any], args: argparse.Namespace) -> None:
    """Refuse a work dir holding another run's checkpoints, unless resuming or told to start over.

    In an attempt torchrun restarted, the checkpoints there are this launch's own.

    A new run there would write its checkpoints between the other run's, replace
    some of them (the best one, say) and delete others as it keeps its last N.
    """
    work_dir = cfg["work_dir"]
    earlier = sorted(Path(work_dir).glob("*.pth")) + [
        path for path in [Path(work_dir, "last_checkpoint")] if path.exists()
    ]
    if not earlier or cfg.get("resume") or _restarted():
        return
    if not args.overwrite:
        raise ValueError(
            f"{work_dir} holds the checkpoints of an earlier run ({len(earlier)} files); "
            "continue it with --resume, keep it and start elsewhere with --work-dir DIR, "
            "or start over in it with --overwrite (its checkpoints are removed)"
        )
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one process removes them
        import logging

        from .runner._work_dir_lock import WorkDirLock

        # Held while deleting: a run still training there refuses this, naming itself.
        lock = WorkDirLock.acquire(str(work_dir), "hooks-train --overwrite", logging.getLogger())
        try:
            for path in earlier:
                path.unlink(missing_ok=True)
        finally:
            if lock is not None:
                lock.release()
        print(f"hooks-train: removed {len(earlier)} checkpoint files of the earlier run in "
              f"{work_dir}")  # fmt: skip


def _message(err: BaseException) -> str:
    """The error's own words; the type name too when they are a bare key or nothing."""
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]  # str(KeyError) would quote and escape a sentence
    else:
        text = str(err)
    return text if " " in text.strip() else f"{type(err).__name__}: {err}"


def _train_and_test(runner: Runner) -> None:
    """Train, test the best checkpoint when there is a test stage, and report the outputs."""
    from .checkpoint import is_url

    runner.train()
    if runner.test_loop is not None:
        best = runner.message_hub.get_info("best_ckpt")
        if best and (is_url(best) or osp.isfile(best)):
            runner.load_checkpoint(best)
        runner.logger.info("Testing the %s", f"best checkpoint {best}" if best else "final model")
        runner.test()
    if runner.rank == 0:
        print(summary(runner))


def summary(runner: Any) -> str:
    """Where the run wrote what, as lines for a person to read."""
    from .checkpoint import find_latest_checkpoint

    log_dir = runner.log_dir
    vis_dir = osp.join(log_dir, "vis_data")
    lines = [f"Finished {runner.experiment_name}:"]
    entries = [
        ("text log", osp.join(log_dir, f"{runner.timestamp}.log")),
        ("JSON log", osp.join(vis_dir, "scalars.json")),
    ]
    if osp.isdir(vis_dir) and any(n.startswith("events.out.tfevents") for n in os.listdir(vis_dir)):
        entries.append(("TensorBoard", f"tensorboard --logdir {vis_dir}"))
    last = find_latest_checkpoint(runner.checkpoint_dir)
    if last is not None:
        entries.append(("last checkpoint", last))
    best = runner.message_hub.get_info("best_ckpt")
    if best:
        entries.append(("best checkpoint", best))
    entries += [("plot", osp.join(log_dir, name)) for name in sorted(os.listdir(log_dir))
                if name.endswith(".png")]  # fmt: skip
    width = max(len(label) for label, _ in entries)
    lines += [f"  {label:<{width}}  {where}" for label, where in entries if _exists(where)]
    return "\n".join(lines)


def _exists(where: str) -> bool:
    return where.startswith("tensorboard ") or osp.exists(where)


if __name__ == "__main__":
    raise SystemExit(main())
