"""`LogProcessor`: turns the message hub's histories into log records and MMEngine-format lines.

It runs on the training thread, and only when a record is due: it reads the
windowed statistics (tensors stay tensors while they are read), moves every
value of the record to the host in one transfer, and formats the line. The
names, arguments, record keys and line format are MMEngine 0.10's, so configs,
subclasses and log-parsing scripts carry over. Differences on purpose:

- ``by_epoch`` follows the train loop (a value that contradicts it is
  reported), because a processor left at ``by_epoch=True`` for an
  iteration-based run prints a wrong ``Epoch(train) [1][...]`` line in MMEngine;
- a validation or test summary shows each metric's value of that evaluation,
  and ``time``/``data_time`` averaged over exactly its iterations;
- ``window_size='global'`` is the mean (or max, min) over the whole run.
"""

from __future__ import annotations

import re
import sys

from hooks_core import LOG_PROCESSORS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["LogProcessor"]

_MODES = ("train", "val", "test")
_METHODS = ("mean", "max", "min", "current")
_TIME_KEYS = ("time", "data_time")
_CUSTOM_KEYS = frozenset({"data_src", "method_name", "window_size", "log_name"})


@LOG_PROCESSORS.register_module()
class LogProcessor:
    """Build the record and the text line of a logging step from ``runner.message_hub``.

    Args:
        window_size: How many of the latest values the smoothed keys average.
        by_epoch: Whether lines count in epochs (``Epoch(train) [e][i/len]``) or
            iterations (``Iter(train) [i/max]``). The train loop decides: a
            value that contradicts it is reported once and the loop's choice is
            used (and stored in this attribute). None, the default, follows the
            loop without a remark; runs without a train loop count in epochs.
        custom_cfg: Extra statistics, a list of ``dict(data_src='loss',
            method_name='mean'|'max'|'min'|'current', window_size=10|'epoch'|
            'global', log_name='loss_global')``. Without `log_name` the statistic
            replaces the source key's default one; without `window_size` it
            reads the whole history window.
        num_digits: Decimals of floats in the line (learning rates in ``e``
            notation with as many digits).
        log_with_hierarchy: Keep the ``train/``, ``val/``, ``test/`` prefixes in
            the record keys (``epoch``, ``iter`` and ``memory`` have none), and
            in the names of validation and test summary lines, as MMEngine does.
        mean_pattern: Keys whose name (without the mode prefix) this regular
            expression finds (`re.search`) are averaged over `window_size`;
            others show their latest value.

    Raises:
        TypeError: `custom_cfg` is not a list of dicts, or a ``window_size`` in
            it is neither an int, ``'epoch'`` nor ``'global'``.
        ValueError: a non-positive window, a negative `num_digits`, an entry
            without ``data_src``, an unknown key or method, a duplicate
            `log_name`, or ``window_size='epoch'`` in a run that counts
            iterations; the message names the entry.

    Example:
        >>> log_processor = dict(window_size=20, custom_cfg=[dict(
        ...     data_src='loss', method_name='mean', window_size='global',
        ...     log_name='loss_global')])
    """

    def __init__(
        self,
        window_size: int = 10,
        by_epoch: bool | None = None,
        custom_cfg: Sequence[Mapping[str, Any]] | None = None,
        num_digits: int = 4,
        log_with_hierarchy: bool = False,
        mean_pattern: str = r".*(loss|time|data_time|grad_norm).*",
    ) -> None:
        _check_int("window_size", window_size, minimum=1)
        _check_int("num_digits", num_digits, minimum=0)
        if by_epoch is not None and not isinstance(by_epoch, bool):
            raise TypeError(f"LogProcessor by_epoch must be a bool or None, got {by_epoch!r}")
        self.window_size = window_size
        self.by_epoch = True if by_epoch is None else by_epoch
        self._by_epoch_given = by_epoch
        self.num_digits = num_digits
        self.log_with_hierarchy = log_with_hierarchy
        self.mean_pattern = re.compile(mean_pattern)
        self.custom_cfg = _checked_custom_cfg(custom_cfg)
        if by_epoch is False:
            _check_no_epoch_window(self.custom_cfg)
        self._reported_mismatch = False

    # ------------------------------------------------------------ the loop's unit
    def resolve_by_epoch(self, runner: Any) -> bool:
        """Whether this run counts in epochs: the built train loop decides, else `by_epoch`.

        The answer is also stored in `by_epoch`, for subclasses that read it.
        """
        loop = getattr(runner, "built_train_loop", None)
        if loop is None:
            return self.by_epoch
        loop_by_epoch = bool(getattr(loop, "by_epoch", True))
        given = self._by_epoch_given
        if given is not None and given != loop_by_epoch and not self._reported_mismatch:
            self._reported_mismatch = True
            runner.logger.warning(
                "log_processor has by_epoch=%s but the train loop (%s) counts in %s; the log "
                "follows the loop. Remove by_epoch from log_processor to silence this.",
                given,
                type(loop).__name__,
                "epochs" if loop_by_epoch else "iterations",
            )
        if not loop_by_epoch:
            _check_no_epoch_window(self.custom_cfg)
        self.by_epoch = loop_by_epoch
        return loop_by_epoch

    # ------------------------------------------------------------ records
    def get_log_after_iter(
        self, runner: Any, batch_idx: int, mode: str
    ) -> tuple[dict[str, Any], str]:
        """The record and line of a logging iteration of `mode`: ``'train'``, ``'val'``, ``'test'``.

        The record (`tag`) has every ``{mode}/`` scalar (smoothed or latest, see
        `mean_pattern`, and the `custom_cfg` statistics), then ``epoch`` (train
        and val, when counting epochs), ``iter`` (iterations done, 0 without a
        train loop) and ``memory`` (peak MB, with CUDA in use). The line is
        ``<head>  <lrs>  eta: ..  time: ..  data_time: ..  memory: ..  <others>``;
        validation and test lines stop after the timings, as MMEngine's do.
        """
        _check_mode(mode, _MODES, "get_log_after_iter")
        by_epoch = self.resolve_by_epoch(runner)
        log_tag = _to_numbers(self._statistics(runner, mode, epoch_window=batch_idx + 1))
        tag = self._keyed(log_tag, mode)
        digits = self.num_digits
        lrs = [
            f"{name}: {log_tag.pop(name):.{digits}e}"
            for name in list(log_tag)
            if name.endswith("lr")
        ]
        head, epoch = self._iter_head(runner, batch_idx, mode, by_epoch)
        if epoch is not None:
            tag["epoch"] = epoch
        tag["iter"] = runner.iter + 1 if _has_train_loop(runner) else 0
        line = f"{head}  {' '.join(lrs)}  "
        hub = runner.message_hub
        if "time" in log_tag and "data_time" in log_tag and "eta" in hub.runtime_info:
            import datetime

            eta = datetime.timedelta(seconds=int(hub.get_info("eta")))
            line += (
                f"eta: {eta}  time: {log_tag.pop('time'):.{digits}f}  "
                f"data_time: {log_tag.pop('data_time'):.{digits}f}  "
            )
        memory = _peak_memory_mb(runner)
        if memory is not None:
            line += f"memory: {memory}  "
            tag["memory"] = memory
        if mode == "train":
            line += "  ".join(
                f"{name}: {_format(value, digits)}" for name, value in log_tag.items()
            )
        return tag, line

    def get_log_after_epoch(
        self, runner: Any, batch_idx: int, mode: str, with_non_scalar: bool = False
    ) -> tuple[dict[str, Any], str]:
        """The record and line that end a validation or test run.

        `batch_idx` is accepted as MMEngine's hook passes it (the length of the
        dataloader); the averages cover this evaluation's iterations whatever
        it is. The record has the metrics (their value of this evaluation, or
        their `custom_cfg` statistic), then ``time`` and ``data_time`` averaged
        over the evaluation; with `with_non_scalar`, the metrics that are not
        numbers (from ``runtime_info``) come before the timings. The line shows
        all of them, non-scalars always (tensors and arrays on lines of their
        own), timings last.
        """
        _check_mode(mode, ("val", "test"), "get_log_after_epoch")
        by_epoch = self.resolve_by_epoch(runner)
        length = len(_dataloader(runner, mode))
        head = _summary_head(mode, by_epoch, _val_epoch(runner), length)
        values = _to_numbers(self._statistics(runner, mode, epoch_window=length, epoch_end=True))
        scalars = {k: v for k, v in values.items() if k not in _TIME_KEYS}
        timings = {k: v for k, v in values.items() if k in _TIME_KEYS}
        prefix = f"{mode}/"
        non_scalars = {
            key[len(prefix) :]: value
            for key, value in runner.message_hub.runtime_info.items()
            if key.startswith(prefix)
        }
        scalars, non_scalars, timings = (
            self._keyed(part, mode) for part in (scalars, non_scalars, timings)
        )
        shown = {**scalars, **non_scalars, **timings}
        tag = {**scalars, **non_scalars, **timings} if with_non_scalar else {**scalars, **timings}
        return tag, _summary_line(head, shown, self.num_digits)

    def get_log_of_metrics(
        self, runner: Any, metrics: Mapping[str, Any], length: int | None = None
    ) -> tuple[dict[str, Any], str]:
        """The record and line of validation results handed over during training.

        MMCV's evaluation hooks leave their results in ``runner.log_buffer``
        at the end of a training epoch or iteration, which counts as done: the
        line names the epoch ``runner.epoch + 1``. `length` is the count of
        evaluated batches (MMCV's ``eval_iter_num``), shown when given. Values
        are the results' own (one-element tensors and numpy numbers as Python
        numbers); the record keeps every result, numbers or not.
        """
        by_epoch = self.resolve_by_epoch(runner)
        tag = self._keyed({key: _plain_metric(value) for key, value in metrics.items()}, "val")
        head = _summary_head("val", by_epoch, runner.epoch + 1, length)
        return tag, _summary_line(head, tag, self.num_digits)

    # ------------------------------------------------------------ reading the hub
    def _statistics(
        self, runner: Any, mode: str, epoch_window: int, epoch_end: bool = False
    ) -> dict[str, Any]:
        """Each ``{mode}/`` scalar's statistic by its short name; values may still be tensors.

        At the end of an evaluation (`epoch_end`) metrics show their latest
        value and the timings their mean over `epoch_window` iterations, unless
        `custom_cfg` says otherwise.
        """
        prefix = f"{mode}/"
        scalars = runner.message_hub.log_scalars  # one snapshot (a new dict) per record
        values: dict[str, Any] = {}
        for key, buffer in scalars.items():
            if not key.startswith(prefix):
                continue
            name = key[len(prefix) :]
            if epoch_end:
                smoothed = name in _TIME_KEYS
                window: int | None = epoch_window
            else:
                smoothed = self.mean_pattern.search(name) is not None
                window = self.window_size
            values[name] = buffer.mean(window) if smoothed else buffer.current()
        for cfg in self.custom_cfg:
            buffer = scalars.get(prefix + cfg["data_src"])
            if buffer is not None:
                name = cfg.get("log_name", cfg["data_src"])
                values[name] = _custom_statistic(buffer, cfg, epoch_window)
        return values

    def _keyed(self, tag: dict[str, Any], mode: str) -> dict[str, Any]:
        """`tag` with ``mode/`` before each name under `log_with_hierarchy`; a new dict."""
        if not self.log_with_hierarchy:
            return dict(tag)
        return {f"{mode}/{key}": value for key, value in tag.items()}

    # ------------------------------------------------------------ lines
    def _iter_head(
        self, runner: Any, batch_idx: int, mode: str, by_epoch: bool
    ) -> tuple[str, int | None]:
        """The line's head (``Epoch(train)  [1][ 5/20]``) and the epoch it names, if any."""
        if not by_epoch:
            if mode == "train":
                max_iters = runner.max_iters
                return (
                    f"Iter(train) [{str(runner.iter + 1).rjust(len(str(max_iters)))}/{max_iters}]",
                    None,
                )
            length = len(_dataloader(runner, mode))
            return f"Iter({mode}) [{str(batch_idx + 1).rjust(len(str(length)))}/{length}]", None
        length = len(_dataloader(runner, mode))
        position = f"[{str(batch_idx + 1).rjust(len(str(length)))}/{length}]"
        if mode == "test":
            return f"Epoch(test) {position}", None
        epoch = runner.epoch + 1 if mode == "train" else _val_epoch(runner)
        if _has_train_loop(runner):  # right-aligned to the width of max_epochs
            return (
                f"Epoch({mode}){f'[{epoch}]'.rjust(len(str(runner.max_epochs)) + 3)}{position}",
                epoch,
            )
        return f"Epoch({mode})[{epoch}]{position}", epoch

    def __repr__(self) -> str:
        return (
            f"LogProcessor(window_size={self.window_size}, by_epoch={self.by_epoch}, "
            f"num_digits={self.num_digits})"
        )


# ---------------------------------------------------------------- the runner
def _has_train_loop(runner: Any) -> bool:
    """Whether the runner's training loop exists (never building it).

    A runner that does not say (a stand-in without ``built_train_loop``) is
    taken to have one, so its ``epoch`` and ``iter`` are read.
    """
    return getattr(runner, "built_train_loop", True) is not None


def _val_epoch(runner: Any) -> int:
    """The epoch a validation follows: the epochs done, 0 without a train loop."""
    return runner.epoch if _has_train_loop(runner) else 0


def _summary_head(mode: str, by_epoch: bool, epoch: int, length: int | None) -> str:
    """``Epoch(val) [e][n/n]``, ``Epoch(test) [n/n]``, ``Iter(val) [n/n]``; [n/n] needs `length`."""
    count = "" if length is None else f"[{length}/{length}]"
    if not by_epoch:
        return f"Iter({mode}) {count}".rstrip()
    if mode == "val":
        return f"Epoch(val) [{epoch}]{count}"
    return f"Epoch(test) {count}".rstrip()


def _dataloader(runner: Any, mode: str) -> Any:
    return getattr(runner, f"{mode}_dataloader")


def _peak_memory_mb(runner: Any) -> int | None:
    """Peak CUDA memory since the last call, in MB, or None without CUDA in use.

    The device is the model's ``output_device`` (DDP's), else the current one.
    A process that never touched CUDA is not made to initialise it.
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    device = getattr(getattr(runner, "model", None), "output_device", None)
    peak = torch.cuda.max_memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    return int(peak) // (1024 * 1024)


# ---------------------------------------------------------------- values
def _custom_statistic(buffer: Any, cfg: Mapping[str, Any], epoch_window: int) -> Any:
    method = cfg.get("method_name", "mean")
    if method == "current":
        return buffer.current()
    window = cfg.get("window_size")
    if window == "global":
        return buffer.global_mean() if method == "mean" else getattr(buffer, method)()
    return getattr(buffer, method)(epoch_window if window == "epoch" else window)


def _to_numbers(values: dict[str, Any]) -> dict[str, Any]:
    """`values` with every tensor made a Python number, in one host transfer per device."""
    tensors = {key: value for key, value in values.items() if _is_tensor(value)}
    if not tensors:
        return {key: _plain(value) for key, value in values.items()}
    torch = sys.modules["torch"]
    by_device: dict[Any, list[str]] = {}
    for key, value in tensors.items():
        by_device.setdefault(value.device, []).append(key)
    converted: dict[str, Any] = {}
    for keys in by_device.values():
        numbers = torch.stack([tensors[key].reshape(()) for key in keys]).tolist()
        converted.update(zip(keys, numbers, strict=True))
    return {key: converted[key] if key in converted else _plain(v) for key, v in values.items()}


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _is_array(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return _is_tensor(value) or (numpy is not None and isinstance(value, numpy.ndarray))


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers; numbers as they are."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _plain_metric(value: Any) -> Any:
    """One-element tensors and arrays, and numpy numbers, as Python numbers; others as they are."""
    if _is_array(value) and value.reshape(-1).shape[0] != 1:
        return value
    return _plain(value)


def _format(value: Any, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _summary_line(head: str, values: Mapping[str, Any], digits: int) -> str:
    """``<head>    name: value  name: value...``, the line that ends an evaluation."""
    items = [f"{name}: {_format_summary(value, digits)}" for name, value in values.items()]
    return f"{head}    " + "  ".join(items)


def _format_summary(value: Any, digits: int) -> str:
    """As `_format`, with tensors and arrays on lines of their own."""
    return f"\n{value}\n" if _is_array(value) else _format(value, digits)


# ---------------------------------------------------------------- checks
def _check_mode(mode: str, modes: tuple[str, ...], method: str) -> None:
    if mode not in modes:
        raise ValueError(f"LogProcessor.{method} takes mode {' or '.join(modes)}, got {mode!r}")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"LogProcessor {name} must be an int >= {minimum}, got {value!r}")


def _checked_custom_cfg(custom_cfg: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Copies of the entries, each checked, and no `log_name` given twice (MMEngine's rules)."""
    if custom_cfg is None:
        return []
    if not isinstance(custom_cfg, (list, tuple)):
        raise TypeError(f"log_processor custom_cfg must be a list of dicts, got {custom_cfg!r}")
    checked: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, entry in enumerate(custom_cfg):
        if not hasattr(entry, "keys"):
            raise TypeError(f"log_processor custom_cfg[{index}] must be a dict, got {entry!r}")
        cfg = _checked_entry(dict(entry), f"log_processor custom_cfg[{index}] ({dict(entry)!r})")
        name = cfg.get("log_name", cfg["data_src"])
        if name in seen:
            raise ValueError(
                f"log_processor custom_cfg[{index}] logs {name!r} again: an earlier entry "
                "already logs (or replaces) it; give each entry a distinct log_name"
            )
        seen.add(name)
        checked.append(cfg)
    return checked


def _checked_entry(cfg: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = set(cfg) - _CUSTOM_KEYS
    if unknown:
        raise ValueError(
            f"{where}: unknown keys {sorted(unknown)}; "
            "the keys are data_src, method_name, window_size, log_name"
        )
    if not isinstance(cfg.get("data_src"), str):
        raise ValueError(f"{where}: data_src must name a scalar, e.g. data_src='loss'")
    if cfg.get("method_name", "mean") not in _METHODS:
        raise ValueError(f"{where}: method_name must be one of {', '.join(_METHODS)}")
    window = cfg.get("window_size")
    if window is None or window in ("epoch", "global"):
        return cfg
    if not isinstance(window, int) or isinstance(window, bool):
        raise TypeError(f"{where}: window_size must be an int, 'epoch' or 'global'")
    if window < 1:
        raise ValueError(f"{where}: window_size must be a positive int, 'epoch' or 'global'")
    return cfg


def _check_no_epoch_window(custom_cfg: list[dict[str, Any]]) -> None:
    for cfg in custom_cfg:
        if cfg.get("window_size") == "epoch":
            raise ValueError(
                f"log_processor custom_cfg entry {cfg!r} uses window_size='epoch', but this run "
                "counts in iterations; use an int window or 'global'"
            )
