"""The core stays light: importing it pulls in neither torch nor numpy."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import hooks_core


def test_import_does_not_load_torch_or_numpy() -> None:
    # Both are installed in the test environment, so this check can fail.
    assert importlib.util.find_spec("torch") is not None
    assert importlib.util.find_spec("numpy") is not None
    code = (
        "import json, sys, hooks_core;"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_public_names_are_exported() -> None:
    for name in ("Hook", "Priority", "get_priority", "Registry", "HOOKS", "LOOPS", "HookList"):
        assert name in hooks_core.__all__
        assert getattr(hooks_core, name) is not None
    assert all(hasattr(hooks_core, name) for name in hooks_core.__all__)


def test_no_satellite_is_installed_in_the_core_environment() -> None:
    # The core's tests must prove that hooks-core works on its own.
    for module in ("hooks_optim", "hooks_logging", "hooks_eval"):
        assert importlib.util.find_spec(module) is None, f"{module} should not be installed here"


def test_the_runner_loads_on_first_use_and_builtins_resolve_by_name() -> None:
    code = (
        "import json, sys, hooks_core;"
        "lazy = [m for m in ('hooks_core.runner', 'hooks_core.hooks', 'hooks_core.model')"
        " if m in sys.modules];"
        "hook = hooks_core.HOOKS.build({'type': 'IterTimerHook'});"
        "loop = hooks_core.LOOPS.get('EpochBasedTrainLoop');"
        "print(json.dumps([lazy, type(hook).__name__, loop.__name__,"
        " hooks_core.Runner.__module__]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [
        [],
        "IterTimerHook",
        "EpochBasedTrainLoop",
        "hooks_core.runner._runner",
    ]
