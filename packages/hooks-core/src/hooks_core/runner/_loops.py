"""Training, validation and test loops: the order in which hook points fire.

The call order is MMEngine's, so hooks written for it behave the same: validation
runs inside training, after the epoch (or iteration) counter has moved on.
"""

from __future__ import annotations

import bisect

from ..dataset._samplers import InfiniteSampler
from ..registry._roots import LOOPS
from ..runtime._signals import StopRequested
from ..utils import check_positive_int
from ._data_position import DataPosition
from ._input_checks import check_has_batches, check_val_schedule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any

__all__ = ["BaseLoop", "EpochBasedTrainLoop", "IterBasedTrainLoop", "ValLoop", "TestLoop"]

_NO_META = object()  # a dataset without ``metainfo`` (None is a value it may have)


class BaseLoop:
    """A loop over one dataloader, run by a runner.

    Args:
        runner: The runner whose model and hooks the loop drives.
        dataloader: A dataloader, or a config dict the runner builds into one.
    """

    def __init__(self, runner: Any, dataloader: Any) -> None:
        self.runner = runner
        if isinstance(dataloader, dict):  # seeded by the run, as MMEngine's loops do
            diff_rank_seed = runner._randomness_cfg.get("diff_rank_seed", False)
            dataloader = runner.build_dataloader(
                dataloader, seed=runner.seed, diff_rank_seed=diff_rank_seed
            )
        self.dataloader = dataloader
        self._call_hook = runner.hook_caller()  # `runner.call_hook`, one frame shorter

    def _share_dataset_meta(self) -> Any:
        """The dataset's ``metainfo``, handed to the runner's visualizer as MMEngine's loops do.

        Returns:
            The meta information, or `_NO_META` when the dataset has none.
        """
        meta = getattr(getattr(self.dataloader, "dataset", None), "metainfo", _NO_META)
        share = getattr(self.runner, "share_dataset_meta", None)
        if meta is not _NO_META and share is not None:
            share(meta)
        return meta

    def run(self) -> Any:
        """Run the loop and return its result."""
        raise NotImplementedError


class _TrainLoop(BaseLoop):
    """What epoch- and iteration-based training share: counters, stopping, validation schedule."""

    def __init__(
        self,
        runner: Any,
        dataloader: Any,
        val_begin: int,
        val_interval: int,
        dynamic_intervals: Sequence[tuple[int, int]] | None,
    ) -> None:
        super().__init__(runner, dataloader)
        self._share_dataset_meta()
        self._data_position = DataPosition()
        self._epoch = 0
        self._iter = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.stop_training = False
        self._stop_signal: int | None = None
        self._milestones, self._intervals = _split_dynamic_intervals(
            val_interval, dynamic_intervals
        )

    @property
    def epoch(self) -> int:
        """Completed epochs (during an epoch: the index of the current one)."""
        return self._epoch

    @property
    def iter(self) -> int:
        """Completed training iterations, over the whole run."""
        return self._iter

    @property
    def max_epochs(self) -> int:
        """Epochs of the run (each loop type knows its own)."""
        raise NotImplementedError

    @property
    def max_iters(self) -> int:
        """Iterations of the run (each loop type knows its own)."""
        raise NotImplementedError

    def request_stop(self, signum: int) -> None:
        """Stop after the current iteration (from a signal handler): `StopRequested` is raised."""
        self._stop_signal = signum

    def load_position(self, epoch: int, iteration: int) -> None:
        """Continue from a checkpoint's counters; the data skips what was already seen."""
        self._epoch = epoch
        self._iter = iteration

    def data_state(self) -> dict[str, Any]:
        """Where the training data stands, for the checkpoint's ``'dataloader'`` entry."""
        return self._data_position.state_dict(self.dataloader)

    def load_data_state(self, state: dict[str, Any] | None, rng_state: Any) -> None:
        """Take a checkpoint's data `state` and `rng_state`, for the pass the run resumes in."""
        self._data_position.load_state_dict(self.dataloader, state, rng_state)

    def check_before_training(self, scheduled_validation: bool) -> None:
        """Refuse an empty training set; warn if a `scheduled_validation` would barely run."""
        check_has_batches(self.dataloader)
        if scheduled_validation:
            by_epoch = getattr(self, "by_epoch", True)  # the loop types' class attribute
            length, unit = (self.max_epochs, "epochs") if by_epoch else (self.max_iters, "iters")
            check_val_schedule(self.val_begin, min(self._intervals), length, unit)

    def _update_val_interval(self, progress: int) -> None:
        """Apply `dynamic_intervals`: the interval of the last milestone reached."""
        self.val_interval = self._intervals[bisect.bisect(self._milestones, progress) - 1]

    def _should_validate(self, progress: int, end: int) -> bool:
        return (
            self.runner.val_loop is not None
            and progress >= self.val_begin
            and (progress % self.val_interval == 0 or progress == end)
        )

    def _run_iter(self, batch_idx: int, data_batch: Any) -> None:
        runner, call_hook = self.runner, self._call_hook
        call_hook("before_train_iter", batch_idx=batch_idx, data_batch=data_batch)
        outputs = runner.outputs = runner.model.train_step(
            data_batch, optim_wrapper=runner.optim_wrapper
        )
        call_hook("after_train_iter", batch_idx=batch_idx, data_batch=data_batch, outputs=outputs)
        self._iter += 1

    def _stop_if_requested(self) -> None:
        """Raise `StopRequested` if a stop signal arrived and training would otherwise go on."""
        if self._stop_signal is not None and not self.stop_training:
            raise StopRequested(self._stop_signal)


@LOOPS.register_module()
class EpochBasedTrainLoop(_TrainLoop):
    """Train for `max_epochs` passes over the data, validating every `val_interval` epochs.

    Args:
        runner: The runner.
        dataloader: The training dataloader or its config.
        max_epochs: Number of epochs.
        val_begin: First epoch after which validation may run.
        val_interval: Validate every this many epochs (and after the last one).
        dynamic_intervals: ``[(epoch, interval), ...]`` changing the interval
            once training reaches each epoch.
    """

    by_epoch = True  # loggers and checkpoints count in epochs

    def __init__(
        self,
        runner: Any,
        dataloader: Any,
        max_epochs: int,
        val_begin: int = 1,
        val_interval: int = 1,
        dynamic_intervals: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        super().__init__(runner, dataloader, val_begin, val_interval, dynamic_intervals)
        self._max_epochs = check_positive_int(max_epochs, "max_epochs")
        self._max_iters = max_epochs * len(self.dataloader)

    @property
    def max_epochs(self) -> int:
        return self._max_epochs

    @property
    def max_iters(self) -> int:
        return self._max_iters

    def run(self) -> Any:
        """Train, validating on schedule; return the model."""
        runner = self.runner
        self._call_hook("before_train")
        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch()
            self._update_val_interval(self._epoch)
            if self._should_validate(self._epoch, self._max_epochs):
                runner.val_loop.run()
            if self._stop_signal is not None and self._epoch < self._max_epochs:
                self._stop_if_requested()
        self._call_hook("after_train")
        return runner.model

    def run_epoch(self) -> None:
        """One pass over the data; after a mid-epoch resume, only the batches not yet seen."""
        runner = self.runner
        self._call_hook("before_train_epoch")
        runner.model.train()
        start = self._iter - self._epoch * len(self.dataloader)
        batches = self._data_position.batches(self.dataloader, self._epoch, start)
        for batch_idx, data_batch in enumerate(batches, start):
            self._run_iter(batch_idx, data_batch)
            # On the epoch's last iteration, stop after its checkpoint and validation (in `run`).
            if self._stop_signal is not None and batch_idx + 1 < len(self.dataloader):
                self._stop_if_requested()
        self._call_hook("after_train_epoch")
        self._epoch += 1


@LOOPS.register_module()
class IterBasedTrainLoop(_TrainLoop):
    """Train for `max_iters` iterations, cycling through the data, validating every `val_interval`.

    Args:
        runner: The runner.
        dataloader: The training dataloader or its config.
        max_iters: Number of iterations.
        val_begin: First iteration after which validation may run.
        val_interval: Validate every this many iterations (and after the last one).
        dynamic_intervals: ``[(iteration, interval), ...]``.
    """

    by_epoch = False  # loggers and checkpoints count in iterations

    def __init__(
        self,
        runner: Any,
        dataloader: Any,
        max_iters: int,
        val_begin: int = 1,
        val_interval: int = 1000,
        dynamic_intervals: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        super().__init__(runner, dataloader, val_begin, val_interval, dynamic_intervals)
        self._max_iters = check_positive_int(max_iters, "max_iters")

    @property
    def max_epochs(self) -> int:
        return 1

    @property
    def max_iters(self) -> int:
        return self._max_iters

    def run(self) -> Any:
        """Train, validating on schedule; return the model."""
        runner = self.runner
        self._call_hook("before_train")
        self._call_hook("before_train_epoch")
        batches = _endless_batches(self.dataloader, self._iter, self._data_position)
        runner.model.train()
        while self._iter < self._max_iters and not self.stop_training:
            self._run_iter(self._iter, next(batches))
            self._update_val_interval(self._iter)
            if self._should_validate(self._iter, self._max_iters):
                runner.val_loop.run()
                runner.model.train()
            # After this iteration's validation and checkpoint, so a resumed run misses neither.
            if self._stop_signal is not None and self._iter < self._max_iters:
                self._stop_if_requested()
        self._call_hook("after_train_epoch")
        self._call_hook("after_train")
        return runner.model


class _EvalLoop(BaseLoop):
    """Validation and testing: the same loop with different hook points and evaluator."""

    mode = "val"

    def __init__(self, runner: Any, dataloader: Any, evaluator: Any, fp16: bool = False) -> None:
        super().__init__(runner, dataloader)
        self.evaluator = runner.build_evaluator(evaluator)
        meta = self._share_dataset_meta()
        if meta is not _NO_META:  # metrics read class names from it
            self.evaluator.dataset_meta = meta
        self.fp16 = fp16

    def run(self) -> dict[str, Any]:
        """Evaluate the model on the whole dataloader and return the metrics."""
        import torch

        runner, mode = self.runner, self.mode
        self._call_hook(f"before_{mode}")
        self._call_hook(f"before_{mode}_epoch")
        runner.model.eval()
        losses: dict[str, list[Any]] = {}
        step = getattr(runner.model, f"{mode}_step")
        before_iter, after_iter = f"before_{mode}_iter", f"after_{mode}_iter"  # once, not per batch
        with torch.no_grad(), _autocast(runner.model, self.fp16):
            for batch_idx, data_batch in enumerate(self.dataloader):
                self._call_hook(before_iter, batch_idx=batch_idx, data_batch=data_batch)
                outputs = _take_losses(step(data_batch), losses, mode)
                self.evaluator.process(data_samples=outputs, data_batch=data_batch)
                self._call_hook(
                    after_iter, batch_idx=batch_idx, data_batch=data_batch, outputs=outputs
                )
        metrics = dict(self.evaluator.evaluate(_dataset_size(self.dataloader)))
        for key, values in losses.items():
            metrics[key] = float(torch.stack([torch.as_tensor(v) for v in values]).mean())
        self._call_hook(f"after_{mode}_epoch", metrics=metrics)
        self._call_hook(f"after_{mode}")
        return metrics


@LOOPS.register_module()
class ValLoop(_EvalLoop):
    """Validation: ``before_val`` ... ``after_val_epoch(metrics)`` ... ``after_val``.

    Args:
        runner: The runner.
        dataloader: The validation dataloader or its config.
        evaluator: An evaluator (``process``/``evaluate``) or its config.
        fp16: Run the model under autocast.
    """

    mode = "val"


@LOOPS.register_module()
class TestLoop(_EvalLoop):
    """Testing: the validation loop with the ``test`` hook points."""

    mode = "test"


def _split_dynamic_intervals(
    interval: int, dynamic: Sequence[tuple[int, int]] | None
) -> tuple[list[int], list[int]]:
    milestones, intervals = [0], [interval]
    for milestone, value in sorted(dynamic or ()):
        if milestone <= milestones[-1] and milestone != 0:
            raise ValueError(f"dynamic_intervals milestones must be distinct, got {dynamic!r}")
        if milestone == 0:
            intervals[0] = value
        else:
            milestones.append(milestone)
            intervals.append(value)
    return milestones, intervals


def _endless_batches(dataloader: Any, done: int, position: DataPosition) -> Iterator[Any]:
    """Cycle through `dataloader` forever, starting after the `done` batches already trained on."""
    sampler = getattr(dataloader, "sampler", None)
    if isinstance(sampler, InfiniteSampler):  # one endless stream: skip straight to `done`
        sampler.skip(done * dataloader.batch_size)
        yield from dataloader
        return
    passes, start = divmod(done, len(dataloader))
    while True:
        set_epoch = getattr(sampler, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(passes)
        yield from position.batches(dataloader, passes, start)
        passes, start = passes + 1, 0


def _take_losses(outputs: Any, losses: dict[str, list[Any]], mode: str) -> Any:
    """Move a trailing dict of losses out of the model's outputs into `losses`.

    A model may return ``[*predictions, {'loss': ...}]`` from `val_step` or
    `test_step` to have its loss averaged and reported as a metric, prefixed with
    the loop's mode (``val_loss``, ``test_loss``).
    """
    if isinstance(outputs, list) and outputs and isinstance(outputs[-1], dict):
        tail = outputs[-1]
        if tail and all("loss" in key for key in tail):
            for key, value in tail.items():
                name = key if key.startswith(f"{mode}_") else f"{mode}_{key}"
                losses.setdefault(name, []).append(value)
            return outputs[:-1]
    return outputs


def _dataset_size(dataloader: Any) -> int:
    dataset = getattr(dataloader, "dataset", None)
    return len(dataset) if dataset is not None else len(dataloader)


def _autocast(model: Any, enabled: bool) -> Any:
    import contextlib

    import torch

    if not enabled:
        return contextlib.nullcontext()
    device = next(model.parameters()).device.type
    return torch.autocast(device_type=device, dtype=torch.float16 if device == "cuda" else None)
