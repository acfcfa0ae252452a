"""The hooks-optim wheel: typed, a compatible hooks-core range, and its plugin entry points."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wheels import build_wheel, release_problems

import hooks_optim

if TYPE_CHECKING:
    from pathlib import Path


def test_wheel_metadata_and_entry_points(tmp_path: Path) -> None:
    wheel = build_wheel("hooks-optim", tmp_path)
    names, metadata = wheel.names, wheel.metadata
    entry_points = wheel.entry_points
    assert "hooks_optim/py.typed" in names
    assert release_problems(wheel) == []  # license, authors, URLs, absolute README links
    assert metadata["Version"] == hooks_optim.__version__
    requires = metadata.get_all("Requires-Dist") or []
    assert "hooks-core<0.2,>=0.1" in requires
    assert "torch>=2.1" in requires
    assert "[hooks_core.plugins]\nhooks_optim = hooks_optim" in entry_points
    assert "param_scheduler = hooks_optim:ParamSchedulerHook" in entry_points
