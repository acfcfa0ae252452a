"""hooks-core builds a wheel that is typed, versioned and has no required dependency."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wheels import build_wheel, release_problems

import hooks_core

if TYPE_CHECKING:
    from pathlib import Path


def test_wheel_contents_and_metadata(tmp_path: Path) -> None:
    wheel = build_wheel("hooks-core", tmp_path)
    names, metadata = wheel.names, wheel.metadata
    assert "hooks_core/py.typed" in names
    assert release_problems(wheel) == []  # license, authors, URLs, absolute README links
    assert "hooks_core/__init__.py" in names
    assert not any(name.startswith("tests/") for name in names)
    assert metadata["Name"] == "hooks-core"
    assert metadata["Version"] == hooks_core.__version__
    # Only optional extras; nothing is required at install time.
    requires = metadata.get_all("Requires-Dist") or []
    assert sorted(requires) == [
        "fsspec>=2023.3; extra == 's3'",
        "pyyaml>=5.1; extra == 'yaml'",
        "s3fs>=2023.3; extra == 's3'",
        "torch>=2.1; extra == 'torch'",
    ]
    assert "[console_scripts]\nhooks-train = hooks_core.cli:main" in wheel.entry_points
    assert "hooks-core" in (metadata.get_payload() or "")  # the README is the long description
