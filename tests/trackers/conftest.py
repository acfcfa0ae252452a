"""Every tracker test runs offline in a temp folder of its own, the frameworks' noise filtered."""

from __future__ import annotations

from pathlib import Path

import pytest
from trackers_parts import FRAMEWORK_NOISE, isolate

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            for noise in FRAMEWORK_NOISE:
                item.add_marker(pytest.mark.filterwarnings(noise))
