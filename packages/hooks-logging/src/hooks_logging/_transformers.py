"""`HFTrainerCallback`: a Hugging Face ``TrainerCallback`` that forwards to hooks-logging backends.

Importing this module imports ``transformers``; ``import hooks_logging`` does
not, and imports it only when ``HFTrainerCallback`` is first used. Extra:
``hooks-logging[transformers]``.
"""

from __future__ import annotations

import importlib
import os.path as osp
from typing import Any

from hooks_core.registry import pip_install

from ._forwarding import Forwarder, load_tracker_runs, save_tracker_runs

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Sequence

__all__ = ["HFTrainerCallback"]

MISSING_TRANSFORMERS = (
    f"HFTrainerCallback needs transformers: {pip_install('hooks-logging[transformers]')}"
)

try:
    _TrainerCallback: Any = importlib.import_module("transformers").TrainerCallback
except ImportError as err:
    raise ImportError(MISSING_TRANSFORMERS) from err


class HFTrainerCallback(_TrainerCallback):  # type: ignore[misc]  # transformers' class, typed Any
    """Forward a ``transformers.Trainer``'s logs (``on_log``) to our backends.

    Args:
        backends: Backend names (``'mlflow'``), configs (``dict(type='wandb',
            init_kwargs=dict(project='p'))``) or `LoggerBackend` objects, as
            `LoggerHook`'s ``backends``.
        save_dir: Given to configs without ``save_dir``; None:
            ``<output_dir>/hooks_logging`` of the trainer's arguments.
        queue_size, close_timeout: As in `LoggerHook`.
        metric_names: ``'hf'`` (the default): as transformers' own
            integrations name them, ``eval_loss`` as ``eval/loss``,
            ``test_...`` as ``test/...`` and every other key under ``train/``
            (``train/loss``, ``train/learning_rate``); ``'raw'``: the keys of
            the Trainer's logs as they are.
        tags: Tags of the trackers' runs (W&B, MLflow, Neptune: see below).

    Run names and tags: ``args.run_name`` names the run, and `tags` tag it,
    of every backend built from a name or config that has a run to name
    (`LoggerBackend.named_config`: W&B's and Neptune's ``name``/``tags``,
    MLflow's ``run_name`` and one tag per tag); a config's own name or tags
    win. transformers has no tags argument: its integrations leave them to
    the trackers' environment (W&B reads ``WANDB_TAGS`` itself, which still
    applies when `tags` is empty; transformers' MLflow callback reads
    ``MLFLOW_TAGS``, which this callback does not). Local files (JSON, text,
    TensorBoard, DVCLive) have no run to name.

    What is logged, on the main process only:
        - at ``on_train_begin``: the config as transformers' integrations
          make it, one level: the model config's keys, then the
          ``TrainingArguments`` (which win a clash), and
          ``model/num_parameters``; credentials masked;
        - at ``on_log``: the numbers of ``logs`` (``loss``, ``learning_rate``,
          ``grad_norm``, ``epoch``, ``eval_loss``, ...) as one record at
          ``state.global_step``, named as `metric_names` says; strings are left
          out; the end numbers (``train_runtime``, ``train_loss``,
          ``total_flos``, ...) go to `LoggerBackend.log_summary` under their
          own names: W&B's run summary, a record elsewhere;
        - at ``on_save``: the ``checkpoint-<step>`` folder, to the backends
          with `log_model`, and the tracker runs to continue, in
          ``tracker_runs.json`` there (see Resuming);
        - at ``on_train_end``: every backend is flushed, and waited for.

    Steps: each record also carries ``train/global_step`` (``global_step``
    with ``metric_names='raw'``), declared as the x axis of every name
    (`LoggerBackend.define_step_axes`, W&B's ``define_metric``, as
    transformers' W&B integration does). Backends with one step axis plot
    against the step itself. So ``trainer.evaluate()`` after
    ``trainer.train()``, logged at the last step again, overwrites nothing:
    W&B gives it the next row of its own, still at that global step; the
    JSON log, TensorBoard and MLflow keep both records at that step
    (Neptune, whose series steps must grow, skips the values it already has
    at that step).

    Resuming: ``trainer.train(resume_from_checkpoint=...)`` continues the
    tracker runs (the W&B run id, the MLflow run) saved in
    ``<output_dir>/checkpoint-<global_step>/tracker_runs.json``, the folder
    the Trainer saves to and resumes from, so each tracker shows one run with
    its steps going on (`LoggerBackend.resume_config`). A checkpoint moved
    elsewhere is not found: the callback is told the resumed step, not the
    folder.

    Each backend gets the records from a writer thread of its own, so a slow
    tracking server does not slow training. `close` (or the end of the
    process) ends the backends' runs; until then ``trainer.evaluate()`` after
    ``trainer.train()`` still logs.

    Give ``report_to='none'`` (or a list without the trackers used here) to the
    ``TrainingArguments``, so transformers' own integrations do not log twice.

    Example:
        >>> callback = HFTrainerCallback(["json", dict(type="mlflow", exp_name="demo")])
        >>> Trainer(model=model, args=args, callbacks=[callback], ...)  # doctest: +SKIP
    """

    def __init__(
        self,
        backends: Sequence[Any],
        save_dir: str | os.PathLike[str] | None = None,
        queue_size: int = 10_000,
        close_timeout: float = 60.0,
        metric_names: str = "hf",
        tags: Sequence[str] = (),
    ) -> None:
        if metric_names not in METRIC_NAMES:
            raise ValueError(
                f"HFTrainerCallback(metric_names={metric_names!r}): give 'hf' (train/loss, "
                "eval/loss, as transformers' integrations) or 'raw' (the Trainer's own keys)"
            )
        self.metric_names = metric_names
        self.tags = tuple(tags)
        self.save_dir = save_dir
        self._step_axis = "train/global_step" if metric_names == "hf" else "global_step"
        self._declared: set[str] = set()  # names whose step axis the backends were given
        self._forwarder = Forwarder(backends, queue_size=queue_size, close_timeout=close_timeout)

    @property
    def backends(self) -> list[Any]:
        """The backends, once built (on the main process, when training begins)."""
        return self._forwarder.backends

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        resumed = None
        if state.global_step > 0:  # `train(resume_from_checkpoint=...)`: the state is the folder's
            resumed = load_tracker_runs(checkpoint_folder(args, state))
        self._start(args, resumed)
        model = kwargs.get("model")
        model_config = getattr(model, "config", None)
        config: dict[str, Any] = {}
        if model_config is not None and hasattr(model_config, "to_dict"):
            config.update(model_config.to_dict())
        config.update(args.to_dict())
        if model is not None and hasattr(model, "parameters"):
            config["model/num_parameters"] = sum(p.numel() for p in model.parameters())
        self._forwarder.log_config(config)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        self._start(args)  # also for `trainer.evaluate()` without training
        numbers = {
            key: value
            for key, value in logs.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        }
        summary = {key: numbers.pop(key) for key in END_NUMBERS if key in numbers}
        if summary:
            self._forwarder.log_summary(summary, int(state.global_step))
        if self.metric_names == "hf":
            numbers = {hf_metric_name(key): value for key, value in numbers.items()}
        if numbers:
            new = {name: self._step_axis for name in numbers if name not in self._declared}
            if new:
                self._forwarder.define_step_axes(new)
                self._declared.update(new)
            numbers[self._step_axis] = int(state.global_step)
            self._forwarder.log_scalars(numbers, int(state.global_step))

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Offer the ``checkpoint-<step>`` folder just saved to the backends with `log_model`,
        and save there the tracker runs a resumed training continues.

        Aliases: ``latest``, and ``best`` when it is the Trainer's best model so far.
        """
        if not state.is_world_process_zero:
            return
        self._start(args)
        folder = checkpoint_folder(args, state)
        if not osp.isdir(folder):
            return
        save_tracker_runs(folder, self._forwarder.run_states())
        best = state.best_model_checkpoint
        same = best is not None and osp.abspath(best) == osp.abspath(folder)
        self._forwarder.log_checkpoint(folder, ["latest", "best"] if same else ["latest"])

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self._forwarder.flush()

    def close(self, status: str = "finished") -> None:
        """Close the backends (end their runs as `status`, see `LoggerBackend.close`)."""
        self._forwarder.close(status)

    def _start(self, args: Any, tracker_runs: dict[str, Any] | None = None) -> None:
        if not self._forwarder.started:
            save_dir = self.save_dir or osp.join(args.output_dir or ".", "hooks_logging")
            self._forwarder.start(save_dir, tracker_runs, run_name=args.run_name, tags=self.tags)


METRIC_NAMES = ("hf", "raw")  # HFTrainerCallback's metric_names

# What the Trainer logs once, when training ends: a run summary, not a history row.
END_NUMBERS = (
    "train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss",
    "total_flos",
)  # fmt: skip


def checkpoint_folder(args: Any, state: Any) -> str:
    """Where the Trainer saves, and resumes, the checkpoint of `state`'s step."""
    return osp.join(args.output_dir, f"checkpoint-{state.global_step}")


def hf_metric_name(key: str) -> str:
    """`key` of a Trainer's logs as transformers' integrations show it: ``eval_loss`` as
    ``eval/loss``, ``test_acc`` as ``test/acc``, anything else under ``train/``."""
    for split in ("eval", "test"):
        if key.startswith(f"{split}_"):
            return f"{split}/{key[len(split) + 1 :]}"
    return f"train/{key}"
