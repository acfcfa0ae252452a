"""`LogProcessor`: turns the message hub's histories into log records and MMEngine-format lines.

It runs on the training thread, and only when a record is due: it reads the
windowed statistics (tensors stay tensors while they are read), moves every
value of the record to the host in one transfer, and formats the line. The
names, arguments and line format are MMEngine's, so configs and log-parsing
scripts carry over. One difference on purpose: ``by_epoch`` follows the train
loop even when set (a contradicting value is reported), because a processor
left at ``by_epoch=True`` for an iteration-based run prints a wrong
``Epoch(train) [1][...]`` line in MMEngine.
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

_METHODS = ("mean", "max", "min", "current")
_EPOCH_TIME_KEYS = ("time", "data_time")


@LOG_PROCESSORS.register_module()
class LogProcessor:
    """Build the record and the text line of a logging step from ``runner.message_hub``.

    Args:
        window_size: How many of the latest values the smoothed keys average.
        by_epoch: Whether lines count in epochs (``Epoch(train) [e][i/len]``) or
            iterations (``Iter(train) [i/max]``). None (the default) follows the
            train loop; a value that contradicts the loop is reported and the
            loop's choice is used. Runs without a train loop use True when None.
        custom_cfg: Extra statistics, a list of ``dict(data_src='loss',
            method_name='mean'|'max'|'min'|'current', window_size=10|'epoch'|
            'global', log_name='loss_global')``. Without `log_name` the statistic
            replaces the source key's default one.
        num_digits: Decimals of floats in the line (learning rates in ``e``
            notation with as many digits).
        log_with_hierarchy: Keep the ``train/``, ``val/`` prefixes in the record
            keys sent to backends (lines never show them).
        mean_pattern: Keys (with their ``train/`` prefix) matching this regular
            expression are averaged over `window_size`; others show their
            latest value.

    Raises:
        ValueError: for a non-positive window, a negative `num_digits`, an
            unknown method, a bad window, a duplicate `log_name`, or
            ``window_size='epoch'`` with ``by_epoch=False``; the message names
            the entry.
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
        self.window_size = window_size
        self.by_epoch = by_epoch
        self.num_digits = num_digits
        self.log_with_hierarchy = log_with_hierarchy
        self.mean_pattern = re.compile(mean_pattern)
        self.custom_cfg = [_checked_custom(dict(cfg), i) for i, cfg in enumerate(custom_cfg or ())]
        _check_unique_log_names(self.custom_cfg)
        # Sources whose custom statistic takes the place of the default one.
        self._replaced = {cfg["data_src"] for cfg in self.custom_cfg if "log_name" not in cfg}
        if by_epoch is False:
            _check_no_epoch_window(self.custom_cfg)
        self._reported_mismatch = False

    # ------------------------------------------------------------ the loop's unit
    def resolve_by_epoch(self, runner: Any) -> bool:
        """Whether this run counts in epochs: the train loop decides, else `by_epoch` (or True)."""
        loop = runner.built_train_loop
        if loop is None:
            return True if self.by_epoch is None else self.by_epoch
        loop_by_epoch = bool(getattr(loop, "by_epoch", True))
        if (
            self.by_epoch is not None
            and self.by_epoch != loop_by_epoch
            and not self._reported_mismatch
        ):
            self._reported_mismatch = True
            runner.logger.warning(
                "log_processor has by_epoch=%s but the train loop (%s) counts in %s; the log "
                "follows the loop. Remove by_epoch from log_processor to silence this.",
                self.by_epoch,
                type(loop).__name__,
                "epochs" if loop_by_epoch else "iterations",
            )
        if not loop_by_epoch:
            _check_no_epoch_window(self.custom_cfg)
        return loop_by_epoch

    # ------------------------------------------------------------ records
    def get_log_after_iter(
        self, runner: Any, batch_idx: int, mode: str
    ) -> tuple[dict[str, Any], str]:
        """The record and line of a logging iteration of `mode` (``'train'``, ``'val'``...).

        The training record has the smoothed scalars, ``epoch`` (when counting
        epochs), ``iter`` (the number of iterations done) and ``memory`` (MB,
        with CUDA).
        """
        by_epoch = self.resolve_by_epoch(runner)
        raw = self._statistics(runner, batch_idx, mode)
        tag: dict[str, Any] = _to_numbers(raw)
        head = self._iter_head(runner, batch_idx, mode, by_epoch)
        if mode == "train":
            if by_epoch:
                tag["epoch"] = runner.epoch + 1
            tag["iter"] = runner.iter + 1
            memory = _peak_memory_mb()
            if memory is not None:
                tag["memory"] = memory
        line = self._line(head, runner, tag, mode)
        return self._keyed(tag, mode), line

    def get_log_after_epoch(
        self, runner: Any, batch_idx: int, mode: str, with_non_scalar: bool = False
    ) -> tuple[dict[str, Any], str]:
        """The record and line that end a validation or test run (`batch_idx`: its last batch).

        Metrics show their value for this evaluation; ``time`` and ``data_time``
        are the means over its iterations and come last. With
        `with_non_scalar`, metrics that are not numbers are added to the line.
        """
        by_epoch = self.resolve_by_epoch(runner)
        prefix = f"{mode}/"
        hub = runner.message_hub
        raw: dict[str, Any] = {}
        timings: dict[str, Any] = {}
        for key, buffer in hub.log_scalars.items():
            if not key.startswith(prefix):
                continue
            name = key[len(prefix) :]
            if name in _EPOCH_TIME_KEYS:
                timings[name] = buffer.mean(batch_idx + 1)
            else:
                raw[name] = buffer.current()
        tag = _to_numbers({**raw, **timings})
        head = self._epoch_head(runner, batch_idx, mode, by_epoch)
        parts = [f"{name}: {_format(value, self.num_digits)}" for name, value in tag.items()]
        if with_non_scalar:
            for key, value in hub.runtime_info.items():
                if key.startswith(prefix) and key[len(prefix) :] not in tag:
                    parts.append(f"{key[len(prefix) :]}: {value}")
        return self._keyed(tag, mode), head + "    " + "  ".join(parts)

    # ------------------------------------------------------------ reading the hub
    def _statistics(self, runner: Any, batch_idx: int, mode: str) -> dict[str, Any]:
        """Each ``{mode}/`` scalar's statistic by its short name; values may still be tensors.

        Validation and test iterations show only the smoothed keys (times,
        losses): the metrics in the hub are those of the previous evaluation.
        """
        prefix = f"{mode}/"
        scalars = runner.message_hub.log_scalars  # one snapshot (a new dict) per record
        values: dict[str, Any] = {}
        for key, buffer in scalars.items():
            name = key[len(prefix) :]
            if not key.startswith(prefix) or name in self._replaced:
                continue
            if self.mean_pattern.match(key):
                values[name] = buffer.mean(self.window_size)
            elif mode == "train":  # evaluation metrics belong to the epoch's line
                values[name] = buffer.current()
        for cfg in self.custom_cfg:
            buffer = scalars.get(prefix + cfg["data_src"])
            if buffer is None:
                continue
            name = cfg.get("log_name", cfg["data_src"])
            values[name] = _custom_statistic(buffer, cfg, batch_idx, runner)
        return values

    def _keyed(self, tag: dict[str, Any], mode: str) -> dict[str, Any]:
        if not self.log_with_hierarchy:
            return tag
        counters = ("epoch", "iter", "memory")
        return {key if key in counters else f"{mode}/{key}": value for key, value in tag.items()}

    # ------------------------------------------------------------ lines
    def _iter_head(self, runner: Any, batch_idx: int, mode: str, by_epoch: bool) -> str:
        if mode == "train" and not by_epoch:
            max_iters = runner.max_iters
            return f"Iter(train) [{str(runner.iter + 1).rjust(len(str(max_iters)))}/{max_iters}]"
        length = len(_dataloader(runner, mode))
        position = f"[{str(batch_idx + 1).rjust(len(str(length)))}/{length}]"
        if not by_epoch:
            return f"Iter({mode}) {position}"
        if mode == "test":
            return f"Epoch(test) {position}"
        return f"Epoch({mode}){self._epoch_tag(runner, mode)}{position}"

    def _epoch_head(self, runner: Any, batch_idx: int, mode: str, by_epoch: bool) -> str:
        length = len(_dataloader(runner, mode))
        if not by_epoch:
            return f"Iter({mode}) [{length}/{length}]"
        if mode == "test":
            return f"Epoch(test) [{length}/{length}]"
        return f"Epoch({mode}){self._epoch_tag(runner, mode)}[{length}/{length}]"

    @staticmethod
    def _epoch_tag(runner: Any, mode: str) -> str:
        """``[e]`` right-aligned to the width of max_epochs, as MMEngine aligns it."""
        epoch = runner.epoch + 1 if mode == "train" else runner.epoch
        if runner.built_train_loop is None:
            return f" [{epoch}]"
        return f"[{epoch}]".rjust(len(str(runner.max_epochs)) + 3)

    def _line(self, head: str, runner: Any, tag: Mapping[str, Any], mode: str) -> str:
        digits = self.num_digits
        parts = [head]
        shown = {"epoch", "iter"}
        for name, value in tag.items():
            if name.endswith("lr"):
                parts.append(f"{name}: {value:.{digits}e}")
                shown.add(name)
        if "time" in tag:
            eta = runner.message_hub.get_info("eta")
            if eta is not None:
                import datetime

                parts.append(f"eta: {datetime.timedelta(seconds=int(eta))}")
            parts.append(f"time: {tag['time']:.{digits}f}")
            shown.add("time")
            if "data_time" in tag:
                parts.append(f"data_time: {tag['data_time']:.{digits}f}")
                shown.add("data_time")
        if "memory" in tag:
            parts.append(f"memory: {tag['memory']}")
            shown.add("memory")
        parts.extend(
            f"{name}: {_format(value, digits)}" for name, value in tag.items() if name not in shown
        )
        return "  ".join(parts)

    def __repr__(self) -> str:
        return (
            f"LogProcessor(window_size={self.window_size}, by_epoch={self.by_epoch}, "
            f"num_digits={self.num_digits})"
        )


# ---------------------------------------------------------------- helpers
def _custom_statistic(buffer: Any, cfg: Mapping[str, Any], batch_idx: int, runner: Any) -> Any:
    window = cfg.get("window_size", 10)
    method = cfg.get("method_name", "mean")
    if window == "global":
        if method == "mean":
            return buffer.global_mean()
        return buffer.current() if method == "current" else getattr(buffer, method)()
    size = batch_idx + 1 if window == "epoch" else window
    return buffer.current() if method == "current" else getattr(buffer, method)(size)


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


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers; numbers as they are."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _format(value: Any, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _peak_memory_mb() -> int | None:
    """Peak CUDA memory since the last call, in MB, or None without CUDA in use."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    peak = torch.cuda.max_memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    return int(peak) // (1024 * 1024)


def _dataloader(runner: Any, mode: str) -> Any:
    return getattr(runner, f"{mode}_dataloader")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"LogProcessor {name} must be an int >= {minimum}, got {value!r}")


def _checked_custom(cfg: dict[str, Any], index: int) -> dict[str, Any]:
    where = f"log_processor custom_cfg[{index}] ({cfg!r})"
    unknown = set(cfg) - {"data_src", "method_name", "window_size", "log_name"}
    if unknown:
        raise ValueError(
            f"{where}: unknown keys {sorted(unknown)}; "
            "the keys are data_src, method_name, window_size, log_name"
        )
    if not isinstance(cfg.get("data_src"), str):
        raise ValueError(f"{where}: data_src must name a scalar, e.g. data_src='loss'")
    method = cfg.get("method_name", "mean")
    if method not in _METHODS:
        raise ValueError(f"{where}: method_name must be one of {', '.join(_METHODS)}")
    window = cfg.get("window_size", 10)
    if window not in ("epoch", "global") and not (
        isinstance(window, int) and not isinstance(window, bool) and window > 0
    ):
        raise ValueError(f"{where}: window_size must be a positive int, 'epoch' or 'global'")
    return cfg


def _check_unique_log_names(custom_cfg: list[dict[str, Any]]) -> None:
    names = [cfg.get("log_name", cfg["data_src"]) for cfg in custom_cfg]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(
            f"log_processor custom_cfg logs {', '.join(map(repr, duplicates))} more than once; "
            "give each entry a distinct log_name"
        )


def _check_no_epoch_window(custom_cfg: list[dict[str, Any]]) -> None:
    for cfg in custom_cfg:
        if cfg.get("window_size") == "epoch":
            raise ValueError(
                f"log_processor custom_cfg entry {cfg!r} uses window_size='epoch', but this run "
                "counts in iterations; use an int window or 'global'"
            )
