"""Runtime information of a run: windowed scalar histories (`HistoryBuffer`) and the `MessageHub`.

Hooks write losses, timings and learning rates into the hub every iteration; the
logger reads windowed statistics of them every few iterations. Writing is O(1)
and never moves a tensor to the host, so a CUDA loss costs no synchronisation:
tensors are stored detached, on their device, and reads return tensors too, so a
logger can gather many reads and transfer them in one ``.tolist()``.

Windowed means follow MMEngine: ``mean(n) = sum(values[-n:]) / sum(counts[-n:])``,
so a value logged with ``count=k`` is taken to be the sum over `k` samples.
`HistoryBuffer.global_mean` applies the same rule to running totals of the
whole run, which stay exact however many values the window has dropped.
"""

from __future__ import annotations

import struct
import sys
from collections import deque
from itertools import islice

from ..utils import ManagerMixin, check_positive_int

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

__all__ = ["HistoryBuffer", "MessageHub"]


class HistoryBuffer:
    """The last `max_length` values of one scalar, with running totals over the whole run.

    Values are stored as given: a torch tensor is detached (a one-element tensor
    is viewed as 0-d) and stays on its device; a number stays a Python number.
    numpy scalars become Python numbers.

    Reads over a window that holds a tensor return a 0-d tensor on that device
    (numbers in the window are converted with ``torch.as_tensor``); otherwise
    they return a Python float. Reading an empty buffer raises ValueError; a
    `window_size` larger than the window reads the whole window.

    Args:
        log_history: Initial values, oldest first.
        count_history: The count of each initial value; as long as `log_history`.
        max_length: How many of the latest values the window keeps.

    Example:
        >>> buffer = HistoryBuffer(max_length=3)
        >>> for loss in (4, 3, 2, 1):
        ...     buffer.update(loss)
        >>> buffer.data, buffer.mean(), buffer.global_mean()
        (([3, 2, 1], [1, 1, 1]), 2.0, 2.5)
    """

    __slots__ = ("_count", "_counts", "_fresh", "_pending", "_saved", "_sum", "_values")

    def __init__(
        self,
        log_history: Iterable[Any] = (),
        count_history: Iterable[int] = (),
        max_length: int = 1000,
    ) -> None:
        check_positive_int(max_length, "max_length")
        values = [_scalar(value) for value in log_history]
        counts = list(count_history)
        if len(values) != len(counts):
            raise ValueError(
                f"log_history has {len(values)} values but count_history has {len(counts)} "
                "counts; give one count per value"
            )
        self._values: deque[Any] = deque(values, maxlen=max_length)
        self._counts: deque[int] = deque(counts, maxlen=max_length)
        self._sum: Any = sum(values, 0)
        self._count: int = sum(counts, 0)
        self._fresh = len(values)  # the latest values, which may still be tensors
        self._pending: list[Any] = []  # tensors logged but not yet added to `_sum`
        self._saved: tuple[Any, Any] = ([], [])  # the window as the last `state_dict` packed it

    def update(self, value: Any, count: int = 1) -> None:
        """Append `value` logged over `count` samples, in O(1) and without a host sync.

        Args:
            value: A number, a numpy scalar, or a one-element torch tensor.
            count: How many samples `value` stands for.

        Raises:
            TypeError: for any other type of value.
            ValueError: for a tensor or array with more than one element.
        """
        kind = type(value)
        if kind is float or kind is int:
            self._sum = self._sum + value
        else:
            if kind is not _tensor_type or value.ndim or value.requires_grad:
                value = _scalar(value)  # all but a detached 0-d tensor, the usual loss
            if type(value) is float or type(value) is int:  # a numpy scalar
                self._sum = self._sum + value
            else:  # a tensor: added to the total with the others, a window's worth at a time
                pending = self._pending
                pending.append(value)
                if len(pending) >= self._values.maxlen:  # type: ignore[operator]  # always set
                    self._add_pending()
        self._values.append(value)
        self._counts.append(count)
        self._count += count
        self._fresh += 1

    def _add_pending(self) -> None:
        """Add the pending tensors to the running total, in one stack and sum on their device."""
        if self._pending:
            self._sum = self._sum + _stack(self._pending).sum()
            self._pending.clear()

    # ------------------------------------------------------------ reads
    def mean(self, window_size: int | None = None) -> Any:
        """Return the mean of the latest `window_size` values (all in the window if None)."""
        values = self._latest(self._values, window_size)
        total = _stack(values).sum() if _has_tensor(values) else sum(values)
        return _as_read(total / sum(self._latest(self._counts, window_size)))

    def max(self, window_size: int | None = None) -> Any:
        """Return the largest of the latest `window_size` values (all in the window if None)."""
        values = self._latest(self._values, window_size)
        return _stack(values).max() if _has_tensor(values) else float(max(values))

    def min(self, window_size: int | None = None) -> Any:
        """Return the smallest of the latest `window_size` values (all in the window if None)."""
        values = self._latest(self._values, window_size)
        return _stack(values).min() if _has_tensor(values) else float(min(values))

    def current(self) -> Any:
        """Return the latest value."""
        return _as_read(self._latest(self._values, 1)[0])

    def global_mean(self) -> Any:
        """Return the mean over every value ever logged, including those the window dropped."""
        if not self._count:
            raise ValueError("HistoryBuffer has no values (or only zero counts) to average yet")
        self._add_pending()
        return _as_read(self._sum / self._count)

    def _latest(self, history: deque[Any], window_size: int | None) -> list[Any]:
        """The latest `window_size` items of `history`, oldest first; O(window_size)."""
        if window_size is not None:
            check_positive_int(window_size, "window_size")
        if not history:
            raise ValueError("HistoryBuffer is empty: update it before reading statistics")
        if window_size is None or window_size >= len(history):
            return list(history)
        return _last(history, window_size)

    # ------------------------------------------------------------ inspection
    @property
    def data(self) -> tuple[list[Any], list[int]]:
        """The values and counts in the window, oldest first."""
        return list(self._values), list(self._counts)

    @property
    def max_length(self) -> int:
        """How many of the latest values the window keeps."""
        return self._values.maxlen or 0

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"HistoryBuffer({len(self._values)} values, max_length={self.max_length})"

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Return the window and the running totals, for a `torch.load(weights_only=True)`.

        Tensors are moved to the host here (see `_host_numbers`) and the window
        keeps their numbers from then on, so the next checkpoint moves only the
        values logged since this one; the pending ones are added to the total
        as numbers. The window's values and counts are saved as two ``(kind,
        text)`` pairs holding 64-bit little-endian numbers, or ``(kind, text,
        length)`` for one number throughout (see `_packed`), and only the new
        values are packed again; the totals are Python numbers.
        """
        fresh = min(self._fresh, len(self._values))
        values, pending_total = _settled(self._values, fresh, len(self._pending))
        self._pending.clear()
        self._sum = _number(self._sum) + pending_total
        counts, _ = _settled(self._counts, fresh, 0)
        self._count = _number(self._count)
        self._fresh = 0
        saved_values, saved_counts = self._saved
        self._saved = (  # the totals are ints only if every value and count was
            _repacked(saved_values, self._values, values, type(self._sum) is int),
            _repacked(saved_counts, self._counts, counts, type(self._count) is int),
        )
        return {
            "log_history": self._saved[0],
            "count_history": self._saved[1],
            "max_length": self.max_length,
            "global_sum": self._sum,
            "global_count": self._count,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the window and the running totals saved by `state_dict`."""
        restored = HistoryBuffer(
            _unpacked(state_dict["log_history"]),
            _unpacked(state_dict["count_history"]),
            state_dict["max_length"],
        )
        self._values, self._counts = restored._values, restored._counts
        self._fresh = 0
        self._pending = []
        self._saved = ([], [])
        self._sum, self._count = state_dict["global_sum"], state_dict["global_count"]


class MessageHub(ManagerMixin):
    """Scalars and runtime information shared by the runner, its hooks and its loggers.

    Scalars (losses, times, learning rates) live in one `HistoryBuffer` per key;
    runtime information (``epoch``, ``iter``, ``best_score``, ...) is a value per
    key. Keys updated with ``resumed=True`` (the default) go into `state_dict`,
    so a resumed run continues their history.

    Hubs are shared by name: `get_instance` returns the hub of a name, creating
    it on first use, and `get_current_instance` the one most recently created.
    Constructing a hub directly does not register it.

    Args:
        name: The name of this hub.
        log_scalars: Initial scalar histories by key.
        runtime_info: Initial runtime information by key.
        resumed_keys: Whether each key is saved by `state_dict`; keys given in
            `log_scalars` or `runtime_info` without an entry here are saved.

    Example:
        >>> hub = MessageHub.get_instance('demo')
        >>> hub.update_scalars({'train/loss': 0.5, 'train/acc': dict(value=30, count=40)})
        >>> hub.update_info('iter', 1)
        >>> hub.get_scalar('train/acc').mean(), hub.get_info('iter')
        (0.75, 1)
    """

    def __init__(
        self,
        name: str = "",
        log_scalars: dict[str, HistoryBuffer] | None = None,
        runtime_info: dict[str, Any] | None = None,
        resumed_keys: dict[str, bool] | None = None,
    ) -> None:
        super().__init__(name)
        self._log_scalars: dict[str, HistoryBuffer] = {}
        self._runtime_info: dict[str, Any] = dict(runtime_info or {})
        for key, buffer in (log_scalars or {}).items():
            if not isinstance(buffer, HistoryBuffer):
                raise TypeError(
                    f"log_scalars[{key!r}] must be a HistoryBuffer, got {type(buffer).__name__}"
                )
            self._log_scalars[key] = buffer
        self._resumed_keys: dict[str, bool] = dict.fromkeys(
            [*self._log_scalars, *self._runtime_info], True
        )
        self._resumed_keys.update(resumed_keys or {})

    # ------------------------------------------------------------ named instances
    @classmethod
    def get_current_instance(cls) -> MessageHub:
        """Return the hub most recently created by `get_instance`.

        When there is none yet, a hub named ``'hooks_core'`` is created, so code
        outside a runner can always log.
        """
        if cls._current is None:
            return cls.get_instance("hooks_core")
        return super().get_current_instance()

    # ------------------------------------------------------------ scalars
    def update_scalar(self, key: str, value: Any, count: int = 1, resumed: bool = True) -> None:
        """Append `value` to the history of `key`, without a host sync (see `HistoryBuffer`).

        Args:
            key: The scalar's name, e.g. ``'train/loss'``.
            value: A number, a numpy scalar, or a one-element tensor (kept on its device).
            count: How many samples `value` stands for.
            resumed: Whether `state_dict` saves this key; the latest call decides.

        Raises:
            TypeError: for a value of another type; the message names `key`.
            ValueError: for a tensor with more than one element; the message names `key`.
        """
        buffer = self._log_scalars.get(key)
        if buffer is None:
            buffer = self._log_scalars[key] = HistoryBuffer()
        try:
            buffer.update(value, count)
        except (TypeError, ValueError) as err:
            if not buffer:
                del self._log_scalars[key]
            raise type(err)(f"scalar {key!r}: {err}") from None
        self._resumed_keys[key] = resumed

    def update_scalars(self, log_dict: dict[str, Any], resumed: bool = True) -> None:
        """Update several scalars; a value may be ``dict(value=..., count=...)``.

        Raises:
            TypeError: if `log_dict` is not a dict, or for a value of the wrong type.
            KeyError: for a dict value without a ``'value'`` key.
            ValueError: for a tensor with more than one element.
        """
        if not isinstance(log_dict, dict):
            raise TypeError(f"update_scalars expects a dict, got {type(log_dict).__name__}")
        for key, value in log_dict.items():
            if isinstance(value, dict):
                if "value" not in value:
                    raise KeyError(
                        f"scalar {key!r}: a dict value needs a 'value' key (and optionally "
                        f"'count'), got keys {sorted(value)}"
                    )
                self.update_scalar(key, value["value"], value.get("count", 1), resumed)
            else:
                self.update_scalar(key, value, 1, resumed)

    def get_scalar(self, key: str) -> HistoryBuffer:
        """Return the history of scalar `key`.

        Raises:
            KeyError: naming `key` and the scalars that exist.
        """
        try:
            return self._log_scalars[key]
        except KeyError:
            available = ", ".join(repr(k) for k in sorted(self._log_scalars)) or "none yet"
            raise KeyError(
                f"no scalar {key!r} in message hub {self.instance_name!r}; available: {available}"
            ) from None

    @property
    def log_scalars(self) -> dict[str, HistoryBuffer]:
        """The scalar histories by key (a new dict; the buffers are the hub's own)."""
        return dict(self._log_scalars)

    # ------------------------------------------------------------ runtime info
    def update_info(self, key: str, value: Any, resumed: bool = True) -> None:
        """Set runtime information `key` to `value` (stored as is, not copied).

        Args:
            key: The name, e.g. ``'epoch'``.
            value: Any object; to be resumed it must be made of plain Python values,
                numpy values or tensors (see `state_dict`).
            resumed: Whether `state_dict` saves this key; the latest call decides.
        """
        self._runtime_info[key] = value
        self._resumed_keys[key] = resumed

    def update_info_dict(self, info_dict: dict[str, Any], resumed: bool = True) -> None:
        """Set several pieces of runtime information at once.

        Raises:
            TypeError: if `info_dict` is not a dict.
        """
        if not isinstance(info_dict, dict):
            raise TypeError(f"update_info_dict expects a dict, got {type(info_dict).__name__}")
        for key, value in info_dict.items():
            self.update_info(key, value, resumed)

    def get_info(self, key: str, default: Any = None) -> Any:
        """Return runtime information `key`, or `default` if it was never set."""
        return self._runtime_info.get(key, default)

    def pop_info(self, key: str, default: Any = None) -> Any:
        """Remove runtime information `key` and return it, or `default` if it was never set."""
        self._resumed_keys.pop(key, None)
        return self._runtime_info.pop(key, default)

    @property
    def runtime_info(self) -> dict[str, Any]:
        """The runtime information by key (a new dict)."""
        return dict(self._runtime_info)

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Return the resumed keys as plain Python values, for a checkpoint.

        Tensors and numpy values become numbers or lists, so the result loads with
        ``torch.load(weights_only=True)``. Keys updated with ``resumed=False`` are left out.

        Raises:
            TypeError: if resumed runtime information holds another kind of object;
                the message names the key.
        """
        return {
            "log_scalars": {
                key: buffer.state_dict()
                for key, buffer in self._log_scalars.items()
                if self._resumed_keys.get(key, True)
            },
            "runtime_info": {
                key: _plain(value, key)
                for key, value in self._runtime_info.items()
                if self._resumed_keys.get(key, True)
            },
            "resumed_keys": {key: True for key, resumed in self._resumed_keys.items() if resumed},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the keys saved by `state_dict`; other keys of this hub are kept."""
        for key, buffer_state in state_dict.get("log_scalars", {}).items():
            buffer = HistoryBuffer()
            buffer.load_state_dict(buffer_state)
            self._log_scalars[key] = buffer
            self._resumed_keys[key] = True
        for key, value in state_dict.get("runtime_info", {}).items():
            self._runtime_info[key] = value
            self._resumed_keys[key] = True

    def __repr__(self) -> str:
        return (
            f"MessageHub({self.instance_name!r}, {len(self._log_scalars)} scalars, "
            f"{len(self._runtime_info)} info)"
        )


# ---------------------------------------------------------------- value helpers
def _scalar(value: Any) -> Any:
    """Return `value` as a detached 0-d tensor or a Python int/float, without a host sync."""
    torch = sys.modules.get("torch")  # a tensor exists only once torch is imported
    if torch is not None and isinstance(value, torch.Tensor):
        global _tensor_type
        _tensor_type = torch.Tensor
        if value.ndim:  # a loss is usually 0-d already: one check instead of three calls
            if value.numel() != 1:
                raise ValueError(f"expected a scalar, got a tensor of shape {tuple(value.shape)}")
            value = value.reshape(())
        return value.detach() if value.requires_grad else value
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
        if value.size != 1:
            raise ValueError(f"expected a scalar, got an array of shape {value.shape}")
        value = value.item()
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    raise TypeError(
        f"expected a number or a one-element tensor, got {type(value).__name__}: {value!r}"
    )


# torch.Tensor once `_scalar` has seen a tensor (torch is not imported here): `update` then
# takes a detached 0-d tensor as it is, without the call.
_tensor_type: Any = None


def _has_tensor(values: list[Any]) -> bool:
    """Whether `values` (already normalised by `_scalar`) holds a tensor."""
    return not _NUMBER_TYPES.issuperset(map(type, values))  # one C-level pass


_NUMBER_TYPES = frozenset({float, int})


def _stack(values: list[Any]) -> Any:
    """Stack tensors and numbers into one tensor on the device of the first tensor."""
    torch = sys.modules["torch"]
    try:  # tensors on one device, the usual window of losses: no conversion per value
        return torch.stack(values)
    except (TypeError, RuntimeError):  # numbers among them, or tensors on several devices
        device = next(value.device for value in values if isinstance(value, torch.Tensor))
        return torch.stack([torch.as_tensor(value, device=device) for value in values])


def _as_read(value: Any) -> Any:
    """A tensor as is, a number as a Python float."""
    return float(value) if isinstance(value, (int, float)) else value


def _host_numbers(tensors: list[Any]) -> list[Any]:
    """The Python numbers of one-element tensors: read one by one on the CPU, else in one transfer.

    On the CPU reading each costs half of stacking them; on a device each read
    would wait for it, so they are stacked and moved to the host together. The
    first tensor decides (a window's losses share a device): the numbers are the
    same either way.
    """
    if tensors[0].is_cpu:
        return [tensor.item() for tensor in tensors]
    numbers: list[Any] = _stack(tensors).tolist()
    return numbers


def _number(total: Any) -> Any:
    """A running total as a Python number (it is a tensor after `global_mean` added tensors)."""
    return total if type(total) is int or type(total) is float else total.item()


def _settled(window: deque[Any], fresh: int, pending: int) -> tuple[list[Any], Any]:
    """The `fresh` latest entries of `window` as numbers, and the sum of the last `pending` tensors.

    The tensors among the entries are replaced in `window` by their numbers;
    the last `pending` of them are those not yet in the running total. A window
    of numbers (times, learning rates, counts) is returned as it is, without a
    pass over it.
    """
    latest = _last(window, fresh)
    if not _has_tensor(latest):
        return latest, 0
    where = [i for i, value in enumerate(latest) if type(value) not in _NUMBER_TYPES]
    numbers = _host_numbers([latest[i] for i in where])
    for i, number in zip(where, numbers, strict=True):
        latest[i] = window[i - fresh] = number
    return latest, sum(numbers[len(numbers) - pending :]) if pending else 0


def _last(window: deque[Any], count: int) -> list[Any]:
    """The last `count` entries of `window`, oldest first, without walking the rest."""
    latest = list(islice(reversed(window), count))
    latest.reverse()
    return latest


# How `_packed` stores a window: its kind, and the struct code of one (little-endian) number.
_PACKED = {"int64": "q", "float64": "d"}


def _packed(numbers: deque[Any], exact: bool) -> tuple[Any, ...] | list[Any]:
    """`numbers` as ``('int64' if exact else 'float64', text)``; a list if they do not fit.

    The text is the numbers' little-endian bytes decoded as latin-1 (one character
    per byte). A list costs a pickling step per number and a tensor its own
    record in the archive; and torch pickles with protocol 2, which turns a
    `bytes` object into this same text plus a call to rebuild it, about 3x slower.
    A window holding one number throughout (the counts, mostly all ones; a
    learning rate between milestones) is ``(kind, text of that number, length)``.
    """
    kind = "int64" if exact else "float64"
    code = _PACKED[kind]
    try:
        if numbers and numbers.count(numbers[0]) == len(numbers):
            return kind, struct.pack(f"<{code}", numbers[0]).decode("latin-1"), len(numbers)
        data = struct.pack(f"<{len(numbers)}{code}", *numbers)
    except struct.error:  # an int beyond 64 bits: keep it exact
        return list(numbers)
    return kind, data.decode("latin-1")


def _repacked(
    saved: tuple[Any, ...] | list[Any], window: deque[Any], fresh: list[Any], exact: bool
) -> tuple[Any, ...] | list[Any]:
    """`_packed(window, exact)`, given `saved`, the window's packing before `fresh` was appended.

    The window drops its oldest values as new ones arrive, so its packing is the
    end of the saved text followed by the fresh values': only those are packed.
    A window of one number stays one while the fresh values are that number.
    """
    kind = "int64" if exact else "float64"
    if not (isinstance(saved, tuple) and saved[0] == kind):
        return _packed(window, exact)
    if len(saved) == 3:
        if fresh.count(_unpacked(saved[:2])[0]) == len(fresh):
            return kind, saved[1], len(window)
        return _packed(window, exact)
    if fresh and fresh.count(fresh[0]) == len(fresh) and window.count(fresh[0]) == len(window):
        return _packed(window, exact)  # the distinct values have left the window
    try:
        data = struct.pack(f"<{len(fresh)}{_PACKED[kind]}", *fresh)
    except struct.error:  # an int beyond 64 bits: keep it exact
        return list(window)
    text = saved[1] + data.decode("latin-1")
    return kind, text[len(text) - 8 * len(window) :]


def _unpacked(numbers: Any) -> list[Any]:
    """The Python numbers of a window saved by `_packed` (or, in older checkpoints, a tensor)."""
    packed = isinstance(numbers, tuple) and len(numbers) in (2, 3)
    if packed and isinstance(numbers[1], (str, bytes)):
        kind, text = numbers[:2]
        data = text.encode("latin-1") if isinstance(text, str) else text
        found = list(struct.unpack(f"<{len(data) // 8}{_PACKED[kind]}", data))
        return found * numbers[2] if len(numbers) == 3 else found
    return list(numbers) if isinstance(numbers, (list, tuple)) else numbers.tolist()


def _plain(value: Any, key: str) -> Any:
    """A copy of `value` made of plain Python values that ``weights_only`` loading accepts."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if isinstance(value, dict):
        return {k: _plain(v, key) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_plain(v, key) for v in value]
        return items if isinstance(value, list) else tuple(items)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.tolist()  # a number for a 0-d tensor
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
        return value.tolist()
    raise TypeError(
        f"runtime info {key!r} holds a {type(value).__name__}, which a checkpoint loaded with "
        "torch.load(weights_only=True) cannot restore; store plain Python values (numbers, "
        "strings, lists, dicts) or update it with resumed=False"
    )
