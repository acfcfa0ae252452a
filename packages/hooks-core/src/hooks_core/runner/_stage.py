"""`Stage`: what the runner was given to train, validate or test, and the loop built from it.

The runner holds one stage each for train, val and test. A stage keeps the
dataloader, loop config and evaluator as the user passed them (objects or
config dicts) and builds its loop once, on first use, so reading the loop on
the hot path (``runner.iter``) is one attribute check, never a type test.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["Stage"]


class Stage:
    """One of the runner's stages: its parts as given, and its loop once built.

    Args:
        name: ``'train'``, ``'val'`` or ``'test'``.
        dataloader: A dataloader or its config.
        cfg: The loop's config (``train_cfg``...), a ready loop, or None for a
            stage the runner does not have.
        evaluator: The evaluator or its config (val and test).
    """

    __slots__ = ("cfg", "dataloader", "evaluator", "loop", "name")

    def __init__(self, name: str, dataloader: Any, cfg: Any, evaluator: Any = None) -> None:
        self.name = name
        self.dataloader = dataloader
        self.cfg = cfg
        self.evaluator = evaluator
        self.loop: Any = None if cfg is None or isinstance(cfg, dict) else cfg

    @property
    def configured(self) -> bool:
        """Whether the runner has this stage at all."""
        return self.cfg is not None

    def get(self, build: Callable[[Any], Any]) -> Any:
        """The loop, built as ``build(cfg)`` on the first call; None for a stage not configured."""
        if self.loop is None and self.cfg is not None:
            self.loop = build(self.cfg)
        return self.loop

    def __repr__(self) -> str:
        state = "built" if self.loop is not None else "configured" if self.configured else "absent"
        return f"Stage({self.name!r}, {state})"
