"""`BestCheckpoints`: keep a checkpoint of the best validation score, per monitored metric.

Shared by `CheckpointHook` and `EvalHook`. The best score and file of each key
live in the message hub's runtime info (MMEngine's ``best_score``/``best_ckpt``,
or ``best_score_{key}``/``best_ckpt_{key}`` for several keys), so they travel
in every checkpoint and survive a resume.
"""

from __future__ import annotations

import os.path as osp

from ._bookkeeping import record_in_checkpoint, remove_file
from ._rules import check_rule, improves, infer_rule, str_names, worst

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from ._writer import CheckpointWriter

__all__ = ["AUTO", "BestCheckpoints", "best_keys"]

AUTO = "auto"


def best_keys(save_best: Any, owner: str) -> list[str] | None:
    """MMEngine's `save_best` as a list of metric names, or None when there is none.

    Raises:
        TypeError: `save_best` is not a str, a list (or tuple) of str, or None.
        ValueError: an empty name, a name listed twice, or ``'auto'`` with other names.
    """
    if save_best is None:
        return None
    names = str_names(save_best)
    if names is None:
        raise TypeError(
            f"{owner}: save_best must be a metric name, 'auto', a list of metric names or "
            f"None, got {save_best!r}"
        )
    keys = list(names)
    if not all(keys):
        raise ValueError(f"{owner}: save_best has an empty metric name: {save_best!r}")
    if len(set(keys)) != len(keys):
        raise ValueError(f"{owner}: save_best lists a key twice: {keys}")
    if AUTO in keys and len(keys) > 1:
        raise ValueError(
            f"{owner}: save_best 'auto' (the first metric) cannot be listed with other keys, "
            f"got {keys}; give 'auto' alone or only metric names"
        )
    return keys


class BestCheckpoints:
    """Which metrics to keep the best checkpoint of, by which rule, and the saving of it.

    The attribute names are MMEngine's: `key_indicators` and `rules`, one rule
    per key. A rule is None until the first validation for ``'auto'`` (which
    names its key) and for a key whose name says nothing: unlike MMEngine, which
    refuses such a key at once, it is checked against the metrics first, so a
    misspelt key is reported as one (listing the metrics), not as a missing rule.

    Args:
        keys: Metric names from `best_keys`, or ``['auto']`` for the first
            metric of the first validation.
        rule: ``'greater'`` or ``'less'``, one for all keys or one per key (None
            items infer); None infers each from its name.
        greater_keys, less_keys: Names (or parts of names) better greater or less.
        owner: The hook's name, for messages.
        info_prefix: Put before the message hub keys, so two hooks keeping
            best checkpoints do not share them.

    Raises:
        TypeError: a `rule` that is not a str or a list of them.
        ValueError: an unknown rule, or a rule list of the wrong length.
    """

    def __init__(
        self,
        keys: list[str],
        rule: str | Sequence[str | None] | None,
        greater_keys: Sequence[str],
        less_keys: Sequence[str],
        owner: str,
        info_prefix: str = "",
    ) -> None:
        self.owner = owner
        self.greater_keys = greater_keys
        self.less_keys = less_keys
        self.key_indicators = list(keys)
        self.rules: list[str | None] = [
            self._rule_of(key, given)
            for key, given in zip(keys, _rules_per_key(rule, len(keys), owner), strict=True)
        ]
        #: The best checkpoint of each key saved so far (MMEngine's ``best_ckpt_path``).
        self.paths: dict[str, str | None] = dict.fromkeys(keys)
        self._info_prefix = info_prefix

    def _rule_of(self, key: str, rule: str | None) -> str | None:
        """The given rule, else the one inferred from `key`'s name; None if it says nothing."""
        if rule is not None or key == AUTO:
            return rule
        try:
            return infer_rule(key, self.owner, self.greater_keys, self.less_keys)
        except ValueError:  # a typo, or a metric needing a rule: the first metrics tell
            return None

    # ------------------------------------------------------------ message hub keys
    def score_key(self, key: str) -> str:
        suffix = "" if len(self.key_indicators) == 1 else f"_{key}"
        return f"{self._info_prefix}best_score{suffix}"

    def ckpt_key(self, key: str) -> str:
        suffix = "" if len(self.key_indicators) == 1 else f"_{key}"
        return f"{self._info_prefix}best_ckpt{suffix}"

    def restore(self, hub: Any) -> None:
        """Take the best checkpoints of a resumed run from the message hub."""
        self.paths = {key: hub.get_info(self.ckpt_key(key)) for key in self.key_indicators}

    # ------------------------------------------------------------ saving
    def update(
        self,
        runner: Any,
        metrics: dict[str, Any],
        out_dir: str,
        step_file: str,
        when: str,
        meta: dict[str, Any],
        writer: CheckpointWriter,
        collect: Callable[..., dict[str, Any]] | None = None,
    ) -> None:
        """Save a best checkpoint for every key whose score improved in `metrics`.

        Args:
            runner: The runner.
            metrics: This validation's metrics (not empty).
            out_dir: Where the best checkpoints go.
            step_file: The regular checkpoint's name for this step, e.g.
                ``'epoch_3.pth'``; the best is ``best_{key}_{step_file}``.
            when: The step for the log, e.g. ``'3 epoch'``.
            meta: The position to record in the checkpoint's ``meta``.
            writer: Writes the checkpoint.
            collect: Gathers the checkpoint dict, called as ``collect(runner,
                **options)``; ``runner.collect_checkpoint(**options)`` by default.

        Raises:
            KeyError: a key is not among the metrics; the message lists them.
            ValueError: a key's rule cannot be inferred from its name.
        """
        hub = runner.message_hub
        for key, rule in self._resolve(metrics):
            score = metrics[key]
            if score is None:  # MMEngine skips a metric that gave no value
                continue
            score = float(score)
            if improves(rule, score, hub.get_info(self.score_key(key), worst(rule))):
                checkpoint = (collect or _collect)(
                    runner, save_optimizer=False, save_param_scheduler=False, meta=meta,
                    by_epoch=False,
                )  # fmt: skip
                self._save(runner, checkpoint, key, score, out_dir, step_file, when, writer)

    def _resolve(self, metrics: dict[str, Any]) -> list[tuple[str, str]]:
        """The monitored keys with their rules, ``'auto'`` replaced by the first metric."""
        if self.key_indicators == [AUTO]:
            first = next(iter(metrics))
            self.key_indicators = [first]
            self.rules = [self.rules[0]]
            self.paths = {first: self.paths[AUTO]}
        missing = [key for key in self.key_indicators if key not in metrics]
        if missing:
            keys = ", ".join(map(repr, missing))
            raise KeyError(
                f"{self.owner}: save_best key{'s' if len(missing) > 1 else ''} {keys} "
                f"{'are' if len(missing) > 1 else 'is'} not among the metrics this validation "
                f"produced, {sorted(metrics)}: set save_best to one of them, or to 'auto' "
                "for the first"
            )
        rules = [
            rule or infer_rule(key, self.owner, self.greater_keys, self.less_keys)
            for key, rule in zip(self.key_indicators, self.rules, strict=True)
        ]  # the metric is there: a rule still missing is now the error
        self.rules = [*rules]
        return list(zip(self.key_indicators, rules, strict=True))

    def _save(
        self,
        runner: Any,
        checkpoint: dict[str, Any],
        key: str,
        score: float,
        out_dir: str,
        step_file: str,
        when: str,
        writer: CheckpointWriter,
    ) -> None:
        hub = runner.message_hub
        name = f"best_{key}_{step_file}".replace("/", "_")
        path = osp.join(out_dir, name)
        previous = hub.get_info(self.ckpt_key(key))
        info = {self.score_key(key): score, self.ckpt_key(key): path}
        record_in_checkpoint(checkpoint, info)

        def remove_previous() -> None:
            if (
                previous is not None
                and previous != path
                and remove_file(previous, writer.backend_args)
            ):
                runner.logger.info("The previous best checkpoint %s is removed", previous)

        def commit() -> None:
            hub.update_info_dict(info)
            self.paths[key] = path
            runner.logger.info(
                "The best checkpoint with %.4f %s at %s is saved to %s.", score, key, when, name
            )

        writer.write(checkpoint, path, remove_previous, commit)


def _collect(runner: Any, **options: Any) -> dict[str, Any]:
    checkpoint: dict[str, Any] = runner.collect_checkpoint(**options)
    return checkpoint


def _rules_per_key(rule: Any, count: int, owner: str) -> list[str | None]:
    if rule is None or isinstance(rule, str):
        rules: list[Any] = [rule]
    elif isinstance(rule, (list, tuple)) and all(item is None or isinstance(item, str)
                                                 for item in rule):  # fmt: skip
        rules = list(rule)
    else:
        raise TypeError(f"{owner}: rule must be 'greater', 'less', a list of them or None, "
                        f"got {rule!r}")  # fmt: skip
    if len(rules) == 1:
        rules *= count
    if len(rules) != count:
        raise ValueError(
            f"{owner}: give one rule for all save_best keys or one per key ({count}), "
            f"got {len(rules)}: {rule!r}"
        )
    return [None if item is None else check_rule(item, owner) for item in rules]
