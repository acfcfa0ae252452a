"""Plugin discovery through entry points, with a real installed test plugin."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from hooks_core import (
    HOOKS,
    LOOPS,
    Hook,
    HookList,
    NotRegisteredError,
    PluginConflictError,
    clear_plugin_cache,
)

if TYPE_CHECKING:
    from pathlib import Path


def run_python(code: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_installed_plugin_hook_builds_by_name_without_an_import() -> None:
    result = run_python(
        """
        import json, sys
        from hooks_core import HOOKS
        names = HOOKS.available_names()
        imported_by_listing = "hooks_testplugin" in sys.modules
        hook = HOOKS.build(dict(type="CountingHook", start=2))
        print(json.dumps({
            "listed": [n for n in names if n in ("CountingHook", "DecoratedHook")],
            "imported_by_listing": imported_by_listing,
            "class": type(hook).__module__ + "." + type(hook).__name__,
            "count": hook.count,
            "decorated_loaded": "hooks_testplugin.decorated" in sys.modules,
        }))
        """
    )
    assert result == {
        "listed": ["CountingHook", "DecoratedHook"],
        "imported_by_listing": False,
        "class": "hooks_testplugin.CountingHook",
        "count": 2,
        "decorated_loaded": False,  # only the entry point that was asked for is loaded
    }


def test_plugin_hooks_register_and_dispatch_like_local_ones() -> None:
    hooks = HookList(owner=None)
    counting = hooks.register({"type": "CountingHook"})
    decorated = hooks.register({"type": "DecoratedHook"})
    assert [type(h).__name__ for h in hooks] == ["DecoratedHook", "CountingHook"]  # NORMAL < LOW
    hooks.call_hook("before_run")
    hooks.call_hook("after_train_iter", batch_idx=0, data_batch=None, outputs=None)
    assert decorated.ran is True  # type: ignore[attr-defined]
    assert counting.count == 1  # type: ignore[attr-defined]
    assert LOOPS.build({"type": "CountdownLoop", "steps": 3}).steps == 3


def write_distribution(site: Path, name: str, entry_points: str) -> None:
    """A minimal installed distribution: real metadata that importlib.metadata reads."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    clear_plugin_cache()
    yield tmp_path
    clear_plugin_cache()


def test_two_distributions_claiming_one_name_is_an_error_naming_both(site: Path) -> None:
    for dist in ("hooks-rival-a", "hooks-rival-b"):
        write_distribution(
            site, dist, f"[hooks_core.hook]\nRivalHook = {dist.replace('-', '_')}:Hook\n"
        )
    with pytest.raises(PluginConflictError) as info:
        HOOKS.get("RivalHook")
    message = str(info.value)
    assert "'RivalHook'" in message and "'hooks_core.hook'" in message
    assert "hooks-rival-a (hooks_rival_a:Hook)" in message
    assert "hooks-rival-b (hooks_rival_b:Hook)" in message
    assert HOOKS.get("CountingHook") is not None  # other names still resolve


def test_entry_point_to_a_module_that_does_not_register_is_reported(site: Path) -> None:
    (site / "hooks_silent.py").write_text("VALUE = 1\n")
    write_distribution(site, "hooks-silent", "[hooks_core.hook]\nSilentHook = hooks_silent\n")
    with pytest.raises(
        NotRegisteredError,
        match="'hooks_silent' of hooks-silent was imported but did not register 'SilentHook'",
    ):
        HOOKS.get("SilentHook")
    sys.modules.pop("hooks_silent", None)


def test_entry_point_to_a_class_registers_it_under_the_entry_point_name(site: Path) -> None:
    (site / "hooks_plain.py").write_text(
        "from hooks_core import Hook\nclass PlainHook(Hook):\n    pass\n"
    )
    write_distribution(
        site, "hooks-plain", "[hooks_core.hook]\nAliasedHook = hooks_plain:PlainHook\n"
    )
    hook = HOOKS.build({"type": "AliasedHook"})
    assert isinstance(hook, Hook) and type(hook).__name__ == "PlainHook"
    assert "AliasedHook" in HOOKS.module_dict
    sys.modules.pop("hooks_plain", None)


def test_plugins_contribute_default_hooks_in_mmengine_order(site: Path, tmp_path: Path) -> None:
    from hooks_core import Runner

    (site / "hooks_extra_defaults.py").write_text(
        textwrap.dedent(
            """
            from hooks_core import HOOKS, Hook

            @HOOKS.register_module()
            class SavingHook(Hook):
                priority = "VERY_LOW"

                def __init__(self, interval):
                    self.interval = interval

            @HOOKS.register_module()
            class LoggingHook(Hook):
                priority = "BELOW_NORMAL"

            CHECKPOINT = dict(type="SavingHook", interval=1)
            """
        )
    )
    write_distribution(
        site,
        "hooks-extra-defaults",
        "[hooks_core.default_hooks]\n"
        "checkpoint = hooks_extra_defaults:CHECKPOINT\n"
        "logger = hooks_extra_defaults:LoggingHook\n",
    )
    runner = Runner(model=object(), work_dir=str(tmp_path), log_level="WARNING")
    assert [type(h).__name__ for h in runner.hooks] == [
        "RuntimeInfoHook",
        "IterTimerHook",
        "DistSamplerSeedHook",
        "LoggingHook",
        "SavingHook",
    ]
    overridden = Runner(
        model=object(),
        work_dir=str(tmp_path),
        default_hooks=dict(checkpoint=dict(type="SavingHook", interval=5), logger=None),
        log_level="WARNING",
    )
    assert [type(h).__name__ for h in overridden.hooks][-1] == "SavingHook"
    assert "LoggingHook" not in [type(h).__name__ for h in overridden.hooks]
    assert overridden.hooks[-1].interval == 5  # type: ignore[attr-defined]
    sys.modules.pop("hooks_extra_defaults", None)


def test_names_a_plugin_does_not_declare_are_found_through_its_module() -> None:
    result = run_python(
        """
        import json, sys
        from hooks_core import LOOPS
        before = "hooks_testplugin.undeclared" in sys.modules
        loop = LOOPS.build(dict(type="UndeclaredLoopAlias", steps=4))
        print(json.dumps({"before": before, "steps": loop.steps,
                          "class": type(loop).__name__}))
        """
    )
    assert result == {"before": False, "steps": 4, "class": "UndeclaredLoop"}
