"""``hooks-train CONFIG``: train from a config file, MMEngine's ``tools/train.py`` as a command.

After training, when the config has a test stage, the best checkpoint (the
one `CheckpointHook(save_best=...)` recorded; the final weights otherwise) is
tested, as Hugging Face's ``load_best_model_at_end`` users expect. The run
ends by printing where its logs, event files, checkpoints and plots are.
Under ``torchrun`` with ``--launcher pytorch`` every process trains its share.
"""

from __future__ import annotations

import argparse
import os
import os.path as osp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["main", "build_parser", "prepare_config"]


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
    return parser


def prepare_config(cfg: Mapping[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The config with the command line's choices applied; `cfg` is not changed.

    Raises:
        ValueError: ``--amp`` without an ``optim_wrapper`` config dict.
    """
    from .config import apply_cfg_options

    result = apply_cfg_options(cfg, args.cfg_options)
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
    if args.seed is not None:
        result["randomness"] = {**dict(result.get("randomness") or {}), "seed": args.seed}
    result["launcher"] = args.launcher
    if args.amp:
        result["optim_wrapper"] = _with_amp(result.get("optim_wrapper"))
    return result


def _with_amp(optim_wrapper: Any) -> dict[str, Any]:
    if not isinstance(optim_wrapper, dict):
        raise ValueError("--amp needs an optim_wrapper config dict in the config")
    if optim_wrapper.get("type") == "AmpOptimWrapper":
        return optim_wrapper
    return {**optim_wrapper, "type": "AmpOptimWrapper", "loss_scale": "dynamic"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    from .config import import_custom_modules, load_config
    from .runner import Runner

    args = build_parser().parse_args(argv)
    cfg = load_config(args.config)
    import_custom_modules(cfg)
    cfg = prepare_config(cfg, args)
    runner = Runner.from_cfg(cfg)
    runner.train()
    if runner.test_loop is not None:
        best = runner.message_hub.get_info("best_ckpt")
        if best and osp.isfile(best):
            runner.load_checkpoint(best)
        runner.logger.info("Testing the %s", f"best checkpoint {best}" if best else "final model")
        runner.test()
    if runner.rank == 0:
        print(summary(runner))
    return 0


def summary(runner: Any) -> str:
    """Where the run wrote what, as lines for a person to read."""
    log_dir = runner.log_dir
    vis_dir = osp.join(log_dir, "vis_data")
    lines = [f"Finished {runner.experiment_name}:"]
    entries = [
        ("text log", osp.join(log_dir, f"{runner.timestamp}.log")),
        ("JSON log", osp.join(vis_dir, "scalars.json")),
    ]
    if osp.isdir(vis_dir) and any(n.startswith("events.out.tfevents") for n in os.listdir(vis_dir)):
        entries.append(("TensorBoard", f"tensorboard --logdir {vis_dir}"))
    last = osp.join(runner.work_dir, "last_checkpoint")
    if osp.isfile(last):
        with open(last, encoding="utf-8") as file:
            entries.append(("last checkpoint", file.read().strip()))
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
