"""`BestCheckpoints`: keep a checkpoint of the best validation score, per monitored metric.

Shared by `CheckpointHook` and `EvalHook`. The best score and file of each key
live in the message hub's runtime info (MMEngine's ``best_score``/``best_ckpt``,
or ``best_score_{key}``/``best_ckpt_{key}`` for several keys), so they travel
in every checkpoint and survive a resume.
"""

from __future__ import annotations

import os.path as osp
import warnings

from ._bookkeeping import record_in_checkpoint, remove_file
from ._rules import GREATER_KEYS, LESS_KEYS, check_rule, improves, infer_rule, worst

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from ._writer import CheckpointWriter

__all__ = ["BestCheckpoints"]

AUTO = "auto"


class BestCheckpoints:
    """Which metrics to keep the best checkpoint of, by which rule, and the saving of it.

    Args:
        save_best: A metric name, a list of them, or ``'auto'`` for the first
            metric of the first validation.
        rule: ``'greater'`` or ``'less'``, one for all keys or one per key;
            None infers it from the name with `greater_keys` and `less_keys`.
        greater_keys, less_keys: Names (or parts of names) better greater or
            less; MMEngine's lists by default.
        owner: The hook's name, for messages.
        info_prefix: Put before the message hub keys, so two hooks keeping
            best checkpoints do not share them.

    Raises:
        ValueError: an empty, repeated or non-string key, ``'auto'`` twice, an
            unknown rule, a rule list of the wrong length, or a rule that cannot
            be inferred.
    """

    def __init__(
        self,
        save_best: str | Sequence[str],
        rule: str | Sequence[str] | None,
        greater_keys: str | Sequence[str] | None,
        less_keys: str | Sequence[str] | None,
        owner: str,
        info_prefix: str = "",
    ) -> None:
        self.owner = owner
        self.keys = _check_keys(save_best, owner)
        rules = _rules_per_key(rule, len(self.keys), owner)
        self.greater_keys = _names(greater_keys, GREATER_KEYS, "greater_keys", owner)
        self.less_keys = _names(less_keys, LESS_KEYS, "less_keys", owner)
        self.rules: dict[str, str | None] = {
            key: rule if rule is not None or key == AUTO else self._infer(key)
            for key, rule in zip(self.keys, rules, strict=True)
        }
        self._info_prefix = info_prefix
        self._warned_empty = False

    def _infer(self, key: str) -> str:
        return infer_rule(key, self.owner, self.greater_keys, self.less_keys)

    # ------------------------------------------------------------ message hub keys
    def score_key(self, key: str) -> str:
        suffix = "" if len(self.keys) == 1 else f"_{key}"
        return f"{self._info_prefix}best_score{suffix}"

    def ckpt_key(self, key: str) -> str:
        suffix = "" if len(self.keys) == 1 else f"_{key}"
        return f"{self._info_prefix}best_ckpt{suffix}"

    def paths(self, hub: Any) -> list[str]:
        """The best checkpoints saved so far."""
        found = (hub.get_info(self.ckpt_key(key)) for key in self.keys)
        return [path for path in found if path is not None]

    # ------------------------------------------------------------ saving
    def update(
        self,
        runner: Any,
        metrics: dict[str, Any] | None,
        out_dir: str,
        step_name: str,
        meta: dict[str, Any],
        writer: CheckpointWriter,
    ) -> None:
        """Save a best checkpoint for every key whose score improved in `metrics`.

        Args:
            runner: The runner.
            metrics: This validation's metrics.
            out_dir: Where the best checkpoints go.
            step_name: The step part of the file name, e.g. ``'epoch_3.pth'``.
            meta: The position to record in the checkpoint's ``meta``.
            writer: Writes the checkpoint.

        Raises:
            KeyError: a key is not among the metrics; the message lists them.
        """
        if not metrics:
            if not self._warned_empty:
                self._warned_empty = True
                warnings.warn(
                    f"{self.owner}: the validation returned no metrics, so no best checkpoint "
                    f"is saved for {self.keys} (warned once)",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return
        for key in self._resolve(metrics):
            score = float(metrics[key])
            rule = self.rules[key]
            assert rule is not None  # `_resolve` replaced 'auto'
            hub = runner.message_hub
            if improves(rule, score, hub.get_info(self.score_key(key), worst(rule))):
                self._save(runner, key, score, out_dir, step_name, meta, writer)

    def _resolve(self, metrics: dict[str, Any]) -> list[str]:
        """The monitored keys, with ``'auto'`` replaced by the first metric on first use."""
        if AUTO in self.rules:
            first = next(iter(metrics))
            if first in self.rules:  # also listed explicitly: keep one
                self.keys = [key for key in self.keys if key != AUTO]
            else:
                self.keys = [first if key == AUTO else key for key in self.keys]
            rule = self.rules.pop(AUTO)
            self.rules.setdefault(first, rule if rule is not None else self._infer(first))
        missing = [key for key in self.keys if key not in metrics]
        if missing:
            raise KeyError(
                f"{self.owner}: save_best key {missing[0]!r} is not among the validation "
                f"metrics {sorted(metrics)}; give one of them"
            )
        return self.keys

    def _save(
        self,
        runner: Any,
        key: str,
        score: float,
        out_dir: str,
        step_name: str,
        meta: dict[str, Any],
        writer: CheckpointWriter,
    ) -> None:
        hub = runner.message_hub
        path = osp.join(out_dir, f"best_{key.replace('/', '_')}_{step_name}")
        previous = hub.get_info(self.ckpt_key(key))
        info = {self.score_key(key): score, self.ckpt_key(key): path}
        checkpoint = runner.collect_checkpoint(
            save_optimizer=False, save_param_scheduler=False, meta=meta, by_epoch=False
        )
        record_in_checkpoint(checkpoint, info)

        def remove_previous() -> None:
            if previous is not None and previous != path:
                remove_file(previous)

        def commit() -> None:
            hub.update_info_dict(info)
            runner.logger.info(
                "The best checkpoint with %.4f %s at %s is saved to %s.",
                score,
                key,
                osp.splitext(step_name)[0].replace("_", " "),
                osp.basename(path),
            )

        writer.write(checkpoint, path, remove_previous, commit)


def _check_keys(save_best: Any, owner: str) -> list[str]:
    keys = [save_best] if isinstance(save_best, str) else list(save_best)
    if not keys or not all(isinstance(key, str) and key for key in keys):
        raise ValueError(
            f"{owner}: save_best must be a metric name, 'auto' or a list of them, got {save_best!r}"
        )
    if len(set(keys)) != len(keys):
        raise ValueError(f"{owner}: save_best lists a key twice: {keys}")
    return keys


def _rules_per_key(rule: Any, count: int, owner: str) -> list[str | None]:
    if rule is None:
        return [None] * count
    rules = [rule] if isinstance(rule, str) else list(rule)
    if len(rules) == 1:
        rules *= count
    if len(rules) != count:
        raise ValueError(
            f"{owner}: give one rule for all save_best keys or one per key ({count}), "
            f"got {len(rules)}: {rule!r}"
        )
    return [check_rule(item, owner) for item in rules]


def _names(
    given: str | Sequence[str] | None, default: tuple[str, ...], option: str, owner: str
) -> tuple[str, ...]:
    if given is None:
        return default
    names = (given,) if isinstance(given, str) else tuple(given)
    if not all(isinstance(name, str) for name in names):
        raise ValueError(f"{owner}: {option} must be strings, got {given!r}")
    return names
