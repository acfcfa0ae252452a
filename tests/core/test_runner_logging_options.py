"""What the runner keeps for loggers and MMCV configs, with no satellite installed: log dirs,
the log processor's config, MMCV's ``log_config`` shape and keys it does not read."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from toy import runner_kwargs

from hooks_core import NotRegisteredError, Runner

if TYPE_CHECKING:
    from pathlib import Path


def test_runners_started_in_the_same_second_get_their_own_log_dirs(tmp_path: Path) -> None:
    runners = [Runner(**runner_kwargs(tmp_path)) for _ in range(3)]
    log_dirs = {runner.log_dir for runner in runners}
    assert len(log_dirs) == 3
    assert all(runner.log_dir.endswith(runner.timestamp) for runner in runners)


def test_built_train_loop_never_builds_one(tmp_path: Path) -> None:
    runner = Runner(**runner_kwargs(tmp_path))
    assert runner.built_train_loop is None
    loop = runner.train_loop
    assert runner.built_train_loop is loop and loop.by_epoch is True


def test_the_log_processor_is_built_on_first_use_and_names_its_package(tmp_path: Path) -> None:
    runner = Runner(**runner_kwargs(tmp_path), log_processor=dict(window_size=20))
    with pytest.raises(NotRegisteredError, match=r'pip install "\./packages/hooks-logging"'):
        runner.log_processor  # noqa: B018
    given = object()
    assert Runner(**runner_kwargs(tmp_path), log_processor=given).log_processor is given


def test_mmcv_log_config_becomes_the_logger_and_its_hooks(tmp_path: Path) -> None:
    cfg = dict(
        runner_kwargs(tmp_path),
        log_config=dict(interval=7, hooks=[dict(type="TextLoggerHook")]),
    )
    hint = r'pip install "\./packages/hooks-logging"'
    with pytest.raises(NotRegisteredError, match=hint) as info:
        Runner.from_cfg(cfg)
    assert "'LoggerHook'" in str(info.value)


def test_an_mmcv_lr_config_needs_hooks_optim_and_says_so(tmp_path: Path) -> None:
    cfg = dict(runner_kwargs(tmp_path), lr_config=dict(policy="step", step=[2]))
    with pytest.raises(NotRegisteredError, match=r'pip install "\./packages/hooks-optim"') as info:
        Runner.from_cfg(cfg)
    assert "'StepLrUpdaterHook'" in str(info.value)
