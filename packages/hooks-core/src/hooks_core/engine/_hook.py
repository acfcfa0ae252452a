"""The `Hook` base class: every hook point of the training loop, and scheduling helpers.

A subclass overrides only the points it cares about. The runner's dispatch table
(see `HookList`) calls a hook only at the points it overrides, so the empty
defaults below cost nothing at run time.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from collections.abc import Collection, Sized
    from typing import Any, ClassVar

    from ._priority import Priority

__all__ = ["Hook", "HOOK_POINTS", "GENERIC_POINTS", "MMCV_GENERIC_POINTS", "overrides", "defines"]

# The keyword arguments each hook point receives after `runner`, in the order the
# runner passes them. The order of the keys is MMEngine's `Hook.stages` order,
# which is the display order of `get_hooks_info`, not the call order.
HOOK_POINTS: dict[str, tuple[str, ...]] = {
    "before_run": (),
    "after_load_checkpoint": ("checkpoint",),
    "before_train": (),
    "before_train_epoch": (),
    "before_train_iter": ("batch_idx", "data_batch"),
    "after_train_iter": ("batch_idx", "data_batch", "outputs"),
    "after_train_epoch": (),
    "before_val": (),
    "before_val_epoch": (),
    "before_val_iter": ("batch_idx", "data_batch"),
    "after_val_iter": ("batch_idx", "data_batch", "outputs"),
    "after_val_epoch": ("metrics",),
    "after_val": (),
    "before_save_checkpoint": ("checkpoint",),
    "after_train": (),
    "before_test": (),
    "before_test_epoch": (),
    "before_test_iter": ("batch_idx", "data_batch"),
    "after_test_iter": ("batch_idx", "data_batch", "outputs"),
    "after_test_epoch": ("metrics",),
    "after_test": (),
    "after_run": (),
}

# Mode-specific points whose default delegates to a generic `mode` method:
# overriding the generic one covers train, val and test at once.
GENERIC_POINTS: dict[str, str] = {
    f"{when}_{mode}_{unit}": f"_{when}_{unit}"
    for when in ("before", "after")
    for mode in ("train", "val", "test")
    for unit in ("epoch", "iter")
}

# MMCV 1.x's generic points: public, taking only the runner, behind the train and
# val points (not test, which MMCV did not have).
MMCV_GENERIC_POINTS: dict[str, str] = {
    f"{when}_{mode}_{unit}": f"{when}_{unit}"
    for when in ("before", "after")
    for mode in ("train", "val")
    for unit in ("epoch", "iter")
}


class Hook:
    """Base class of all hooks: override the points your hook needs.

    Every point receives the runner first. Iteration points also receive
    ``batch_idx`` (the index within the epoch for epoch-based training, the
    global iteration for iteration-based training), ``data_batch`` and, after
    the step, ``outputs``. ``after_val_epoch``/``after_test_epoch`` receive the
    computed ``metrics``; the checkpoint points receive the mutable checkpoint dict.

    Example:
        >>> class PrintLoss(Hook):
        ...     priority = 'LOW'
        ...     def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        ...         if self.every_n_inner_iters(batch_idx, 100):
        ...             print(outputs['loss'])
    """

    priority: int | str | Priority = "NORMAL"
    stages: ClassVar[tuple[str, ...]] = tuple(HOOK_POINTS)

    # ------------------------------------------------------------ run, loops
    def before_run(self, runner: Any) -> None:
        """Called once before anything else, before a checkpoint is loaded or resumed."""

    def after_run(self, runner: Any) -> None:
        """Called once at the very end of `train()`, `val()` or `test()`."""

    def on_exception(self, runner: Any, exception: BaseException) -> None:
        """Called when `exception` stops `train()`, `val()` or `test()`, before it propagates.

        Not one of MMEngine's points (it is not in `stages`), but Lightning's
        ``Callback.on_exception``: the place to mark a tracker's run failed. On
        SIGTERM it gets the `StopRequested` stop before `after_run` is called.
        """

    def before_train(self, runner: Any) -> None:
        """Called before the first training epoch, after resuming."""

    def after_train(self, runner: Any) -> None:
        """Called after the last training epoch or iteration."""

    def before_val(self, runner: Any) -> None:
        """Called before a validation run."""

    def after_val(self, runner: Any) -> None:
        """Called after a validation run."""

    def before_test(self, runner: Any) -> None:
        """Called before a test run."""

    def after_test(self, runner: Any) -> None:
        """Called after a test run."""

    # ------------------------------------------------------------ checkpoints
    def before_save_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        """Called with the checkpoint dict before it is written; add or change keys here."""

    def after_load_checkpoint(self, runner: Any, checkpoint: dict[str, Any]) -> None:
        """Called with a loaded checkpoint dict before its weights go into the model."""

    # ------------------------------------------------------------ epochs
    def before_train_epoch(self, runner: Any) -> None:
        """Called before each training epoch."""
        self._before_epoch(runner, mode="train")

    def before_val_epoch(self, runner: Any) -> None:
        """Called before each validation epoch."""
        self._before_epoch(runner, mode="val")

    def before_test_epoch(self, runner: Any) -> None:
        """Called before each test epoch."""
        self._before_epoch(runner, mode="test")

    def after_train_epoch(self, runner: Any) -> None:
        """Called after each training epoch."""
        self._after_epoch(runner, mode="train")

    def after_val_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Called after each validation epoch with the evaluator's metrics."""
        self._after_epoch(runner, mode="val")

    def after_test_epoch(self, runner: Any, metrics: dict[str, Any] | None = None) -> None:
        """Called after each test epoch with the evaluator's metrics."""
        self._after_epoch(runner, mode="test")

    # ------------------------------------------------------------ iterations
    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        """Called before each training step."""
        self._before_iter(runner, batch_idx=batch_idx, data_batch=data_batch, mode="train")

    def before_val_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        """Called before each validation step."""
        self._before_iter(runner, batch_idx=batch_idx, data_batch=data_batch, mode="val")

    def before_test_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        """Called before each test step."""
        self._before_iter(runner, batch_idx=batch_idx, data_batch=data_batch, mode="test")

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Called after each training step with the step's outputs (loss and log values)."""
        self._after_iter(
            runner, batch_idx=batch_idx, data_batch=data_batch, outputs=outputs, mode="train"
        )

    def after_val_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Called after each validation step with the model's predictions."""
        self._after_iter(
            runner, batch_idx=batch_idx, data_batch=data_batch, outputs=outputs, mode="val"
        )

    def after_test_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Called after each test step with the model's predictions."""
        self._after_iter(
            runner, batch_idx=batch_idx, data_batch=data_batch, outputs=outputs, mode="test"
        )

    # ------------------------------------------------------------ generic fallbacks
    def _before_epoch(self, runner: Any, mode: str = "train") -> None:
        """Generic point behind `before_{train,val,test}_epoch`; calls MMCV's `before_epoch`."""
        if mode != "test":
            self.before_epoch(runner)

    def _after_epoch(self, runner: Any, mode: str = "train") -> None:
        """Generic point behind `after_{train,val,test}_epoch`; calls MMCV's `after_epoch`."""
        if mode != "test":
            self.after_epoch(runner)

    def _before_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, mode: str = "train"
    ) -> None:
        """Generic point behind `before_{train,val,test}_iter`; calls MMCV's `before_iter`."""
        if mode != "test":
            self.before_iter(runner)

    def _after_iter(
        self,
        runner: Any,
        batch_idx: int,
        data_batch: Any = None,
        outputs: Any = None,
        mode: str = "train",
    ) -> None:
        """Generic point behind `after_{train,val,test}_iter`; calls MMCV's `after_iter`."""
        if mode != "test":
            self.after_iter(runner)

    # MMCV 1.x's generic points, called for train and val. `IterBasedRunner`
    # also calls `before_epoch`/`after_epoch` once around the whole run, as MMCV's does.
    def before_epoch(self, runner: Any) -> None:
        """MMCV's generic point before each training and validation epoch."""

    def after_epoch(self, runner: Any) -> None:
        """MMCV's generic point after each training and validation epoch."""

    def before_iter(self, runner: Any) -> None:
        """MMCV's generic point before each training and validation iteration."""

    def after_iter(self, runner: Any) -> None:
        """MMCV's generic point after each training and validation iteration."""

    # ------------------------------------------------------------ helpers
    def every_n_epochs(self, runner: Any, n: int, start: int = 0) -> bool:
        """True after every `n`-th epoch counted from `start` (uses ``runner.epoch``)."""
        done = runner.epoch + 1 - start
        return n > 0 and done >= 0 and done % n == 0

    def every_n_train_iters(self, runner: Any, n: int, start: int = 0) -> bool:
        """True after every `n`-th training iteration counted from `start` (``runner.iter``)."""
        done = runner.iter + 1 - start
        return n > 0 and done >= 0 and done % n == 0

    def every_n_iters(self, runner: Any, n: int) -> bool:
        """MMCV's name for `every_n_train_iters` (no `start`)."""
        return self.every_n_train_iters(runner, n)

    def every_n_inner_iters(self, batch_idx: int | Any, n: int) -> bool:
        """True after every `n`-th iteration within the current epoch.

        `batch_idx` is the index in the epoch (MMEngine), or the runner, whose
        ``inner_iter`` is used (MMCV's ``every_n_inner_iters(runner, n)``).
        """
        index = batch_idx if isinstance(batch_idx, int) else batch_idx.inner_iter
        return n > 0 and (index + 1) % n == 0

    def end_of_epoch(self, dataloader: Sized | Any, batch_idx: int | None = None) -> bool:
        """True at the last batch of `dataloader`.

        MMCV's form ``end_of_epoch(runner)`` reads the runner's ``inner_iter``
        and ``data_loader``.
        """
        if batch_idx is None:
            runner: Any = dataloader
            return bool(runner.inner_iter + 1 == len(runner.data_loader))
        return batch_idx + 1 == len(dataloader)

    def is_last_train_epoch(self, runner: Any) -> bool:
        """True during the last training epoch."""
        return bool(runner.epoch + 1 == runner.max_epochs)

    def is_last_train_iter(self, runner: Any) -> bool:
        """True at the last training iteration."""
        return bool(runner.iter + 1 == runner.max_iters)

    def is_last_epoch(self, runner: Any) -> bool:
        """MMCV's name for `is_last_train_epoch`."""
        return self.is_last_train_epoch(runner)

    def is_last_iter(self, runner: Any) -> bool:
        """MMCV's name for `is_last_train_iter`."""
        return self.is_last_train_iter(runner)

    def idle_points(self, runner: Any) -> Collection[str]:
        """The hook points this hook does nothing at for the rest of this training run.

        Asked once `before_train` has run (again if the hook is registered
        later); until `after_train` the runner does not call the hook there, so
        a point its set-up makes a no-op (an epoch-based checkpoint after each
        iteration) costs nothing per iteration. A subclass that overrides one
        of those points below the class answering here is called as usual.
        """
        return ()

    def get_triggered_stages(self) -> list[str]:
        """Return the hook points this hook acts on, in `stages` order."""
        return [point for point in self.stages if overrides(self, point)]


def overrides(hook: object, point: str) -> bool:
    """Whether `hook` does something at `point`, directly or through its generic fallback.

    A point counts as overridden when the hook's class (or the instance itself)
    defines it differently from `Hook`. A point `Hook` does not define (a custom
    point) counts when the hook has a callable of that name.
    """
    base = getattr(Hook, point, None)
    if base is None:
        return callable(getattr(hook, point, None))
    if defines(hook, point, base):
        return True
    generic = GENERIC_POINTS.get(point)
    if generic is None:
        return False
    if defines(hook, generic, getattr(Hook, generic)):
        return True
    mmcv_generic = MMCV_GENERIC_POINTS.get(point)
    return mmcv_generic is not None and defines(hook, mmcv_generic, getattr(Hook, mmcv_generic))


def defines(hook: object, name: str, base: object) -> bool:
    """Whether `hook` replaces `base` for attribute `name`, on its class or on the instance."""
    return name in getattr(hook, "__dict__", ()) or getattr(type(hook), name, base) is not base
