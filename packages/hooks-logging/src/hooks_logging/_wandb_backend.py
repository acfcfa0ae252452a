"""`WandbBackend`: a Weights & Biases run (online, or offline for ``wandb sync`` later).

Needs the ``wandb`` package, the ``hooks-logging[wandb]`` extra, imported when a
backend is built. Importing wandb patches ``sys.stdout`` and ``sys.stderr`` for
the whole process (W&B's console capture), which is why it is never imported
before a W&B backend is asked for.
"""

from __future__ import annotations

import os
import os.path as osp

from hooks_core import LOG_BACKENDS
from hooks_core.registry import pip_install

from ._artifacts import default_artifact_dir, files_with_suffix
from ._backend import (
    LoggerBackend,
    check_log_model,
    image_to_hwc_uint8,
    import_tracker,
    jsonable,
    named_init_kwargs,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["WandbBackend"]

MISSING_WANDB = f"WandbBackend needs wandb: {pip_install('hooks-logging[wandb]')}"


# The exit code a run's end status gives W&B, which shows a non-zero one as failed
# (130: how a shell reports a program stopped by Ctrl-C).
EXIT_CODES = {"finished": 0, "failed": 1, "killed": 130}


@LOG_BACKENDS.register_module(name=["wandb", "WandbBackend"])
class WandbBackend(LoggerBackend):
    """Log to a W&B run: scalars, the config, images, text, and the log files as an artifact.

    Args:
        save_dir: Where W&B keeps its run files (``wandb.init(dir=...)``) unless
            `init_kwargs` gives ``dir``; the logger hook passes
            ``<log_dir>/vis_data``. Created if missing.
        init_kwargs: Arguments of ``wandb.init`` (``project``, ``name``,
            ``tags``, ``mode``, ...). Offline runs: ``mode='offline'`` or the
            ``WANDB_MODE=offline`` environment variable, then ``wandb sync``.
        define_metric_cfg: MMEngine's option: a dict of metric name to summary
            (``{'accuracy/top1': 'max'}``) or a list of ``define_metric``
            keyword dicts, declared when the run starts.
        watch_kwargs: When given, `watch` calls ``run.watch(model, **watch_kwargs)``
            (gradients and parameters as histograms); the logger hook calls
            `watch` with the runner's model before training.
        log_artifact: At `close`, log the files under `artifact_dir` whose
            names end with one of `out_suffix` as one artifact of type
            ``'logs'`` (W&B's own ``wandb/`` folder is left out).
        out_suffix: Suffixes of the files in the artifact.
        log_model: Which checkpoints offered by `log_checkpoint` become
            artifacts of type ``'model'`` named ``model-<run id>``, one version
            each, with their aliases (``latest``, ``best``): ``False`` none,
            ``True`` the latest and best at `close`, ``'all'`` each one
            (Lightning's ``WandbLogger`` option).
        artifact_dir: The folder whose files make the artifact. None: the
            parent of `save_dir` when `save_dir` is called ``vis_data`` (the
            logger hook's layout, so the artifact has the text log and
            ``vis_data/scalars.json``), else `save_dir`.

    Steps. W&B silently drops a record whose step is lower than one logged
    before. Records here never go backwards: each is logged at the highest
    step seen so far (its own step in a plain loop, which counts up). Names
    declared through `define_step_axes` (the logger hook declares validation
    metrics against ``'epoch'`` and training scalars against ``'iter'``) are
    plotted against that key of their records, with ``run.define_metric``,
    so validation metrics have their epoch axis while W&B's own step follows
    the iterations. W&B keeps one value per name and step, merging the
    records of a step into one row: a record that would replace a different
    value in that row (``trainer.evaluate()`` after training, at the last
    step) goes to the next step, so every value stays in the history.

    Raises:
        ImportError: wandb is not installed; the message is the fix,
            ``pip install "hooks-logging[wandb]"``.
    """

    def __init__(
        self,
        save_dir: str | os.PathLike[str] | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        define_metric_cfg: Mapping[str, str] | Sequence[Mapping[str, Any]] | None = None,
        watch_kwargs: Mapping[str, Any] | None = None,
        log_artifact: bool = True,
        out_suffix: str | Sequence[str] = (".json", ".log", ".py", "yaml"),
        artifact_dir: str | os.PathLike[str] | None = None,
        log_model: bool | str = False,
    ) -> None:
        wandb = _import_wandb()
        self.log_model = check_log_model(log_model)
        self.save_dir = None if save_dir is None else os.fspath(save_dir)
        kwargs = dict(init_kwargs or {})
        if self.save_dir is not None:
            kwargs.setdefault("dir", self.save_dir)
        if kwargs.get("dir") is not None:
            os.makedirs(kwargs["dir"], exist_ok=True)
        self.watch_kwargs = None if watch_kwargs is None else dict(watch_kwargs)
        self.log_artifact = log_artifact
        self.out_suffix = (out_suffix,) if isinstance(out_suffix, str) else tuple(out_suffix)
        self.artifact_dir = default_artifact_dir(artifact_dir, self.save_dir)
        self._wandb = wandb
        self._run = wandb.init(**kwargs)
        self._step = 0  # W&B's step: the highest step logged so far
        self._row: dict[str, Any] = {}  # what W&B's row at `_step` holds so far
        self._declared: set[str] = set()
        self._watched: set[int] = set()  # ids of the models watched
        for metric in _define_metric_kwargs(define_metric_cfg):
            self._run.define_metric(**metric)

    @property
    def run(self) -> Any:
        """The ``wandb`` run, for what the protocol does not cover."""
        return self._run

    @property
    def experiment(self) -> Any:
        """The ``wandb`` run (Lightning's name for a logger's own object)."""
        return self._run

    def run_state(self) -> dict[str, Any]:
        """The run's id and project: what `resume_config` continues."""
        return {"id": self._run.id, "project": self._run.project}

    @classmethod
    def resume_config(cls, config: dict[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
        """`config` with ``init_kwargs`` continuing the run of `state` (its id, ``resume='allow'``).

        An ``init_kwargs`` that names another run id is left as it is.
        Offline, W&B writes a new run folder under the same id, and
        ``wandb sync`` of both folders makes one run.
        """
        init = dict(config.get("init_kwargs") or {})
        if init.get("id") not in (None, state["id"]):
            return config
        init.update(id=state["id"], resume="allow")
        init.setdefault("project", state["project"])
        return {**config, "init_kwargs": init}

    @classmethod
    def named_config(
        cls, config: dict[str, Any], name: str | None, tags: Sequence[str] = ()
    ) -> dict[str, Any]:
        """`config` whose ``init_kwargs`` give ``wandb.init`` the run's `name` and `tags`."""
        return named_init_kwargs(config, name, tags)

    def log_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """Log `scalars` as one row at W&B step ``max(step, highest step so far)``."""
        self._check_open()
        self._run.log(dict(scalars), step=self._advance(step, scalars))

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Update the run's config (values that are not JSON types become their ``repr``)."""
        self._check_open()
        self._run.config.update(jsonable(config), allow_val_change=True)

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        """Log `image` (see `LoggerBackend`) as a ``wandb.Image`` under `name`."""
        self._check_open()
        picture = {name: self._wandb.Image(image_to_hwc_uint8(image))}
        self._run.log(picture, step=self._advance(step, picture))

    def log_text(self, name: str, text: str, step: int = 0) -> None:
        """Log the string `text` under `name` (W&B shows strings in the run's tables)."""
        self._check_open()
        self._run.log({name: text}, step=self._advance(step, {name: text}))

    def log_summary(self, values: Mapping[str, float], step: int) -> None:
        """Put the run's end numbers in the W&B run summary, not in its history."""
        self._check_open()
        self._run.summary.update(dict(values))

    def define_step_axes(self, axes: Mapping[str, str]) -> None:
        """``run.define_metric(name, step_metric=axis)`` for each name not declared before."""
        self._check_open()
        for name, axis in axes.items():
            if name not in self._declared:
                self._declared.add(name)
                self._run.define_metric(name, step_metric=axis)

    def watch(self, model: Any, watch_kwargs: Mapping[str, Any] | None = None) -> None:
        """``run.watch(model, **watch_kwargs)``, once per model.

        `watch_kwargs` defaults to the backend's; when neither is given, nothing
        is watched. The logger hook calls this before training; a visualizer's
        ``add_graph`` calls it with its own `watch_kwargs`.
        """
        kwargs = self.watch_kwargs if watch_kwargs is None else watch_kwargs
        if kwargs is None or id(model) in self._watched:
            return
        self._check_open()
        self._run.watch(model, **kwargs)
        self._watched.add(id(model))

    def _advance(self, step: int, values: Mapping[str, Any]) -> int:
        """W&B's step for `values` logged at `step`: the highest step so far, or the next
        one when they would replace a different value in W&B's row at that step."""
        target = max(self._step, int(step))
        row = self._row if target == self._step else {}
        if any(name in row and not _same(row[name], value) for name, value in values.items()):
            target, row = target + 1, {}
        row.update(values)
        self._step, self._row = target, row
        return target

    def _close(self) -> None:
        try:
            self._upload_final_checkpoints()
            if self.log_artifact and self.artifact_dir is not None:
                self._log_files()
        finally:
            self._run.finish(exit_code=EXIT_CODES[self.end_status])

    def _upload_checkpoint(self, path: str, aliases: tuple[str, ...]) -> None:
        artifact = self._wandb.Artifact(f"model-{self._run.id}", type="model")
        if osp.isdir(path):
            artifact.add_dir(path, name=osp.basename(osp.normpath(path)))
        else:
            artifact.add_file(path, name=osp.basename(path))
        self._run.log_artifact(artifact, aliases=list(aliases) or None)

    def _log_files(self) -> None:
        assert self.artifact_dir is not None
        files = files_with_suffix(self.artifact_dir, self.out_suffix)
        if not files:
            return
        artifact = self._wandb.Artifact(f"logs-{self._run.id}", type="logs")
        for path in files:
            artifact.add_file(path, name=osp.relpath(path, self.artifact_dir))
        self._run.log_artifact(artifact)

    def __repr__(self) -> str:
        return f"WandbBackend({self.save_dir!r})"


def _import_wandb() -> Any:
    return import_tracker("wandb", missing=MISSING_WANDB)


def _same(old: Any, new: Any) -> bool:
    """Whether logging `new` where W&B holds `old` loses nothing (NaN is the same as NaN)."""
    return old is new or old == new or (old != old and new != new)


def _define_metric_kwargs(
    cfg: Mapping[str, str] | Sequence[Mapping[str, Any]] | None,
) -> list[dict[str, Any]]:
    """MMEngine's `define_metric_cfg` as a list of ``define_metric`` keyword dicts."""
    if cfg is None:
        return []
    from collections.abc import Mapping

    if isinstance(cfg, Mapping):
        return [{"name": name, "summary": summary} for name, summary in cfg.items()]
    return [dict(metric) for metric in cfg]
