"""Priority levels and get_priority."""

from __future__ import annotations

import pytest

from hooks_core import Priority, get_priority
from hooks_core.engine import UnknownPriorityError


def test_levels_match_mmengine() -> None:
    assert {p.name: p.value for p in Priority} == {
        "HIGHEST": 0,
        "VERY_HIGH": 10,
        "HIGH": 30,
        "ABOVE_NORMAL": 40,
        "NORMAL": 50,
        "BELOW_NORMAL": 60,
        "LOW": 70,
        "VERY_LOW": 90,
        "LOWEST": 100,
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (0, 0),
        (45, 45),
        (100, 100),
        ("LOW", 70),
        ("very_high", 10),
        ("Normal", 50),
        (Priority.LOWEST, 100),
    ],
)
def test_get_priority_accepts_ints_names_and_members(given: object, expected: int) -> None:
    assert get_priority(given) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("given", [-1, 101])
def test_out_of_range_int_names_value_and_range(given: int) -> None:
    with pytest.raises(ValueError, match=rf"priority {given} is out of range.*0 to 100"):
        get_priority(given)


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"unknown priority 'URGENT'.*HIGHEST.*VERY_LOW.*LOWEST"):
        get_priority("URGENT")


def test_an_unknown_name_is_also_the_key_error_mmengine_raises() -> None:
    with pytest.raises(KeyError) as info:
        get_priority("URGENT")
    assert isinstance(info.value, UnknownPriorityError) and isinstance(info.value, ValueError)
    assert str(info.value).startswith("unknown priority 'URGENT'")  # not quoted like a KeyError


@pytest.mark.parametrize("given", [1.5, None, True])
def test_other_types_are_rejected(given: object) -> None:
    with pytest.raises(TypeError, match="priority must be"):
        get_priority(given)  # type: ignore[arg-type]
