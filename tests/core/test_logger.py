"""`MMLogger` and `print_log` as MMEngine's tests use them, and the runner's logger being one."""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from toy import runner_kwargs

from hooks_core import FunctionHook, Runner
from hooks_core.runtime import FILE_ONLY, MMLogger, close_logger, print_log

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

CONSOLE_TIME = r"\d{2}/\d{2} \d{2}:\d{2}:\d{2}"
FILE_TIME = r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}"


@pytest.fixture
def make_logger(request: pytest.FixtureRequest) -> Iterator[Callable[..., MMLogger]]:
    """`MMLogger.get_instance` under a name of this test's own; log files closed afterwards."""
    made: list[MMLogger] = []

    def make(suffix: str = "", **kwargs: Any) -> MMLogger:
        made.append(MMLogger.get_instance(f"{request.node.name}{suffix}", **kwargs))
        return made[-1]

    yield make
    for logger in made:
        close_logger(logger)


def test_instances_are_shared_by_name_and_outside_the_logging_tree(
    make_logger: Callable[..., MMLogger],
) -> None:
    logger = make_logger()
    assert isinstance(logger, logging.Logger)
    assert logger.name == "mmengine"
    assert logger.instance_name == "test_instances_are_shared_by_name_and_outside_the_logging_tree"
    assert logger.parent is None and logger.level == logging.NOTSET
    assert logger is MMLogger.get_instance(logger.instance_name)
    assert logger is not logging.getLogger("mmengine")
    (console,) = logger.handlers  # no log file: the console only
    assert type(console) is logging.StreamHandler and console.level == logging.INFO
    assert logger.log_file is None
    named = make_logger(".other", logger_name="mine", log_level=logging.WARNING)
    assert (named.name, named.handlers[0].level) == ("mine", logging.WARNING)


@pytest.mark.parametrize("level", ["WARNING", "INFO", "DEBUG"])
def test_console_and_file_lines_have_mmengine_layout(
    make_logger: Callable[..., MMLogger],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    level: str,
) -> None:
    log_file = tmp_path / "logs" / "run.log"  # the folder is created
    logger = make_logger(log_level=level, log_file=log_file)
    assert [type(h) for h in logger.handlers] == [logging.StreamHandler, logging.FileHandler]
    assert logger.log_file == str(log_file)
    logger.log(logging.getLevelName(level), "welcome")
    logger.log(logging.getLevelName(level) - 1, "below the level")
    console = capsys.readouterr().out
    assert re.fullmatch(rf"{CONSOLE_TIME} - mmengine - {level} - welcome\n", console), console
    text = log_file.read_text()
    assert re.fullmatch(rf"{FILE_TIME} - mmengine - {level} - welcome\n", text), text


def test_error_lines_name_the_file_function_and_line(
    make_logger: Callable[..., MMLogger], capsys: pytest.CaptureFixture[str]
) -> None:
    logger = make_logger()
    logger.error("broken")
    line = sys._getframe().f_lineno - 1
    where = f"{re.escape(__file__)} - {sys._getframe().f_code.co_name} - {line}"
    assert re.fullmatch(
        rf"{CONSOLE_TIME} - mmengine - ERROR - {where} - broken\n", capsys.readouterr().out
    )
    logger.critical("worse")
    assert " - CRITICAL - " in capsys.readouterr().out


def test_a_repeated_warning_shows_once_and_set_level_filters(
    make_logger: Callable[..., MMLogger], capsys: pytest.CaptureFixture[str]
) -> None:
    logger = make_logger()
    logger.warning("careful")
    logger.warning("careful")
    logger.warning("careful, again")
    assert capsys.readouterr().out.count("WARNING") == 2
    logger.info("hello")
    assert "INFO - hello" in capsys.readouterr().out
    logger.setLevel("WARNING")  # cached answers of isEnabledFor are cleared
    logger.info("hello")
    assert capsys.readouterr().out == ""


def test_file_mode_and_file_only_messages(
    make_logger: Callable[..., MMLogger], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "run.log"
    log_file.write_text("old line\n")
    appending = make_logger(".a", log_file=log_file, file_mode="a")
    appending.info("table", extra=FILE_ONLY)
    close_logger(appending)
    assert "table" not in capsys.readouterr().out
    assert log_file.read_text().startswith("old line\n") and "table" in log_file.read_text()
    writing = make_logger(".w", log_file=log_file)  # 'w' by default, as in MMEngine
    writing.info("new")
    assert "old line" not in log_file.read_text()


def test_distributed_or_debug_alone_write_the_plain_log_file(
    make_logger: Callable[..., MMLogger], tmp_path: Path
) -> None:
    # The per-rank files of a multi-process run are checked in test_dist's torchrun test.
    for suffix, options in ((".dist", {"distributed": True}), (".debug", {"log_level": "DEBUG"})):
        logger = make_logger(suffix, log_file=tmp_path / f"{suffix[1:]}.log", **options)
        assert logger.log_file == str(tmp_path / f"{suffix[1:]}.log")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["debug.log", "dist.log"]


@pytest.mark.parametrize(
    ("cfg", "handler_type"),
    [
        ({"type": "RotatingFileHandler", "maxBytes": 1024}, logging.handlers.RotatingFileHandler),
        ({"type": "TimedRotatingFileHandler", "when": "MIDNIGHT"},
         logging.handlers.TimedRotatingFileHandler),
        ({"type": "WatchedFileHandler"}, logging.handlers.WatchedFileHandler),
        ({"type": "BaseRotatingHandler", "mode": "a"}, logging.handlers.BaseRotatingHandler),
    ],
)  # fmt: skip
def test_file_handler_cfg_builds_a_handler_of_logging_handlers(
    tmp_path: Path, cfg: dict[str, Any], handler_type: type[logging.Handler]
) -> None:
    given = dict(cfg)
    logger = MMLogger("direct", log_file=tmp_path / "run.log", file_handler_cfg=cfg)
    assert isinstance(logger.handlers[-1], handler_type)
    assert logger.handlers[-1].baseFilename == str(tmp_path / "run.log")  # type: ignore[attr-defined]
    assert cfg == given  # the caller's dict is left alone
    assert not MMLogger.check_instance_created("direct")  # built directly: not registered
    close_logger(logger)


def test_bad_options_are_refused_with_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"needs a 'type' .* BaseRotatingHandler, Rotating"):
        MMLogger("bad", log_file=tmp_path / "a.log", file_handler_cfg={"maxBytes": 1})
    with pytest.raises(ValueError, match="got 'StreamHandler'"):
        MMLogger("bad", log_file=tmp_path / "a.log", file_handler_cfg={"type": "StreamHandler"})
    with pytest.raises(ValueError, match=r"unknown log level 'LOUD'; use a number or one of"):
        MMLogger("bad", log_level="LOUD")


def test_get_current_instance_makes_a_mmengine_logger_before_any_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(MMLogger, "_instances", {})  # a process that made no logger yet
    monkeypatch.setattr(MMLogger, "_current", None)
    root = MMLogger.get_current_instance()
    assert (root.instance_name, root.name) == ("mmengine", "mmengine")
    assert MMLogger.get_instance("mmengine") is root
    other = MMLogger.get_instance("mmdet")
    assert other is not root and other.name == root.name
    assert MMLogger.get_current_instance() is other


def test_print_log_takes_every_form_of_logger(
    make_logger: Callable[..., MMLogger],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    print_log("plain")
    assert capsys.readouterr().out == "plain\n"
    print_log("dropped", logger="silent")
    assert capsys.readouterr().out == ""
    logger = make_logger()
    for form in (logger, logger.instance_name, "current"):
        print_log(f"welcome {form}", logger=form, level=logging.WARNING)
        line = rf"{CONSOLE_TIME} - mmengine - WARNING - welcome {re.escape(str(form))}\n"
        assert re.fullmatch(line, capsys.readouterr().out), form
    standard = logging.getLogger("test_logger.standard")
    with caplog.at_level(logging.INFO, logger=standard.name):
        print_log("to a standard logger", logger=standard)
    assert [r.getMessage() for r in caplog.records] == ["to a standard logger"]
    with pytest.raises(ValueError, match=r"no MMLogger named 'nobody' exists; create it"):
        print_log("x", logger="nobody")
    with pytest.raises(TypeError, match=r"'current', 'silent' or None, got type: <class 'dict'>"):
        print_log("x", logger=dict)  # type: ignore[arg-type]


def test_the_runner_logger_is_the_experiments_mmlogger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def log_from_a_hook(runner: Runner) -> None:
        MMLogger.get_current_instance().info("an epoch of %s is done", runner.experiment_name)

    kwargs = runner_kwargs(tmp_path, log_level="INFO", train_cfg=dict(by_epoch=True, max_epochs=1))
    runner = Runner(**kwargs, custom_hooks=[FunctionHook("after_train_epoch", log_from_a_hook)])
    try:
        assert isinstance(runner.logger, MMLogger)
        assert runner.logger is MMLogger.get_instance(runner.experiment_name)
        assert runner.logger is MMLogger.get_current_instance()
        log_file = Path(runner.log_dir) / f"{runner.timestamp}.log"
        assert runner.logger.log_file == str(log_file)
        runner.train()
    finally:
        close_logger(runner.logger)
    text = log_file.read_text()
    done = rf"^{FILE_TIME} - mmengine - INFO - an epoch of {runner.experiment_name} is done$"
    assert re.search(done, text, re.MULTILINE)
    assert "Hooks will be executed in the following order" in text  # FILE_ONLY: file only
    console = capsys.readouterr().out
    assert "is done" in console and "Hooks will be executed" not in console
