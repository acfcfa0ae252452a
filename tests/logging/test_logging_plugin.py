"""Installing hooks-logging is enough: its hooks build by name, as the core's hints promise."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib.metadata import distribution
from pathlib import Path

from hooks_core.registry import first_party_requirements


def declared(group: str) -> set[str]:
    return {ep.name for ep in distribution("hooks-logging").entry_points if ep.group == group}


def test_declared_names_match_the_cores_install_hints() -> None:
    hinted_hooks = {
        name
        for name, req in first_party_requirements("hook").items()
        if req.startswith("hooks-logging")
    }
    assert declared("hooks_core.hook") == hinted_hooks
    assert set(first_party_requirements("log_backend")) <= declared("hooks_core.log_backend")
    assert declared("hooks_core.default_hooks") == {"logger"}


def test_hooks_and_processor_build_by_name_in_a_fresh_process(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import json, sys
        from hooks_core import HOOKS, LOG_PROCESSORS
        imported_first = "hooks_logging" in sys.modules
        built = [type(HOOKS.build(dict(type=name))).__name__
                 for name in ("LoggerHook", "TextLoggerHook", "TensorboardLoggerHook")]
        processor = LOG_PROCESSORS.build(dict(type="LogProcessor", window_size=5))
        print(json.dumps([imported_first, built, processor.window_size,
                          "torch" in sys.modules]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [
        False,
        ["LoggerHook", "TextLoggerHook", "TensorboardLoggerHook"],
        5,
        False,  # building the logger imports no torch
    ]


def test_logging_to_tensorboard_without_it_names_the_extra(tmp_path: Path) -> None:
    support = Path(__file__).resolve().parents[1] / "support"
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(support)!r})
        sys.modules["tensorboard"] = None  # how Python marks a module as absent
        from toy import runner_kwargs
        from hooks_core import Runner
        runner = Runner(**runner_kwargs({str(tmp_path)!r}), default_hooks=dict(
            logger=dict(type="TensorboardLoggerHook")))
        try:
            runner.train()
        except ImportError as err:
            print(err)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith(
        'TensorboardBackend needs tensorboard: pip install "./packages/hooks-logging[tensorboard]"'
    )
