"""Validation of what a visitor sends, and the vocabulary its messages and choices read."""

from __future__ import annotations

import re

import pytest

from lska_demo.analysis.attention import class_activation_map
from lska_demo.app.inputs import (
    InputError,
    check_block,
    check_choice,
    check_classes,
    check_flag,
    check_fraction,
    check_images,
    check_k,
    check_method,
    check_point,
    check_scale,
    require_image,
)
from lska_demo.model.kernels import BLOCKS
from lska_demo.model.vocabulary import BLOCK_LABELS, CAM_METHODS, POINT_LABELS, choices, described
from lska_demo.model.yolo import INSERTION_POINTS, SCALES


@pytest.mark.parametrize("k", [23, 23.0])
def test_whole_numbers_arrive_as_int_or_integral_float(k: object) -> None:
    assert check_k(k) == 23 and check_classes(k) == 23


@pytest.mark.parametrize("value", ["23", " 23 ", 23.5, float("nan"), True, None, [23]])
def test_whole_numbers_are_strict(value: object) -> None:
    """Issue 14: no text, no fraction rounded, no NaN, no bool passed for a number."""
    with pytest.raises(InputError, match="whole number"):
        check_classes(value)
    with pytest.raises(InputError, match="kernel size must be one of"):
        check_k(value)


@pytest.mark.parametrize("value", ["yes", 2, 1, None, "true"])
def test_flags_are_true_or_false_only(value: object) -> None:
    with pytest.raises(InputError, match="must be true or false"):
        check_flag("measure latency", value)
    assert check_flag("measure latency", True) is True


@pytest.mark.parametrize("value", ["abc", None, "0.5", float("nan"), float("inf"), 1.5, -0.1])
def test_fractions_are_numbers_between_0_and_1(value: object) -> None:
    with pytest.raises(InputError, match="confidence threshold must be"):
        check_fraction("confidence threshold", value)


def test_run_time_choices_keep_their_type() -> None:
    assert check_choice("layer", "neck", ["neck", "head"]) == "neck"
    with pytest.raises(InputError, match="layer must be one of"):
        check_choice("layer", ["neck"], ["neck", "head"])


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (check_point, "backbone", "residual, sppf, neck, head"),
        (check_block, "cbam", re.escape("'gate' (bare LSKA gate")),
        (check_method, "lime", re.escape("'eigen' (EigenCAM")),
        (check_scale, "xl", "n, s, m, l, x"),
        (check_classes, 0, "between 1 and 10000"),
        (check_classes, 2.5, "whole number"),
        (require_image, b"", "no image"),
    ],
)
def test_bad_values_say_what_is_allowed(check: object, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check(value)  # type: ignore[operator]


def test_a_huge_input_is_not_echoed() -> None:
    with pytest.raises(ValueError) as caught:
        check_point("x" * 100_000)
    assert len(str(caught.value)) < 200 and str(caught.value).endswith("…")


def test_at_most_sixteen_images_and_empty_ones_dropped() -> None:
    assert check_images([None, "a.jpg", None]) == ["a.jpg"] and check_images(None) == []
    with pytest.raises(ValueError, match="at most 16 images"):
        check_images(["a.jpg"] * 17)


def test_the_vocabulary_names_exactly_what_is_defined() -> None:
    assert list(POINT_LABELS) == list(INSERTION_POINTS) and list(BLOCK_LABELS) == list(BLOCKS)
    assert choices(BLOCK_LABELS)[0] == (BLOCK_LABELS["gate"], "gate")
    assert described(CAM_METHODS).startswith("'eigen' (EigenCAM")
    assert check_scale(SCALES[-1]) == SCALES[-1]


def test_the_engine_reads_the_same_cam_registry() -> None:
    with pytest.raises(ValueError, match="choose one of \\['eigen', 'grad'\\]"):
        class_activation_map(None, None, method="lime")  # type: ignore[arg-type]
