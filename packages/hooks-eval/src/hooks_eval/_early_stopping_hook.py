"""`EarlyStoppingHook`: stop training when a validation metric stops improving."""

from __future__ import annotations

import math
import warnings

from hooks_core import HOOKS, Hook

from ._rules import GREATER_KEYS, LESS_KEYS, check_rule, improves, infer_rule, worst

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, ClassVar

__all__ = ["EarlyStoppingHook"]


@HOOKS.register_module()
class EarlyStoppingHook(Hook):
    """Stop training after `patience` validations without an improvement of `monitor`.

    The options, attributes and decisions are MMEngine's: a score improves when
    it reaches the best by at least `min_delta`; training also stops at once on
    a non-finite score (`check_finite`) or a score better than
    `stopping_threshold`. Stopping sets ``runner.train_loop.stop_training``,
    which the training loops read after each epoch (or iteration), and logs the
    reason. `best_score` and `wait_count` are also kept in the message hub
    (``early_stopping/{monitor}``), so unlike MMEngine, Lightning or HF a
    resumed run continues counting where the checkpoint left off. Validations
    of a run that does not train (``runner.val()``) do not count.

    Args:
        monitor: The metric to watch, e.g. ``'accuracy/top1'``.
        rule: ``'greater'`` or ``'less'``; None infers it from the name, as
            `CheckpointHook` does, with `_default_greater_keys` and
            `_default_less_keys`.
        min_delta: The least change that counts as an improvement (MMEngine's
            0.1). Like MMEngine, the attribute holds it negated for ``'less'``.
        strict: Raise if `monitor` is missing from the metrics. Without it, the
            first validation without it warns (once) that early stopping is
            inactive, and such validations are skipped, as in MMEngine.
        check_finite: Stop when the score is NaN or infinite.
        patience: How many validations without improvement to allow.
        stopping_threshold: Stop as soon as the score is better than this.

    Raises:
        ValueError: an unknown or uninferable rule, a negative `min_delta`, or a
            `patience` that is not an int >= 0.

    Example:
        >>> custom_hooks = [dict(type='EarlyStoppingHook', monitor='accuracy/top1', patience=3)]
    """

    priority = "LOWEST"

    # MMEngine's names: a downstream library overrides them to infer other rules.
    _default_greater_keys: ClassVar[Sequence[str]] = list(GREATER_KEYS)
    _default_less_keys: ClassVar[Sequence[str]] = list(LESS_KEYS)

    def __init__(
        self,
        monitor: str,
        rule: str | None = None,
        min_delta: float = 0.1,
        strict: bool = False,
        check_finite: bool = True,
        patience: int = 5,
        stopping_threshold: float | None = None,
    ) -> None:
        owner = "EarlyStoppingHook"
        if rule is None:
            rule = infer_rule(monitor, owner, self._default_greater_keys, self._default_less_keys)
        self.monitor = monitor
        self.rule = check_rule(rule, owner)
        if not min_delta >= 0:
            raise ValueError(f"EarlyStoppingHook min_delta must be >= 0, got {min_delta!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStoppingHook patience must be an int >= 0, got {patience!r}")
        self.min_delta = min_delta if self.rule == "greater" else -min_delta
        self.strict = strict
        self.check_finite = check_finite
        self.patience = patience
        self.stopping_threshold = stopping_threshold
        self.wait_count = 0
        self.best_score = worst(self.rule)
        self._training: bool | None = None  # None: called directly; False: a run not training
        self._warned_missing = False  # a missing monitor is told once, not at every validation

    @property
    def info_key(self) -> str:
        """The message hub key of this hook's state."""
        return f"early_stopping/{self.monitor}"

    def before_run(self, runner: Any) -> None:
        """Check that the training loop can be stopped (through ``stop_training``).

        Raises:
            TypeError: the runner's training loop has no ``stop_training``.
        """
        self._training = False
        loop = _train_loop_of(runner)
        if loop is not None and not hasattr(loop, "stop_training"):
            raise TypeError(
                f"EarlyStoppingHook stops training through train_loop.stop_training, which "
                f"{type(loop).__name__} does not have"
            )

    def before_train(self, runner: Any) -> None:
        """Validations from here on count; a resumed run continues with its checkpoint's state."""
        self._training = True
        hub = getattr(runner, "message_hub", None)  # a stand-in runner may have none
        state = None if hub is None else hub.get_info(self.info_key)
        if state is not None:
            self.best_score, self.wait_count = state["best_score"], state["wait_count"]

    def after_train(self, runner: Any) -> None:
        self._training = False

    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Update `best_score` and `wait_count`; stop training when a condition is met.

        Raises:
            RuntimeError: with `strict`, `monitor` is not among the metrics.
        """
        if self._training is False:
            return
        metrics = metrics or {}
        if self.monitor not in metrics:
            self._missing_monitor(sorted(metrics))
            return
        stop, reason = self._check_stop_condition(float(metrics[self.monitor]))
        hub = getattr(runner, "message_hub", None)
        if hub is not None:
            hub.update_info(
                self.info_key, {"best_score": self.best_score, "wait_count": self.wait_count}
            )
        if stop:
            runner.train_loop.stop_training = True
            runner.logger.info(reason)

    def _missing_monitor(self, names: list[str]) -> None:
        """Raise with `strict`; otherwise warn, the first time, that nothing is monitored."""
        missing = (
            f"EarlyStoppingHook monitor={self.monitor!r} is not among the validation metrics "
            f"{names}"
        )
        if self.strict:
            raise RuntimeError(
                f"{missing}: set monitor to one of them, or strict=False to skip such "
                "validations with a warning"
            )
        if not self._warned_missing:
            self._warned_missing = True
            warnings.warn(
                f"{missing}, so early stopping is inactive: validations without it are "
                "skipped (this warning is not repeated). Set monitor to one of them; "
                "strict=True makes this an error",
                UserWarning,
                stacklevel=3,
            )

    def _check_stop_condition(self, score: float) -> tuple[bool, str]:
        """Record `score`; return whether training should stop, and why."""
        if self.check_finite and not math.isfinite(score):
            return True, (
                f"Early stopping: {self.monitor} = {score} is not finite; the best was "
                f"{self.best_score:.3f}."
            )
        threshold = self.stopping_threshold
        if threshold is not None and improves(self.rule, score, threshold):
            self.best_score = score
            return True, (
                f"Early stopping: {self.monitor} = {score} is {self.rule} than the stopping "
                f"threshold {threshold}."
            )
        if not improves(self.rule, self.best_score + self.min_delta, score):
            self.best_score, self.wait_count = score, 0  # reached best + min_delta: improved
            return False, ""
        self.wait_count += 1
        if self.wait_count < self.patience:
            return False, ""
        return True, (
            f"Early stopping: {self.monitor} did not improve by {abs(self.min_delta)} in the "
            f"last {self.wait_count} validations; the best was {self.best_score:.3f}."
        )

    def __repr__(self) -> str:
        return (
            f"EarlyStoppingHook(monitor={self.monitor!r}, rule={self.rule!r}, "
            f"min_delta={abs(self.min_delta)}, patience={self.patience}, "
            f"stopping_threshold={self.stopping_threshold})"
        )


def _train_loop_of(runner: Any) -> Any:
    """The runner's training loop if it has one, without building it (hooks-core's runner)."""
    try:
        return runner.built_train_loop
    except AttributeError:  # another runner, or a stand-in: MMEngine's attribute
        return getattr(runner, "train_loop", None)
