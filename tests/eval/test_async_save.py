"""async_save=True: the same checkpoints as synchronous saves, written in the background."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
import torch
from eval_parts import PerSampleRegressor, eval_runner_kwargs, files

from hooks_core import Hook, Runner
from hooks_core.checkpoint import load_checkpoint_file
from hooks_eval import _writer
from hooks_optim import OptimWrapper

if TYPE_CHECKING:
    from pathlib import Path


def run_specific(key: Any) -> bool:
    """Keys that differ between two runs of the same training: names, clocks, timings."""
    return key in ("time", "experiment_name", "eta") or str(key).endswith(("/time", "/data_time"))


def run(work_dir: Path, hooks: Any = (), max_epochs: int = 4, **options: Any) -> Runner:
    torch.manual_seed(0)
    model = PerSampleRegressor()  # with dropout: the RNG state matters too
    runner = Runner(
        **eval_runner_kwargs(
            work_dir, model=model, train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
            optim_wrapper=OptimWrapper(torch.optim.Adam(model.parameters(), lr=0.01)),
            param_scheduler=dict(type="StepLR", step_size=1, gamma=0.5),
        ),
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=1, **options)),
        custom_hooks=list(hooks),
    )  # fmt: skip
    runner.train()
    return runner


def assert_same(a: Any, b: Any, where: tuple[Any, ...], dirs: tuple[str, str]) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, where
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            if not run_specific(key):
                assert_same(a[key], b[key], (*where, key), dirs)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, (*where, i), dirs)
    elif isinstance(a, str):
        assert a.replace(dirs[0], "") == b.replace(dirs[1], ""), where
    else:
        assert a == b, where


def test_async_checkpoints_load_equal_to_sync_ones(tmp_path: Path) -> None:
    sync = run(tmp_path / "sync", max_keep_ckpts=3)
    background = run(tmp_path / "async", max_keep_ckpts=3, async_save=True)
    names = files(tmp_path / "sync")
    assert names == files(tmp_path / "async") == ["epoch_2.pth", "epoch_3.pth", "epoch_4.pth"]
    for name in names:
        a = load_checkpoint_file(tmp_path / "sync" / name)
        b = load_checkpoint_file(tmp_path / "async" / name)
        assert {"optimizer", "param_schedulers", "rng_state"} <= set(a)
        assert_same(a, b, (), (str(tmp_path / "sync"), str(tmp_path / "async")))
    for key in ("keep_ckpt_ids", "last_ckpt"):
        assert_same(sync.message_hub.get_info(key), background.message_hub.get_info(key), (key,),
                    (str(tmp_path / "sync"), str(tmp_path / "async")))  # fmt: skip
    assert (tmp_path / "async" / "last_checkpoint").read_text().endswith("async/epoch_4.pth")


class Iterations(Hook):
    """Counts finished training iterations, for a write to wait on."""

    def __init__(self) -> None:
        self.done = threading.Semaphore(0)

    def after_train_iter(self, *args: Any, **kwargs: Any) -> None:
        self.done.release()


def test_writes_run_beside_training_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each write blocks until training finishes one more iteration, which only a write on
    another thread allows; the writes never overlap; the run ends after the last one."""
    iterations = Iterations()
    state = {"in_flight": 0, "most": 0, "waited": []}
    lock = threading.Lock()
    real_save = _writer.save_checkpoint

    def save_after_an_iteration(checkpoint: dict[str, Any], path: str, **options: Any) -> None:
        with lock:
            state["in_flight"] += 1
            state["most"] = max(state["most"], state["in_flight"])
        is_last = path.endswith("epoch_3.pth")  # nothing trains after the last epoch
        state["waited"].append(is_last or iterations.done.acquire(timeout=30))
        real_save(checkpoint, path, **options)
        with lock:
            state["in_flight"] -= 1

    monkeypatch.setattr(_writer, "save_checkpoint", save_after_an_iteration)
    runner = run(tmp_path, hooks=[iterations], max_epochs=3, async_save=True)
    assert state["waited"] == [True, True, True]
    assert state["most"] == 1
    assert files(tmp_path) == ["epoch_1.pth", "epoch_2.pth", "epoch_3.pth"]  # all written
    checkpoint_hook = runner.hooks[-1]
    assert checkpoint_hook.writer._executor is None  # the thread is gone


def test_a_failed_background_write_is_raised_at_the_next_save(tmp_path: Path) -> None:
    (tmp_path / "epoch_2.pth").mkdir()  # the write of epoch 2 cannot replace a folder
    failure = r"asynchronous save of checkpoint .*epoch_2\.pth failed"
    with pytest.raises(RuntimeError, match=failure) as info:
        run(tmp_path, max_keep_ckpts=1, async_save=True)
    assert isinstance(info.value.__cause__, OSError)
    assert files(tmp_path) == ["epoch_1.pth", "epoch_2.pth"]  # 1 not dropped; 3 never started
    assert (tmp_path / "last_checkpoint").read_text() == str(tmp_path / "epoch_1.pth")


def test_a_failed_last_write_is_raised_at_the_end(tmp_path: Path) -> None:
    (tmp_path / "epoch_2.pth").mkdir()
    with pytest.raises(RuntimeError, match=r"epoch_2\.pth failed"):
        run(tmp_path, max_epochs=2, async_save=True)
    assert (tmp_path / "last_checkpoint").read_text() == str(tmp_path / "epoch_1.pth")
