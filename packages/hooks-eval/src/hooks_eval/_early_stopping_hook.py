"""`EarlyStoppingHook`: stop training when a validation metric stops improving."""

from __future__ import annotations

import math
import warnings

from hooks_core import HOOKS, Hook
from hooks_core.utils import check_positive_int

from ._rules import check_rule, improves, infer_rule, worst

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["EarlyStoppingHook"]


@HOOKS.register_module()
class EarlyStoppingHook(Hook):
    """Stop training after `patience` validations without an improvement of `monitor`.

    The options and decisions are MMEngine's: a score improves when it beats
    the best by at least `min_delta`; training also stops at once on a
    non-finite score (`check_finite`) or a score past `stopping_threshold`. The
    best score and the count of validations without improvement live in the
    message hub (``early_stopping/{monitor}``), so unlike MMEngine, Lightning
    or HF a resumed run continues counting where the checkpoint left off.

    Args:
        monitor: The metric to watch, e.g. ``'accuracy/top1'``.
        rule: ``'greater'`` or ``'less'``; None infers it from the name as
            `CheckpointHook` does.
        min_delta: The least change that counts as an improvement (MMEngine's 0.1).
        strict: Raise if `monitor` is missing from the metrics, instead of warning.
        check_finite: Stop when the score is NaN or infinite.
        patience: How many validations without improvement to allow.
        stopping_threshold: Stop as soon as the score is better than this.

    Raises:
        ValueError: an unknown or uninferable rule, a negative `min_delta`, or a
            `patience` below 1.

    Example:
        >>> custom_hooks = [dict(type='EarlyStoppingHook', monitor='accuracy/top1', patience=3)]
    """

    priority = "LOWEST"

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
        self.monitor = monitor
        self.rule = infer_rule(monitor, owner) if rule is None else check_rule(rule, owner)
        if not min_delta >= 0:
            raise ValueError(f"EarlyStoppingHook min_delta must be >= 0, got {min_delta!r}")
        check_positive_int(patience, "EarlyStoppingHook patience")
        self.min_delta = min_delta
        self.strict = strict
        self.check_finite = check_finite
        self.patience = patience
        self.stopping_threshold = stopping_threshold
        self._training = False

    @property
    def info_key(self) -> str:
        """The message hub key of this hook's state."""
        return f"early_stopping/{self.monitor}"

    def before_train(self, runner: Any) -> None:
        """Validations from here on may stop training."""
        if not hasattr(runner.train_loop, "stop_training"):
            raise TypeError(
                f"EarlyStoppingHook stops training through train_loop.stop_training, which "
                f"{type(runner.train_loop).__name__} does not have"
            )
        self._training = True

    def after_train(self, runner: Any) -> None:
        self._training = False

    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Update the best score and the count; stop training when a condition is met."""
        if not self._training:
            return
        metrics = metrics or {}
        if self.monitor not in metrics:
            message = (
                f"EarlyStoppingHook monitors {self.monitor!r}, which is not among the "
                f"validation metrics {sorted(metrics)}"
            )
            if self.strict:
                raise RuntimeError(f"{message}; fix monitor or set strict=False")
            warnings.warn(f"{message}; skipped", RuntimeWarning, stacklevel=2)
            return
        reason = self._check(runner.message_hub, float(metrics[self.monitor]))
        if reason is not None:
            runner.train_loop.stop_training = True
            runner.logger.info("Early stopping: %s", reason)

    def _check(self, hub: Any, score: float) -> str | None:
        """Record `score`; return why training should stop, or None to go on."""
        state = dict(hub.get_info(self.info_key, {"best_score": worst(self.rule), "wait_count": 0}))
        best = state["best_score"]
        reason = None
        if self.check_finite and not math.isfinite(score):
            reason = f"{self.monitor} = {score} is not finite; the best was {best:.4f}"
        elif self.stopping_threshold is not None and improves(
            self.rule, score, self.stopping_threshold
        ):
            state["best_score"] = score
            reason = (
                f"{self.monitor} = {score} is {self.rule} than the stopping threshold "
                f"{self.stopping_threshold}"
            )
        else:
            target = best + self.min_delta if self.rule == "greater" else best - self.min_delta
            if not improves(self.rule, target, score):  # reached the target: an improvement
                state.update(best_score=score, wait_count=0)
            else:
                state["wait_count"] += 1
                if state["wait_count"] >= self.patience:
                    reason = (
                        f"{self.monitor} did not improve in the last {state['wait_count']} "
                        f"validations; the best was {best:.4f}"
                    )
        hub.update_info(self.info_key, state)
        return reason

    def __repr__(self) -> str:
        return (
            f"EarlyStoppingHook(monitor={self.monitor!r}, rule={self.rule!r}, "
            f"min_delta={self.min_delta}, patience={self.patience}, "
            f"stopping_threshold={self.stopping_threshold})"
        )
