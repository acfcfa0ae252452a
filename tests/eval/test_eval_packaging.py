"""The hooks-eval wheel: typed, a compatible hooks-core range, and its plugin entry points."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wheels import build_wheel, release_problems

import hooks_eval

if TYPE_CHECKING:
    from pathlib import Path


def test_wheel_metadata_and_entry_points(tmp_path: Path) -> None:
    wheel = build_wheel("hooks-eval", tmp_path)
    assert "hooks_eval/py.typed" in wheel.names
    assert release_problems(wheel) == []  # license, authors, URLs, absolute README links
    assert wheel.metadata["Version"] == hooks_eval.__version__
    requires = wheel.metadata.get_all("Requires-Dist") or []
    assert "hooks-core<0.2,>=0.1" in requires
    assert "torch>=2.1" in requires
    assert "hooks-core[s3]<0.2,>=0.1; extra == 's3'" in requires
    entry_points = wheel.entry_points
    assert "[hooks_core.plugins]\nhooks_eval = hooks_eval" in entry_points
    assert "checkpoint = hooks_eval:DEFAULT_CHECKPOINT_HOOK" in entry_points
    for group, name in [("metric", "Accuracy"), ("metric", "MeanSquaredError"),
                        ("evaluator", "Evaluator"), ("hook", "EarlyStoppingHook")]:  # fmt: skip
        assert f"[hooks_core.{group}]" in entry_points
        assert f"{name} = hooks_eval:{name}" in entry_points
