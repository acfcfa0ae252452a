"""A runner stand-in for calling hook methods directly, as MMEngine's hook tests call them.

`StandInRunner` is a plain object with the attributes hooks read from a runner:
counters (proxied to a `StandInLoop`, as the real runner proxies its train
loop), a real `MessageHub`, a logger, folders, distributed info, dataloaders
and optional parts (model, optimizer wrapper, config). It runs nothing by
itself: a test calls ``hook.after_train_iter(runner, batch_idx=0)`` on it, or
registers hooks and calls points through `call_hook` in the order it wants.
"""

from __future__ import annotations

import itertools
import logging
import os
from typing import Any

from hooks_core import HookList, MessageHub

_names = itertools.count()


class StandInLoop:
    """What hooks read from ``runner.train_loop`` (and the val/test loops): data and counters."""

    def __init__(self, dataloader: Any = None, max_epochs: int = 1, max_iters: int = 10) -> None:
        self.dataloader = dataloader
        self.max_epochs = max_epochs
        self.max_iters = max_iters
        self.epoch = 0
        self.iter = 0
        self.stop_training = False


class StandInRunner:
    """The runner attributes hooks use, with defaults a test overrides by keyword.

    Args:
        work_dir: Folder for ``work_dir``; ``log_dir`` is a subfolder, created.
        train_dataloader, val_dataloader, test_dataloader: What the loops iterate.
        max_epochs, max_iters: Training length, as the train loop reports it.
        **attributes: Any other attribute (``model``, ``optim_wrapper``,
            ``cfg``, ``rank``, ``world_size``, ``param_schedulers``...).
    """

    def __init__(
        self,
        work_dir: str | os.PathLike[str],
        *,
        train_dataloader: Any = None,
        val_dataloader: Any = None,
        test_dataloader: Any = None,
        max_epochs: int = 1,
        max_iters: int = 10,
        **attributes: Any,
    ) -> None:
        name = f"stand_in_{next(_names)}"
        self.work_dir = os.fspath(work_dir)
        self.timestamp = "20240101_000000"
        self.log_dir = os.path.join(self.work_dir, self.timestamp)
        os.makedirs(self.log_dir, exist_ok=True)
        self.experiment_name = name
        self.message_hub = MessageHub(name)  # not registered: each stand-in has its own
        self.logger = logging.getLogger(f"stand_in.{name}")
        self.logger.setLevel(logging.INFO)
        self.train_loop = StandInLoop(train_dataloader, max_epochs, max_iters)
        self.val_loop = StandInLoop(val_dataloader)
        self.test_loop = StandInLoop(test_dataloader)
        self.model: Any = None
        self.optim_wrapper: Any = None
        self.param_schedulers: Any = None
        self.cfg: Any = None
        self.seed = 0
        self.rank = 0
        self.world_size = 1
        self._hooks = HookList(self)
        for key, value in attributes.items():
            setattr(self, key, value)

    # Counters live in the train loop, as in the real runner.
    @property
    def epoch(self) -> int:
        return self.train_loop.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self.train_loop.epoch = value

    @property
    def iter(self) -> int:
        return self.train_loop.iter

    @iter.setter
    def iter(self, value: int) -> None:
        self.train_loop.iter = value

    @property
    def max_epochs(self) -> int:
        return self.train_loop.max_epochs

    @property
    def max_iters(self) -> int:
        return self.train_loop.max_iters

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def train_dataloader(self) -> Any:
        return self.train_loop.dataloader

    @property
    def val_dataloader(self) -> Any:
        return self.val_loop.dataloader

    @property
    def test_dataloader(self) -> Any:
        return self.test_loop.dataloader

    # Hooks, for tests that drive several points in order.
    @property
    def hooks(self) -> list[Any]:
        return list(self._hooks)

    def register_hook(self, hook: Any, priority: Any = None) -> Any:
        return self._hooks.register(hook, priority)

    def call_hook(self, fn_name: str, **kwargs: Any) -> None:
        self._hooks.call_hook(fn_name, **kwargs)
