"""Paired statistics: a consistent small gain is found, a zero-mean one is not, few seeds are said to be few."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from lska_demo.core.stats import (
    compare_paired,
    init_p_value,
    init_test_power,
    paired_differences,
    paired_verdict,
    t_interval,
)
from lska_demo.zoo.report import compare_to_control

# The control's spread over seeds (0.0166) is far larger than the spread of the paired differences.
CONTROL = {0: 0.6000, 1: 0.5834, 2: 0.6166}


def test_a_consistent_small_gain_is_detected() -> None:
    variant = {0: 0.6150, 1: 0.5994, 2: 0.6321}  # +0.015, +0.016, +0.0155
    assert statistics.stdev(CONTROL.values()) == pytest.approx(0.0166)
    result = compare_paired(variant, CONTROL)
    assert result.mean == pytest.approx(0.0155) and result.std == pytest.approx(0.0005)
    assert result.mean > statistics.stdev(CONTROL.values()) * 0.9  # the unpaired yardstick would call it noise
    assert result.p_value is not None and result.p_value < 0.001
    assert result.significant is True and (result.higher, result.lower) == (3, 0)
    low, high = result.ci95
    assert 0 < low < result.mean < high
    assert result.verdict.startswith("higher, significant at 0.05")


def test_a_zero_mean_difference_is_not() -> None:
    variant = {0: 0.6100, 1: 0.5800, 2: 0.6100}  # +0.010, -0.0034, -0.0066: mean 0
    result = compare_paired(variant, CONTROL)
    assert result.mean == pytest.approx(0.0, abs=1e-12)
    assert result.significant is False and result.p_value > 0.5
    assert result.ci95[0] < 0 < result.ci95[1]
    assert result.verdict.startswith("no detectable difference")


def test_few_seeds_are_named_as_too_few() -> None:
    assert compare_paired({0: 0.618}, {0: 0.600}).verdict == "one seed: cannot tell"
    both = compare_paired({0: 0.618, 1: 0.606}, {0: 0.600, 1: 0.583})  # the from-scratch pair
    assert both.verdict == "higher on both seeds, too few seeds to tell"
    assert both.significant is None and both.p_value is None and both.ci95 is not None
    lower = compare_paired({0: 0.59, 1: 0.57}, {0: 0.60, 1: 0.58})
    assert lower.verdict == "lower on both seeds, too few seeds to tell"
    assert compare_paired({0: 0.61, 1: 0.57}, {0: 0.60, 1: 0.58}).verdict.startswith("mixed on two seeds")
    assert compare_paired({3: 0.9}, CONTROL).verdict == "no control for these seeds"


def test_pairs_only_shared_seeds_and_handles_identical_differences() -> None:
    assert paired_differences({0: 0.5, 2: 0.7, 5: 0.1}, {0: 0.4, 2: 0.6}) == pytest.approx({0: 0.1, 2: 0.1})
    same = compare_paired({0: 0.61, 1: 0.62, 2: 0.63}, {0: 0.60, 1: 0.61, 2: 0.62})
    assert same.significant is True  # every seed moved by the same amount: zero spread, p = 0
    assert compare_paired(CONTROL, CONTROL).verdict.startswith("no detectable difference")
    assert t_interval([0.1]) is None


def test_report_uses_the_paired_judgement() -> None:
    result = compare_to_control({0: 0.6150, 1: 0.5994, 2: 0.6321}, CONTROL)
    assert result.significant is True and result.n == 3


def test_delta_figure_draws_intervals_and_single_seeds() -> None:
    from lska_demo.present.plots import delta_figure

    row = {"model": "yolov8n-lska23-sppf", "regime": "fine-tune", "pairs": 3, "significant": True}
    rows = [
        {**row, "delta_vs_control": 0.0155, "delta_ci95": [0.0143, 0.0167]},
        {
            **row,
            "model": "yolov8n-lska7-sppf",
            "pairs": 1,
            "significant": None,
            "delta_vs_control": -0.001,
            "delta_ci95": None,
        },
        {**row, "model": "yolov8n", "delta_vs_control": None, "delta_ci95": None},  # the control: no Δ
    ]
    image = delta_figure(rows)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.std() > 0
    assert delta_figure([]).shape[2] == 3


def test_two_tied_seeds_are_called_identical_not_mixed() -> None:
    assert paired_verdict([0.0, 0.0], None) == "identical on both seeds, too few seeds to tell"


def test_the_init_test_tells_untouched_inits_from_trained_kernels() -> None:
    rng = np.random.default_rng(1)
    fan = 5
    bound = 1 / np.sqrt(fan)
    assert init_p_value(rng.uniform(-bound, bound, (256, 1, 1, fan))) > 1e-3  # PyTorch's default init
    assert init_p_value(rng.normal(0, np.sqrt(2 / fan), (256, 1, fan, 1))) > 1e-3  # VAN's init
    assert init_p_value(rng.normal(0, 3 * bound, (256, 1, 1, fan))) < 1e-12  # grown five-fold, Gaussian


def test_the_init_test_has_no_power_on_a_small_kernel_that_drifted_without_structure() -> None:
    """Why the residual gates' 16- and 32-channel kernels stay "not told apart" after training: a kernel that
    grew by half looks random to the test below 64 channels, and near VAN's spread at any size."""
    assert init_test_power(16, 5, growth=1.5) < 0.05 and init_test_power(32, 5, growth=1.5) < 0.2
    assert init_test_power(64, 5, growth=1.5) > 0.9 and init_test_power(256, 5, growth=1.5) > 0.99
    assert max(init_test_power(c, 5, growth=2.45) for c in (16, 64, 256)) < 0.05  # VAN's N(0, sqrt(2/fan))
    assert init_test_power(16, 5, growth=8.0) > 0.95  # only a several-fold growth shows on 80 values
