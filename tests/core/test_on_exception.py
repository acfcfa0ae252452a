"""`Hook.on_exception`: the hooks hear of the exception that stops a run, before it propagates."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import pytest
from toy import runner_kwargs

from hooks_core import EpochBasedRunner, Hook, Runner, TrainingInterrupted
from hooks_core.runtime import StopRequested


class Recorder(Hook):
    """Records `on_exception` and `after_run`; raises `error` at iteration `fail_at`."""

    def __init__(self, fail_at: int | None = None, error: BaseException | None = None) -> None:
        self.fail_at, self.error = fail_at, error
        self.events: list[tuple[str, Any]] = []

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:  # fmt: skip
        if runner.iter + 1 == self.fail_at:
            assert self.error is not None
            raise self.error

    def on_exception(self, runner: Any, exception: BaseException) -> None:
        self.events.append(("on_exception", exception))

    def after_run(self, runner: Any) -> None:
        self.events.append(("after_run", None))


class BrokenHandler(Hook):
    def on_exception(self, runner: Any, exception: BaseException) -> None:
        raise OSError("the tracker is unreachable")


def test_an_error_reaches_every_hook_once_then_propagates_unchanged(tmp_path: Path) -> None:
    error = ValueError("loss is NaN")
    failing, witness = Recorder(fail_at=3, error=error), Recorder()
    runner = Runner(**runner_kwargs(tmp_path, custom_hooks=[failing, BrokenHandler(), witness]))
    with pytest.raises(ValueError, match="loss is NaN") as raised:
        runner.train()
    assert raised.value is error
    assert failing.events == [("on_exception", error)]  # no after_run, as in MMEngine
    assert witness.events == [("on_exception", error)]  # a failing handler stops no other
    (log,) = Path(runner.log_dir).glob("*.log")
    text = log.read_text()
    assert "BrokenHandler.on_exception failed while the run stopped with ValueError" in text
    assert "OSError: the tracker is unreachable" in text


def test_ctrl_c_is_an_exception_the_hooks_hear_of(tmp_path: Path) -> None:
    witness = Recorder(fail_at=2, error=KeyboardInterrupt())
    runner = Runner(**runner_kwargs(tmp_path, custom_hooks=[witness]))
    with pytest.raises(KeyboardInterrupt):
        runner.train()
    assert [type(e).__name__ for _, e in witness.events] == ["KeyboardInterrupt"]


def test_sigterm_gives_the_stop_before_after_run_and_no_second_notice(tmp_path: Path) -> None:
    class Stopper(Recorder):
        def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                             outputs: Any = None) -> None:  # fmt: skip
            if runner.iter + 1 == 4:
                runner.train_loop.request_stop(signal.SIGTERM)  # what the SIGTERM handler calls

    witness = Stopper()
    runner = Runner(**runner_kwargs(tmp_path, custom_hooks=[witness]))
    with pytest.raises(TrainingInterrupted):
        runner.train()
    (first, stop), second = witness.events
    assert first == "on_exception" and isinstance(stop, StopRequested)
    assert stop.signum == signal.SIGTERM
    assert second == ("after_run", None)


def test_validation_errors_reach_the_hooks(tmp_path: Path) -> None:
    class FailingVal(Recorder):
        def before_val_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
            raise RuntimeError("bad batch")

    witness = FailingVal()
    runner = Runner(**runner_kwargs(tmp_path, custom_hooks=[witness]))
    with pytest.raises(RuntimeError, match="bad batch"):
        runner.val()
    assert [type(e).__name__ for _, e in witness.events] == ["RuntimeError"]


def test_mmcv_runner_hooks_hear_of_errors_too(tmp_path: Path) -> None:
    import torch
    from toy import ToyDataset, ToyModel

    class Model(ToyModel):
        def train_step(self, data: Any, optimizer: Any = None, **kwargs: Any) -> dict[str, Any]:
            raise ZeroDivisionError("in train_step")

    class PlainHook(Hook):
        def __init__(self) -> None:
            self.seen: list[BaseException] = []

        def on_exception(self, runner: Any, exception: BaseException) -> None:
            self.seen.append(exception)

    model = Model()
    runner = EpochBasedRunner(
        model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), work_dir=str(tmp_path),
        max_epochs=1, logger=logging.getLogger("mmcv-test"),
    )  # fmt: skip
    hook = PlainHook()
    runner.register_hook(hook)
    loader = torch.utils.data.DataLoader(ToyDataset(8), batch_size=4)
    with pytest.raises(ZeroDivisionError):
        runner.run([loader], [("train", 1)])
    assert [type(e) for e in hook.seen] == [ZeroDivisionError]
