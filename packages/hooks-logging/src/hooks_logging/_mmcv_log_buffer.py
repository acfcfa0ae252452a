"""`LogBufferReader`: what MMCV 1.x hooks put in ``runner.log_buffer``, for the logger hook.

MMCV's hooks talk to its logger hooks through the runner's log buffer: values
through ``log_buffer.update`` (``grad_norm`` from ``OptimizerHook``, a user
hook's own), and evaluation results through ``log_buffer.output`` with
``ready`` set (``EvalHook``). On the MMCV runners (`EpochBasedRunner`,
`IterBasedRunner`) the logger hook reads both through this class; the
MMEngine-style `Runner` has no log buffer.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["LogBufferReader"]


class LogBufferReader:
    """Publishes a log buffer's own values in the message hub and takes its evaluation results.

    Args:
        buffer: The runner's ``log_buffer`` (MMCV's API: ``val_history``,
            ``output``, ``ready``, ``clear()``, ``clear_output()``).
    """

    __slots__ = ("_published", "buffer")

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer
        # Per key this reader publishes: the history list it read last and how many values of it.
        self._published: dict[str, tuple[list[Any], int]] = {}

    def publish_new_values(self, hub: Any) -> None:
        """Append to ``train/<key>`` the values logged since the last call, of keys only here.

        Keys the hub already has as ``train/<key>`` when first seen (the
        step's ``log_vars``, which `RuntimeInfoHook` publishes) are left alone.
        Each value goes in with count 1, as the runner's ``log_vars`` do; the
        log processor then smooths them like any other scalar. Called when a
        record is due, so it costs one pass over the values since the last record.
        """
        scalars = None
        for key, history in self.buffer.val_history.items():
            published = self._published.get(key)
            if published is None:
                scalars = hub.log_scalars if scalars is None else scalars
                if f"train/{key}" in scalars:
                    continue
                start = 0
            else:  # a buffer cleared since holds a new list
                start = published[1] if published[0] is history else 0
            for value in history[start:]:
                hub.update_scalar(f"train/{key}", value)
            self._published[key] = (history, len(history))

    def take_results(self) -> tuple[dict[str, Any], int | None] | None:
        """Empty ``output`` and return the evaluation results it held, and MMCV's ``eval_iter_num``.

        None when it held no results: nothing, or a training average some hook
        asked for with ``log_buffer.average()`` (MMCV's rule: it has ``time``),
        which the log shows from the message hub already.
        """
        output = dict(self.buffer.output)
        self.buffer.clear_output()
        length = output.pop("eval_iter_num", None)
        if not output or "time" in output:
            return None
        return output, length

    def clear(self) -> None:
        """Forget the buffer's values, as MMCV's logger hooks do before each epoch."""
        self.buffer.clear()
