"""CheckpointHook on MMCV's runners: MMCV's file names and counts, latest.pth, meta['hook_msgs']."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest
import torch
from eval_parts import checkpoint_run, files
from mmcv_parts import mmcv_runner, train_data

if TYPE_CHECKING:
    from pathlib import Path


def trained(work_dir: Path, config: dict[str, Any], epochs: int | None = None,
            iters: int | None = None, meta: dict[str, Any] | None = None) -> Any:  # fmt: skip
    runner = mmcv_runner(work_dir, epochs=epochs, iters=iters, meta=meta)
    runner.register_training_hooks(None, checkpoint_config=config, timer_config=None)
    runner.run([train_data()], [("train", 1)])
    return runner


# Measured with MMCV 1.7.2's own CheckpointHook and runners (interval 5, max_keep_ckpts 5).
MMCV_FILES = {
    12: ["epoch_10.pth", "epoch_12.pth", "epoch_5.pth"],
    25: ["epoch_10.pth", "epoch_15.pth", "epoch_20.pth", "epoch_25.pth", "epoch_5.pth"],
    30: ["epoch_10.pth", "epoch_15.pth", "epoch_20.pth", "epoch_25.pth", "epoch_30.pth"],
}


@pytest.mark.parametrize("epochs", sorted(MMCV_FILES))
def test_seed_config_gives_mmcvs_files(tmp_path: Path, epochs: int) -> None:
    work_dir, out_dir = tmp_path / "work", tmp_path / "out"
    runner = trained(work_dir, dict(interval=5, max_keep_ckpts=5, out_dir=str(out_dir),
                                    sync_buffer=True), epochs=epochs, meta={})  # fmt: skip
    saved = out_dir / "work"
    assert files(saved) == sorted([*MMCV_FILES[epochs], "latest.pth"])
    newest = saved / f"epoch_{epochs}.pth"
    assert os.readlink(saved / "latest.pth") == newest.name
    assert runner.meta["hook_msgs"]["last_ckpt"] == str(newest)
    # As in MMCV, meta['hook_msgs'] changes once the file is written: it names the one before.
    previous = sorted(MMCV_FILES[epochs], key=lambda n: int(n[6:-4]))[-2]
    saved_meta = torch.load(newest, weights_only=False)["meta"]
    assert saved_meta["hook_msgs"]["last_ckpt"] == str(saved / previous)
    assert saved_meta["epoch"] == epochs


def test_keeps_the_newest_n_where_mmcv_keeps_one_more(tmp_path: Path) -> None:
    # MMCV 1.7.2, 32 epochs: epoch_10 ... epoch_30 and epoch_32 (6 files); its pruning
    # counts back from 32 in steps of 5 and never finds epoch_7. Here: the newest 5,
    # as the seed documents max_keep_ckpts ("keep only the newest 5").
    trained(tmp_path, dict(interval=5, max_keep_ckpts=5), epochs=32)
    assert files(tmp_path) == sorted([f"epoch_{n}.pth" for n in (15, 20, 25, 30, 32)]
                                     + ["latest.pth"])  # fmt: skip


def test_iter_based_runner_counts_iterations(tmp_path: Path) -> None:
    runner = trained(tmp_path, dict(interval=5, max_keep_ckpts=5), iters=30, meta={})
    assert files(tmp_path) == sorted([f"iter_{n}.pth" for n in (10, 15, 20, 25, 30)]
                                     + ["latest.pth"])  # fmt: skip
    assert os.readlink(tmp_path / "latest.pth") == "iter_30.pth"
    assert runner.meta["hook_msgs"]["last_ckpt"] == str(tmp_path / "iter_30.pth")


@pytest.mark.parametrize("save_optimizer", [True, False])
def test_save_optimizer_on_both_runners(tmp_path: Path, save_optimizer: bool) -> None:
    config = dict(interval=1, save_optimizer=save_optimizer)
    trained(tmp_path / "mmcv", config, epochs=1)
    checkpoint_run(tmp_path / "mmengine", config)
    for path in (tmp_path / "mmcv" / "epoch_1.pth", tmp_path / "mmengine" / "epoch_3.pth"):
        checkpoint = torch.load(path, weights_only=False)
        assert ("optimizer" in checkpoint) is save_optimizer, path
        assert "state_dict" in checkpoint


def test_create_symlink_is_mmcvs_on_mmcv_runners_only(tmp_path: Path) -> None:
    trained(tmp_path / "off", dict(interval=1, create_symlink=False), epochs=2)
    assert files(tmp_path / "off") == ["epoch_1.pth", "epoch_2.pth"]
    checkpoint_run(tmp_path / "mmengine", dict(interval=1))  # MMEngine's hook makes none
    assert "latest.pth" not in files(tmp_path / "mmengine")
    checkpoint_run(tmp_path / "asked", dict(interval=1, create_symlink=True))
    assert os.readlink(tmp_path / "asked" / "latest.pth") == "epoch_3.pth"


def test_latest_is_a_copy_where_symlinks_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("symlinks are not allowed here")

    monkeypatch.setattr(os, "symlink", refuse)
    trained(tmp_path, dict(interval=1), epochs=2)
    latest = tmp_path / "latest.pth"
    assert not latest.is_symlink()
    assert latest.read_bytes() == (tmp_path / "epoch_2.pth").read_bytes()


def test_no_meta_no_hook_msgs(tmp_path: Path) -> None:
    runner = trained(tmp_path, dict(interval=1), epochs=1)  # MMCV writes hook_msgs only into a meta
    assert runner.meta is None
    assert runner.message_hub.get_info("last_ckpt") == str(tmp_path / "epoch_1.pth")
