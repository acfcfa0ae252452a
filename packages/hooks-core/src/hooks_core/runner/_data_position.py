"""Where the training data stands within its pass, and how a resumed run continues from there.

A run resumed mid-epoch must see the batches the uninterrupted run would have
seen, in the same order and with the same random draws. Each kind of
dataloader gets there its own way:

- ``skip``: a sampler with ``skip()`` (`DefaultSampler`, `InfiniteSampler`)
  recomputes its order from the seed and the epoch and starts after the batches
  already trained on. Nothing is saved.
- ``state_dict``: a dataloader with ``state_dict()`` and ``load_state_dict()``
  (torchdata's ``StatefulDataLoader``) saves its position, and loads it back.
- ``rng_states``: a plain ``torch.utils.data.DataLoader`` keeps the random states
  of the moment its pass's iterator was made (python's, numpy's, torch's, and
  every ``torch.Generator`` of the loader and its samplers). On resume they are
  set again, a twin loader over the same dataset makes the pass's iterator while
  passing over the indices of the batches already trained on (none is loaded),
  and then the checkpoint's own states are set, so every later draw repeats.

Anything else resumes with one `RuntimeWarning` saying why its data may
differ, how the resume gets to the position (it loads and discards the batches
already trained on; for a plain DataLoader whose sampler has a random generator
of its own, it passes over their indices) and what to use instead.

Randomness drawn inside worker processes cannot repeat after a ``rng_states``
resume: the workers are seeded as in the original pass, but the next batch goes
to the first worker, whose generators have drawn nothing yet, not to the one
that loaded it originally. Nothing here runs per batch.
"""

from __future__ import annotations

import collections
import itertools
import operator
import random
import warnings

from ..checkpoint._rng import get_rng_state, set_rng_state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any

__all__ = ["DataPosition", "data_state", "load_data_state"]

_SKIP, _STATEFUL, _RNG_STATES, _REPLAY = "skip", "state_dict", "rng_states", "replay"
_PASS_START_KEYS = ("pass_rng_state", "pass_generators", "base_seed")
_NO_STATE = (
    "the checkpoint holds no data state for this pass of this dataloader (it was written "
    "before hooks-core saved one, by a run whose dataloader was of another kind, or before "
    "the pass began)"
)


def data_state(runner: Any) -> dict[str, Any]:
    """The checkpoint's ``'dataloader'`` entry: the data state of `runner`'s train loop.

    It is {} when the loop keeps none or was never built (reading
    ``built_train_loop`` builds nothing).
    """
    state = getattr(getattr(runner, "built_train_loop", None), "data_state", None)
    return {} if state is None else dict(state())


def load_data_state(loop: Any, checkpoint: dict[str, Any]) -> None:
    """Hand `checkpoint`'s data state to `loop`; a file without one resumes as before."""
    load = getattr(loop, "load_data_state", None)
    if load is not None:
        load(checkpoint.get("dataloader"), checkpoint.get("rng_state"))


class DataPosition:
    """The training loop's data position: which pass is running, and what it started from.

    The loop makes every pass's iterator with `batches`; a checkpoint stores
    `state_dict` and a resumed run hands it back with `load_state_dict`.
    """

    __slots__ = ("_loaded", "_order", "_pass_start", "_started")

    def __init__(self) -> None:
        self._order: int | None = None  # the pass whose iterator was made last
        self._pass_start: dict[str, Any] = {}  # the random states that pass started from
        self._loaded: tuple[dict[str, Any], Any] | None = None  # a checkpoint's, until used
        self._started = False  # a pass has begun in this run, here or before the resume

    def state_dict(self, dataloader: Any) -> dict[str, Any]:
        """What a checkpoint needs to continue `dataloader` exactly ({} when nothing is needed).

        It holds only tensors, numbers, strings, lists, tuples and dicts, so a
        checkpoint stays readable with ``torch.load(weights_only=True)``.
        """
        approach, _ = _approach(dataloader)
        if approach not in (_STATEFUL, _RNG_STATES):
            return {}
        if self._order is None and self._loaded is not None:  # saved before the resumed pass
            return self._loaded[0]
        state: dict[str, Any] = {"kind": approach, "generators": _generator_states(dataloader)}
        if self._order is not None:
            state["pass"] = self._order
            if approach == _STATEFUL:
                state["state"] = dataloader.state_dict()
            else:
                state.update(self._pass_start)
        return state

    def load_state_dict(
        self, dataloader: Any, state: dict[str, Any] | None, rng_state: Any
    ) -> None:
        """Take a checkpoint's data `state` and `rng_state` (its random states at that iteration).

        The generators of `dataloader` are set at once, so a resume at a pass's
        end draws the next order as the uninterrupted run did; the rest waits
        for the pass it belongs to. A `state` that is None or empty (an older
        checkpoint), or was saved for another kind of dataloader, is ignored;
        `batches` warns if the resumed pass needed it.
        """
        self._loaded = None
        if not state or state.get("kind") != _approach(dataloader)[0]:
            return
        missing = _set_generator_states(dataloader, state["generators"])
        if missing:
            warnings.warn(
                f"resuming, the training data may come in another order than in the "
                f"uninterrupted run: the checkpoint holds the state of random generators of "
                f"the dataloader ({', '.join(map(repr, missing))}) that this dataloader "
                f"({type(dataloader).__name__}) does not have; build it as the checkpointed "
                "run did",
                RuntimeWarning,
                stacklevel=2,
            )
        self._started = "pass" in state
        self._loaded = (state, rng_state)

    def batches(self, dataloader: Any, order: int, start: int) -> Iterator[Any]:
        """An iterator over pass `order` (an epoch, or a pass of an iteration-based run).

        With `start` 0 it is a new pass; otherwise it continues after the
        `start` batches a resumed run already trained on.
        """
        approach, caveat = _approach(dataloader)
        loaded, self._loaded = self._loaded, None  # a checkpoint's state is for one pass
        if start == 0:
            return self._begin(dataloader, approach, order)
        if start >= len(dataloader):  # stopped after the pass's last batch
            return iter(())
        if approach == _SKIP:
            dataloader.sampler.skip(start * dataloader.batch_size)
            return iter(dataloader)
        state, rng_state = loaded or ({}, None)
        if state.get("kind") == approach and state.get("pass") == order:
            if caveat is not None:
                _warn_inexact(caveat, start, "passes over, by their indices alone,")
            return self._continue(dataloader, approach, order, start, state, rng_state)
        _warn_inexact(caveat or _NO_STATE, start, "loads and discards")
        return itertools.islice(iter(dataloader), start, None)

    def _begin(self, dataloader: Any, approach: str, order: int) -> Iterator[Any]:
        """Start a pass; for a plain DataLoader, note the random states its draws start from."""
        self._order = order
        if approach != _RNG_STATES:
            return iter(dataloader)
        import torch

        # A persistent loader draws its workers' base seed once, for its first pass.
        reuses_workers = _persistent(dataloader) and self._started
        self._pass_start = {
            "pass_rng_state": get_rng_state(),
            "pass_generators": _generator_states(dataloader),
            "base_seed": not reuses_workers,
        }
        self._started = True
        # `_iterator` holds a persistent loader's workers; None here: they died with the old run.
        if reuses_workers and dataloader._iterator is None:
            generator = dataloader.generator
            dataloader.generator = torch.Generator()  # new workers, but no draw from the run's
            try:
                return iter(dataloader)
            finally:
                dataloader.generator = generator
        return iter(dataloader)

    def _continue(
        self,
        dataloader: Any,
        approach: str,
        order: int,
        start: int,
        state: dict[str, Any],
        rng_state: Any,
    ) -> Iterator[Any]:
        """Resume pass `order` at batch `start`, then set the checkpoint's random states."""
        self._order = order
        rng_state = rng_state if rng_state is not None else get_rng_state()
        batches: Iterator[Any]
        if approach == _STATEFUL:
            dataloader.load_state_dict(state["state"])
            batches = iter(dataloader)
        else:
            self._pass_start = {key: state[key] for key in _PASS_START_KEYS}
            batches = _twin_batches(dataloader, start, self._pass_start)
        set_rng_state(rng_state)  # the draws of the batches to come start from here
        _set_generator_states(dataloader, state["generators"])
        return batches


def _warn_inexact(reason: str, start: int, how: str) -> None:
    """The one warning of a resume whose data may differ: why, what it does, what to use."""
    warnings.warn(
        f"resuming mid-epoch, the training data may come in another order or from another "
        f"position than in the uninterrupted run, because {reason}; to get there, the resumed "
        f"run {how} the {start} batches already trained on. For an exact resume, build the "
        "dataloader from a config (its DefaultSampler or InfiniteSampler skips straight to "
        "the position) or use torchdata's StatefulDataLoader",
        RuntimeWarning,
        stacklevel=3,  # the loop that asked for the batches
    )


def _approach(dataloader: Any) -> tuple[str, str | None]:
    """How `dataloader` continues mid-pass, and why its data may then differ (None: it won't)."""
    sampler = getattr(dataloader, "sampler", None)
    skip = getattr(sampler, "skip", None)
    if skip is not None and getattr(dataloader, "batch_size", None) is not None:
        return _SKIP, None
    if callable(getattr(dataloader, "state_dict", None)) and callable(
        getattr(dataloader, "load_state_dict", None)
    ):
        return _STATEFUL, None
    from torch.utils.data import DataLoader, IterableDataset

    name = type(dataloader).__name__
    if type(dataloader) is DataLoader:
        if isinstance(dataloader.dataset, IterableDataset):
            return _REPLAY, (
                f"its dataset, a {type(dataloader.dataset).__name__}, is an IterableDataset, "
                "whose position can only be reached by reading it"
            )
        return _RNG_STATES, _private_randomness(dataloader)
    if isinstance(dataloader, DataLoader):
        return _REPLAY, (
            f"it is a {name}, a DataLoader subclass, which cannot be rebuilt to pass over "
            "batches by their indices"
        )
    return _REPLAY, (
        f"it is a {name}, neither a torch DataLoader nor a dataloader with state_dict() and "
        "load_state_dict()"
    )


def _samplers(dataloader: Any) -> list[tuple[str, Any]]:
    """The loader's sampler, batch sampler and the sampler inside that, each once, by path."""
    batch_sampler = getattr(dataloader, "batch_sampler", None)
    found: dict[int, tuple[str, Any]] = {}
    for path, owner in (
        ("sampler", getattr(dataloader, "sampler", None)),
        ("batch_sampler", batch_sampler),
        ("batch_sampler.sampler", getattr(batch_sampler, "sampler", None)),
    ):
        if owner is not None:
            found.setdefault(id(owner), (path, owner))
    return list(found.values())


def _private_randomness(dataloader: Any) -> str | None:
    """Why a sampler's order cannot repeat: a random generator of its own that is not saved."""
    for path, owner in _samplers(dataloader):
        for name, value in getattr(owner, "__dict__", {}).items():
            kind = type(value)
            if isinstance(value, random.Random) or (
                kind.__module__.startswith("numpy.random")
                and kind.__name__ in ("RandomState", "Generator")
            ):
                return (
                    f"its {path} ({type(owner).__name__}) draws from a random generator of "
                    f"its own ({name}: {kind.__module__}.{kind.__name__}), whose state is not "
                    "saved (only torch.Generator attributes are)"
                )
    return None


def _generators(dataloader: Any) -> dict[str, Any]:
    """Every ``torch.Generator`` of the loader and its samplers, each once, by attribute path."""
    import torch

    owners: Iterable[tuple[str, Any]] = [("", dataloader)]
    owners = itertools.chain(owners, ((path + ".", owner) for path, owner in _samplers(dataloader)))
    found: dict[int, tuple[str, Any]] = {}
    for prefix, owner in owners:
        for name, value in getattr(owner, "__dict__", {}).items():
            if isinstance(value, torch.Generator):
                found.setdefault(id(value), (prefix + name, value))
    return dict(found.values())


def _generator_states(dataloader: Any) -> dict[str, Any]:
    """The states of `_generators`, by path: tensors a safe load reads back."""
    return {path: generator.get_state() for path, generator in _generators(dataloader).items()}


def _set_generator_states(dataloader: Any, states: dict[str, Any]) -> list[str]:
    """Set each generator saved under its path; return the paths `dataloader` lacks."""
    import torch

    missing = []
    for path, state in states.items():
        try:
            generator = operator.attrgetter(path)(dataloader)
        except AttributeError:
            generator = None
        if isinstance(generator, torch.Generator):
            generator.set_state(state)
        else:
            missing.append(path)
    return missing


def _persistent(dataloader: Any) -> bool:
    """Whether the loader keeps its worker processes from one pass to the next."""
    return bool(dataloader.persistent_workers) and dataloader.num_workers > 0


def _twin_batches(dataloader: Any, start: int, pass_start: dict[str, Any]) -> Iterator[Any]:
    """The rest of a pass, from batch `start`, drawing what the pass's own iterator drew.

    From the pass's starting states: the workers' base seed (when the pass drew
    one), then the sampler's order while the first `start` batches of indices
    are passed over, as the original iterator drew them before its first batch.
    """
    import torch

    set_rng_state(pass_start["pass_rng_state"])
    _set_generator_states(dataloader, pass_start["pass_generators"])
    source = torch.default_generator if dataloader.generator is None else dataloader.generator
    seeds = torch.Generator()  # gives the twin's workers the pass's base seed
    seeds.set_state(source.get_state())
    if pass_start["base_seed"]:  # draw it from the run's generator too, where the pass did
        torch.empty((), dtype=torch.int64).random_(generator=dataloader.generator)
    return iter(_twin(dataloader, start, seeds))


def _twin(dataloader: Any, start: int, generator: Any) -> Any:
    """A DataLoader like `dataloader` whose batches begin after its first `start`."""
    from torch.utils.data import DataLoader

    options: dict[str, Any] = dict(
        num_workers=dataloader.num_workers,
        collate_fn=dataloader.collate_fn,
        pin_memory=dataloader.pin_memory,
        timeout=dataloader.timeout,
        worker_init_fn=dataloader.worker_init_fn,
        multiprocessing_context=dataloader.multiprocessing_context,
        generator=generator,
        prefetch_factor=dataloader.prefetch_factor,
        pin_memory_device=dataloader.pin_memory_device,
    )  # not persistent: it serves one pass
    if hasattr(dataloader, "in_order"):  # torch >= 2.6
        options["in_order"] = dataloader.in_order
    if dataloader.batch_sampler is not None:
        batch_sampler = _RestOfPass(dataloader.batch_sampler, start)
        return DataLoader(dataloader.dataset, batch_sampler=batch_sampler, **options)
    sampler = _RestOfPass(dataloader.sampler, start)
    return DataLoader(dataloader.dataset, sampler=sampler, batch_size=None, **options)


class _RestOfPass:
    """The indices (or batches of indices) of one pass of `source` after its first `count`.

    The first ``iter()`` starts `source` and passes over its first `count`
    items at once, drawing the pass's order; a DataLoader iterator that asks
    again (a multi-process one does, as it starts) gets that same iterator, so
    the order is drawn once. The items after cost nothing extra.
    """

    def __init__(self, source: Any, count: int) -> None:
        self.source = source
        self.count = count
        self._rest: Iterator[Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        if self._rest is None:
            self._rest = iter(self.source)
            collections.deque(itertools.islice(self._rest, self.count), maxlen=0)
        return self._rest

    def __len__(self) -> int:
        return max(len(self.source) - self.count, 0)
