"""Checks of what a user hands the runner, made before anything trains.

Each turns a mistake that would otherwise surface late, or never, into an
error or warning at start-up that names the option and the fix: a dataset
passed where a dataloader belongs fails at the first ``forward()`` with an
unrelated ``TypeError``; an empty dataset trains "epochs" of no iterations and
still writes checkpoints.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["check_dataloader", "check_has_batches", "check_val_schedule"]

_FIX = "give a torch DataLoader, or a config such as dict(dataset=..., batch_size=...)"
_SCALARS = (bool, int, float, complex, str, bytes)


def check_dataloader(dataloader: Any, name: str) -> None:
    """Refuse what cannot be a dataloader or its config: a string, a dataset, a list of numbers.

    Any other iterable is accepted (a list of ready batches, a generator-backed
    loader), as is None for a stage the runner does not have.

    Raises:
        TypeError: naming `name`, what was given and the fix.
    """
    if dataloader is None or isinstance(dataloader, Mapping):
        return
    import torch.utils.data

    if isinstance(dataloader, torch.utils.data.Dataset) and not isinstance(
        dataloader, torch.utils.data.IterableDataset
    ):
        raise TypeError(
            f"{name} is a dataset ({type(dataloader).__name__}), not a dataloader: wrap it as "
            f"DataLoader(dataset, batch_size=...) or give dict(dataset=..., batch_size=...)"
        )
    if isinstance(dataloader, _SCALARS) or not isinstance(dataloader, Iterable):
        raise TypeError(f"{name} must be a dataloader, got {dataloader!r}: {_FIX}")
    if isinstance(dataloader, (list, tuple)) and dataloader and isinstance(dataloader[0], _SCALARS):
        raise TypeError(
            f"{name} is a {type(dataloader).__name__} of {type(dataloader[0]).__name__}, not of "
            f"batches: {_FIX}"
        )


def check_has_batches(dataloader: Any) -> None:
    """Refuse to train on a dataloader with no batches (one without a length is trusted).

    Raises:
        ValueError: naming the dataset's size and the loader's batch settings.
    """
    try:
        batches = len(dataloader)
    except TypeError:  # an iterable dataset: its length is not known up front
        return
    if batches:
        return
    dataset = getattr(dataloader, "dataset", None)
    try:
        samples = f"{len(dataset)} samples" if dataset is not None else "no samples"
    except TypeError:
        samples = "no length"
    settings = ", ".join(
        f"{option}={getattr(dataloader, option)!r}"
        for option in ("batch_size", "drop_last")
        if hasattr(dataloader, option)
    )
    raise ValueError(
        f"train_dataloader yields no batches (its dataset has {samples}"
        f"{'; ' + settings if settings else ''}): check the dataset's path and filters, or "
        "lower batch_size / set drop_last=False"
    )


def check_val_schedule(val_begin: int, val_interval: int, length: int, unit: str) -> None:
    """Warn when validation would run at most once although the user asked for more.

    `length` is the run's ``max_epochs`` or ``max_iters``, `unit` ``'epochs'`` or
    ``'iters'``. Validation also runs after the last one, so an interval beyond
    the run validates only at the end; a `val_begin` beyond it, never.
    """
    limit = f"max_{unit}={length}"
    if val_begin > length:
        warnings.warn(
            f"train_cfg val_begin={val_begin} is after the run's end ({limit}): validation never "
            "runs; lower val_begin",
            UserWarning,
            stacklevel=4,
        )
    elif val_interval > length:
        warnings.warn(
            f"train_cfg val_interval={val_interval} is larger than the run ({limit}): validation "
            "runs only once, at the end; lower val_interval to validate during training",
            UserWarning,
            stacklevel=4,
        )
