"""Strict parameter checks: no loose coercion, short echoes, plain messages."""

from __future__ import annotations

import math

import pytest

from lska_demo.core.strict import (
    ECHO_CHARS,
    InputError,
    echo,
    strict_bool,
    strict_choice,
    strict_float,
    strict_int,
    strict_text,
)


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, 2, 1.0])
def test_booleans_are_only_true_or_false(value: object) -> None:
    with pytest.raises(InputError, match="latency must be true or false"):
        strict_bool("latency", value)


def test_booleans_pass_through() -> None:
    assert strict_bool("latency", True) is True and strict_bool("latency", False) is False


@pytest.mark.parametrize("value", [1.5, "4", math.nan, math.inf, True, None, [4]])
def test_integers_are_strict(value: object) -> None:
    with pytest.raises(InputError, match="nc must be a whole number"):
        strict_int("nc", value)


def test_integers_in_range() -> None:
    assert strict_int("n", 4, 1, 16) == 4 and strict_int("n", 4.0, 1, 16) == 4
    with pytest.raises(InputError, match="between 1 and 16"):
        strict_int("n", 17, 1, 16)


@pytest.mark.parametrize("value", ["abc", None, "0.5", math.nan, -math.inf, False])
def test_floats_are_finite_numbers(value: object) -> None:
    with pytest.raises(InputError, match="conf must be a"):
        strict_float("conf", value, 0.0, 1.0)


def test_floats_in_range() -> None:
    assert strict_float("conf", 0.25, 0.0, 1.0) == 0.25
    with pytest.raises(InputError, match="between 0 and 1"):
        strict_float("conf", 1.5, 0.0, 1.0)


def test_choices_compare_type_and_value() -> None:
    assert strict_choice("place", "neck", ["backbone", "neck"]) == "neck"
    with pytest.raises(InputError, match="place must be one of"):
        strict_choice("place", True, [1, 2])


def test_huge_inputs_are_echoed_short() -> None:
    huge = "x" * 16_000_000
    for check in (lambda: strict_float("conf", huge), lambda: strict_text("name", huge, 100)):
        with pytest.raises(InputError) as info:
            check()
        assert len(str(info.value)) < 3 * ECHO_CHARS
    assert len(echo(huge)) == ECHO_CHARS and echo(huge).endswith("…")
    assert echo(7) == "7"
