"""DefaultScope and init_default_scope: the scope builds use, reachable from anywhere."""

from __future__ import annotations

import pytest

from hooks_core.registry import DefaultScope, init_default_scope


@pytest.fixture(autouse=True)
def no_default_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start without a default scope and leave none behind (it is process-wide)."""
    monkeypatch.setattr(DefaultScope, "_instances", {})
    monkeypatch.setattr(DefaultScope, "_current", None)


def test_there_is_no_current_scope_until_one_is_created() -> None:
    assert DefaultScope.get_current_instance() is None  # None, not an error
    scope = DefaultScope.get_instance("task", scope_name="mylib")
    assert (scope.instance_name, scope.scope_name) == ("task", "mylib")
    assert DefaultScope.get_current_instance() is scope
    assert DefaultScope.get_instance("task") is scope
    other = DefaultScope.get_instance("other", scope_name="otherlib")
    DefaultScope.get_instance("task")
    assert DefaultScope.get_current_instance() is other  # the newest, as in MMEngine


def test_scope_name_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="scope_name must be a str, got int"):
        DefaultScope.get_instance("task", scope_name=1)  # type: ignore[arg-type]


def test_overwrite_default_scope_restores_the_previous_one() -> None:
    with DefaultScope.overwrite_default_scope("inner"):
        assert DefaultScope.get_current_instance().scope_name == "inner"  # type: ignore[union-attr]
    assert DefaultScope.get_current_instance() is None
    outer = DefaultScope.get_instance("task", scope_name="outer")
    with DefaultScope.overwrite_default_scope(None):
        assert DefaultScope.get_current_instance() is outer
    with DefaultScope.overwrite_default_scope("inner"):
        with DefaultScope.overwrite_default_scope("innermost"):
            assert DefaultScope.get_current_instance().scope_name == "innermost"  # type: ignore[union-attr]
        assert DefaultScope.get_current_instance().scope_name == "inner"  # type: ignore[union-attr]
    assert DefaultScope.get_current_instance() is outer
    assert list(DefaultScope._instances) == ["task"]  # the temporary ones are gone


def test_init_default_scope_creates_or_replaces_the_current_scope(
    caplog: pytest.LogCaptureFixture,
) -> None:
    init_default_scope("mmdet")
    first = DefaultScope.get_current_instance()
    assert first is not None and first.scope_name == "mmdet"
    assert DefaultScope.check_instance_created("mmdet")
    init_default_scope("mmdet")  # already current: nothing changes
    assert DefaultScope.get_current_instance() is first
    with caplog.at_level("WARNING", logger="hooks_core.registry"):
        init_default_scope("mmcls")
    assert DefaultScope.get_current_instance().scope_name == "mmcls"  # type: ignore[union-attr]
    assert "the default scope 'mmdet' is replaced by 'mmcls'" in caplog.text
    init_default_scope("mmdet")
    again = DefaultScope.get_current_instance()
    assert again is not None and again is not first and again.scope_name == "mmdet"
