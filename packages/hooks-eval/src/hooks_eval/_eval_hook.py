"""`EvalHook`: MMCV's evaluation: a dataloader and ``dataset.evaluate``, or the runner's val loop.

Given a dataloader it follows MMCV 1.x's protocol, on any runner: ``test_fn``
gives the model's results, the dataset's ``evaluate`` turns them into metrics,
which go to ``runner.log_buffer.output`` (where MMCV's logger hooks find them)
and to the message hub as ``val/<name>`` scalars. Without one it runs the
runner's validation loop on MMCV's schedule.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from hooks_core import HOOKS, Hook
from hooks_core.checkpoint import check_local_path
from hooks_core.utils import check_positive_int

from ._best import AUTO, BestCheckpoints, best_keys
from ._bookkeeping import out_dir_of
from ._mmcv_test import single_gpu_test
from ._rules import GREATER_KEYS, LESS_KEYS, key_names
from ._writer import CheckpointWriter

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Sequence
    from typing import Any

__all__ = ["EvalHook"]

_PREFIX = "eval_"  # before this hook's message hub keys, so CheckpointHook's stay its own


@HOOKS.register_module()
class EvalHook(Hook):
    """Evaluate every `interval` epochs (or iterations) from `start`, keeping the best checkpoint.

    The arguments are MMCV 1.7's. With a `dataloader`, each evaluation runs
    ``test_fn(runner.model, dataloader)`` and then
    ``dataloader.dataset.evaluate(results, logger=runner.logger, **eval_kwargs)``;
    the metrics it returns go to ``runner.log_buffer.output`` (``ready`` set)
    when the runner has one (MMCV's runners), to the message hub as
    ``val/<name>`` scalars, and otherwise to the log. Evaluating by iteration
    first lets the MMCV-style logger hooks (``after_train_iter(runner)``) that
    come after this one log the iteration's training values and clears the log
    buffer, as MMCV does, so the two do not mix. Without a `dataloader`, the
    runner's validation loop validates (give the runner ``val_dataloader``,
    ``val_cfg`` and ``val_evaluator``), on this hook's schedule instead of the
    training loop's ``val_interval``.

    A run that begins (or resumes) at or after `start` evaluates once first, if
    due, as MMCV does. The best checkpoint is ``best_{key}_{epoch_N|iter_N}.pth``,
    with the model but no optimizer state, and replaces the previous best; a
    score of 0 counts (MMCV skipped it). The best score and file are kept in the
    message hub (``eval_best_score``, ``eval_best_ckpt``) and, on runners with a
    ``meta`` dict, in ``runner.meta['hook_msgs']['best_score'/'best_ckpt']`` as
    MMCV keeps them; both travel in checkpoints, and a resumed MMCV checkpoint's
    ``hook_msgs`` are taken up.

    Args:
        dataloader: A dataloader whose dataset has ``evaluate``, or its config
            (built with ``runner.build_dataloader``); None validates with the
            runner's validation loop.
        start: Count the interval from this epoch (or iteration); None counts
            from the beginning.
        interval: Evaluate every this many epochs (or iterations).
        by_epoch: Count in epochs, else in iterations.
        save_best: A metric name, a list of them, or ``'auto'`` (the first
            metric); see `CheckpointHook`. True, which MMCV-era configs write
            (MMCV 1.7 refuses it with an assertion), means ``'auto'``.
        rule: ``'greater'`` or ``'less'`` (one, or one per key); None infers it.
        test_fn: ``test_fn(model, dataloader)`` returning the results;
            `single_gpu_test` by default. Needs a `dataloader`.
        greater_keys, less_keys: See `CheckpointHook`.
        out_dir: Save best checkpoints to ``out_dir/<work dir name>``.
        file_client_args: MMCV's storage options; only local storage is supported.
        **eval_kwargs: Passed to ``dataset.evaluate`` (``metric='accuracy'``...).
            Without a `dataloader` they are refused: the ``val_evaluator``
            computes the metrics then.

    Raises:
        TypeError: a `dataloader` that is neither a dataloader nor a config, a
            dataset without ``evaluate``, or a `save_best`, `rule`,
            `greater_keys` or `less_keys` of the wrong type.
        ValueError: `interval` < 1, `start` < 0, `eval_kwargs` or `test_fn`
            without a `dataloader`, a bad `save_best`/`rule`, or remote storage.

    Example:
        >>> runner.register_hook(EvalHook(val_loader, save_best='auto', metric='accuracy'),
        ...                      priority='LOW')  # doctest: +SKIP
    """

    priority = "LOW"  # where MMCV-era libraries registered it

    def __init__(
        self,
        dataloader: Any = None,
        start: int | None = None,
        interval: int = 1,
        by_epoch: bool = True,
        save_best: str | Sequence[str] | bool | None = None,
        rule: str | Sequence[str] | None = None,
        test_fn: Callable[..., Any] | None = None,
        greater_keys: str | Sequence[str] | None = None,
        less_keys: str | Sequence[str] | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        file_client_args: Mapping[str, Any] | None = None,
        **eval_kwargs: Any,
    ) -> None:
        name = type(self).__name__
        if dataloader is None and (eval_kwargs or test_fn is not None):
            given = sorted(eval_kwargs) + (["test_fn"] if test_fn is not None else [])
            raise ValueError(
                f"{name} got {given} without a dataloader; MMCV passed them to "
                "dataset.evaluate: give the dataloader (EvalHook(val_loader, metric=...)), or "
                "validate with the runner's val loop, whose val_evaluator computes the metrics: "
                "put them there, e.g. val_evaluator=dict(type='Accuracy')"
            )
        if dataloader is not None and not isinstance(dataloader, Mapping):
            _check_dataset(dataloader, eval_kwargs, name)
        check_positive_int(interval, f"{name} interval")
        if start is not None and (
            isinstance(start, bool) or not isinstance(start, int) or start < 0
        ):
            raise ValueError(f"{name} start must be None or an int >= 0, got {start!r}")
        check_local_path(out_dir, file_client_args, owner=name)
        self.dataloader = dataloader
        self.start = start
        self.interval = interval
        self.by_epoch = by_epoch
        self.test_fn: Callable[..., Any] = single_gpu_test if test_fn is None else test_fn
        self.eval_kwargs = eval_kwargs
        self.out_dir_option = out_dir
        self.file_client_args = file_client_args
        keys = best_keys(AUTO if save_best is True else (save_best or None), name)
        self.best = (
            BestCheckpoints(
                keys,
                rule,
                key_names(greater_keys, GREATER_KEYS, "greater_keys", name),
                key_names(less_keys, LESS_KEYS, "less_keys", name),
                name,
                info_prefix=_PREFIX,
            )
            if keys
            else None
        )
        self._writer = CheckpointWriter()
        self._first = True
        self._step = 0  # the epoch (or iteration) number the running validation follows
        self._meta: dict[str, int] = {}

    # ------------------------------------------------------------ set-up
    def before_train(self, runner: Any) -> None:
        """Get the dataloader (or the val loop) ready and take up a resumed best checkpoint."""
        self._first = True
        if self.dataloader is None:
            if runner.val_loop is None:
                raise RuntimeError(
                    f"{type(self).__name__} without a dataloader validates with the runner's "
                    "validation loop: give the runner val_dataloader, val_cfg and "
                    "val_evaluator, or give the hook a dataloader whose dataset has evaluate"
                )
            runner.train_loop.val_begin = sys.maxsize
        elif isinstance(self.dataloader, Mapping):
            self.dataloader = runner.build_dataloader(self.dataloader, seed=runner.seed)
            _check_dataset(self.dataloader, self.eval_kwargs, type(self).__name__)
        if self.best is not None:
            self._take_up_hook_msgs(runner)
            self.best.restore(runner.message_hub)

    def _take_up_hook_msgs(self, runner: Any) -> None:
        """A resumed MMCV checkpoint has the best score only in ``meta['hook_msgs']``."""
        assert self.best is not None
        if hasattr(runner, "meta") and runner.meta is None:
            runner.meta = {}  # as MMCV: the best score lives there
        hook_msgs = (getattr(runner, "meta", None) or {}).get("hook_msgs") or {}
        hub = runner.message_hub
        for key in self.best.key_indicators:
            for hub_key in (self.best.score_key(key), self.best.ckpt_key(key)):
                mmcv_key = hub_key[len(_PREFIX) :]
                if hub.get_info(hub_key) is None and mmcv_key in hook_msgs:
                    hub.update_info(hub_key, hook_msgs[mmcv_key])

    # ------------------------------------------------------------ schedule
    def before_train_epoch(self, runner: Any) -> None:
        """Evaluate once before training if it begins at or after `start` (MMCV's resume check)."""
        if self.by_epoch and self._first:
            self._first = False
            if self.start is not None and runner.epoch >= self.start:
                self.after_train_epoch(runner)

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        """Evaluate once before training if it begins at or after `start` (MMCV's resume check)."""
        if not self.by_epoch and self._first:
            self._first = False
            if self.start is not None and runner.iter >= self.start:
                self.after_train_iter(runner, batch_idx, data_batch)

    def after_train_epoch(self, runner: Any) -> None:
        """Evaluate when the epoch just finished is due."""
        if self.by_epoch and self.every_n_epochs(runner, self.interval, self.start or 0):
            self._validate(
                runner, runner.epoch + 1, {"epoch": runner.epoch + 1, "iter": runner.iter}
            )

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Evaluate when the iteration just finished is due."""
        if not self.by_epoch and self.every_n_train_iters(runner, self.interval, self.start or 0):
            if self.dataloader is not None:
                _flush_training_log(self, runner)
            self._validate(
                runner, runner.iter + 1, {"epoch": runner.epoch, "iter": runner.iter + 1}
            )

    def _validate(self, runner: Any, step: int, meta: dict[str, int]) -> None:
        self._step, self._meta = step, meta
        try:
            if self.dataloader is None:
                runner.val_loop.run()  # its after_val_epoch keeps the best checkpoint
            else:
                self._do_evaluate(runner)
        finally:
            self._step = 0
        runner.model.train()  # neither the val loop nor test_fn switches back

    # ------------------------------------------------------------ MMCV's protocol
    def _do_evaluate(self, runner: Any) -> None:
        """Test, evaluate, publish the metrics and keep the best checkpoint."""
        metrics = self._evaluate(runner)
        self._publish(runner, metrics)
        self._keep_best(runner, metrics)

    def _evaluate(self, runner: Any) -> dict[str, Any]:
        """The metrics of the model: `test_fn`, then the dataset's ``evaluate``."""
        return self._dataset_metrics(runner, self.test_fn(runner.model, self.dataloader))

    def _dataset_metrics(self, runner: Any, results: Any) -> dict[str, Any]:
        metrics = self.dataloader.dataset.evaluate(
            results, logger=runner.logger, **self.eval_kwargs
        )
        return dict(metrics or {})

    def _publish(self, runner: Any, metrics: dict[str, Any]) -> None:
        """Into the log buffer for MMCV's logger hooks, and the message hub as ``val/`` scalars."""
        log_buffer = getattr(runner, "log_buffer", None)  # only MMCV's runners have one
        if log_buffer is not None:
            log_buffer.output["eval_iter_num"] = len(self.dataloader)
            log_buffer.output.update(metrics)
            log_buffer.ready = True
        else:
            unit = "epoch" if self.by_epoch else "iter"
            line = "  ".join(f"{key}: {value}" for key, value in metrics.items())
            runner.logger.info("%s at %s %d: %s", type(self).__name__, unit, self._step, line)
        scalars = {f"val/{key}": value for key, value in metrics.items() if _is_scalar(value)}
        if scalars:
            runner.message_hub.update_scalars(scalars)

    # ------------------------------------------------------------ best checkpoint
    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Keep the best checkpoint of a validation loop run this hook started."""
        if self.dataloader is None and self._step:
            self._keep_best(runner, metrics)

    def _keep_best(self, runner: Any, metrics: dict[str, Any] | None) -> None:
        if self.best is None:
            return
        if not metrics:
            runner.logger.warning(
                "%s: the evaluation gave no metrics, so no best checkpoint is saved for it",
                type(self).__name__,
            )
            return
        unit = "epoch" if self.by_epoch else "iter"
        self.best.update(
            runner,
            metrics,
            out_dir_of(runner, self.out_dir_option),
            f"{unit}_{self._step}.pth",
            f"{self._step} {unit}",
            self._meta,
            self._writer,
        )
        meta = getattr(runner, "meta", None)
        if isinstance(meta, dict):  # MMCV's runners: where MMCV keeps the best
            hook_msgs = meta.setdefault("hook_msgs", {})
            hub = runner.message_hub
            for key in self.best.key_indicators:
                for hub_key in (self.best.score_key(key), self.best.ckpt_key(key)):
                    if hub.get_info(hub_key) is not None:
                        hook_msgs[hub_key[len(_PREFIX) :]] = hub.get_info(hub_key)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(interval={self.interval}, start={self.start}, "
            f"by_epoch={self.by_epoch}, "
            f"save_best={None if self.best is None else self.best.key_indicators})"
        )


def _check_dataset(dataloader: Any, eval_kwargs: dict[str, Any], owner: str) -> None:
    """A dataloader whose dataset has MMCV's ``evaluate``; otherwise say what to do."""
    if not hasattr(dataloader, "dataset") or not hasattr(dataloader, "__iter__"):
        raise TypeError(
            f"{owner} dataloader must be a DataLoader (whose dataset has evaluate) or its "
            f"config dict, got {type(dataloader).__name__}; to validate with the runner's val "
            f"loop give no dataloader (and interval=... by keyword)"
        )
    dataset = dataloader.dataset
    if not callable(getattr(dataset, "evaluate", None)):
        passed = f", which would get {sorted(eval_kwargs)}" if eval_kwargs else ""
        raise TypeError(
            f"{owner}: the dataloader's dataset, {type(dataset).__name__}, has no "
            f"evaluate(results, logger=None, **eval_kwargs){passed}; MMCV's protocol needs it: "
            f"add one to {type(dataset).__name__} returning a dict of metrics, or give "
            f"{owner} no dataloader and validate with the runner's val loop and a val_evaluator"
        )


def _flush_training_log(hook: Hook, runner: Any) -> None:
    """MMCV's order: the MMCV-style logger hooks still to run log this iteration before evaluating.

    Then the log buffer is cleared, so what they log next, at their turn, is the
    evaluation alone. MMEngine-style logger hooks (such as hooks-logging's
    `LoggerHook`) are left alone: they read the training values from the message
    hub, apart from the evaluation's, so they log each once at their turn.
    """
    log_buffer = getattr(runner, "log_buffer", None)
    if log_buffer is None:  # not an MMCV runner: no buffer to mix values in
        return
    hooks = list(runner.hooks)
    for other in hooks[hooks.index(hook) + 1 :] if hook in hooks else []:
        if _mmcv_logger(other):
            other.after_train_iter(runner)
    log_buffer.clear()


def _mmcv_logger(hook: Any) -> bool:
    """A logger hook written for MMCV: a ``LoggerHook`` with ``after_train_iter(runner)``."""
    import inspect

    if not any(cls.__name__ == "LoggerHook" for cls in type(hook).__mro__):
        return False
    try:
        parameters = inspect.signature(hook.after_train_iter).parameters
    except (TypeError, ValueError):
        return False
    return "batch_idx" not in parameters


def _is_scalar(value: Any) -> bool:
    """A number the message hub can keep (int, float, numpy or one-element tensor)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    size = getattr(value, "size", None)
    numel = getattr(value, "numel", None)
    count = numel() if callable(numel) else size
    return count == 1 and hasattr(value, "item")
