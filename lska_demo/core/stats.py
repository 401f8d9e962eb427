"""Paired statistics for a variant against its control, seed by seed.

A variant and its control trained with the same seed share the seed's data order and augmentation. Fine-tunes
and adapters also share their starting weights (the same parent; only the inserted gate is new), so much of the
seed-to-seed spread cancels in their difference. From scratch they share less: inserting a gate shifts every
later random draw, so the two arms start from different weights and the pairing removes only the data order's
part of the spread. Either way the yardstick for a gain is the spread of the paired differences, not the
control's own spread over seeds. With one or two seeds no test has any power; the verdict says so instead of
guessing.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

ALPHA = 0.05


@dataclass(frozen=True)
class PairedComparison:
    """Variant − control per shared seed, summarised.

    ``significant`` is None when there are too few seeds for a test (n < 3), else whether the paired
    t-test rejects "no difference" at ``ALPHA``.
    """

    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    mean: float | None
    std: float | None
    ci95: tuple[float, float] | None
    p_value: float | None
    higher: int
    lower: int
    significant: bool | None
    verdict: str

    @property
    def n(self) -> int:
        return len(self.seeds)


def paired_differences(variant: Mapping[int, float], control: Mapping[int, float]) -> dict[int, float]:
    """variant[s] − control[s] for every seed s both have, in seed order."""
    return {s: variant[s] - control[s] for s in sorted(set(variant) & set(control))}


def t_interval(differences: list[float], level: float = 0.95) -> tuple[float, float] | None:
    """The t confidence interval of the mean difference; None below two values."""
    n = len(differences)
    if n < 2:
        return None
    mean, std = statistics.fmean(differences), statistics.stdev(differences)
    half = float(scipy_stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return mean - half, mean + half


def paired_p_value(variant: list[float], control: list[float]) -> float | None:
    """Two-sided paired t-test p-value (scipy.stats.ttest_rel); None below three pairs.

    When every difference is the same the t statistic is undefined (zero spread): p is then 0 for a
    non-zero difference (every seed moved by exactly the same amount) and 1 for none.
    """
    if len(variant) < 3:
        return None
    differences = [v - c for v, c in zip(variant, control, strict=True)]
    if statistics.pstdev(differences) == 0.0:
        return 0.0 if differences[0] != 0.0 else 1.0
    return float(scipy_stats.ttest_rel(variant, control).pvalue)


def _direction(mean: float) -> str:
    return "higher" if mean > 0 else "lower"


def paired_verdict(differences: list[float], p_value: float | None, alpha: float = ALPHA) -> str:
    """The judgement in plain words, honest about how many seeds it rests on."""
    n = len(differences)
    if n == 0:
        return "no control for these seeds"
    if n == 1:
        return "one seed: cannot tell"
    if n == 2:
        if all(d > 0 for d in differences) or all(d < 0 for d in differences):
            return f"{_direction(differences[0])} on both seeds, too few seeds to tell"
        if all(d == 0 for d in differences):
            return "identical on both seeds, too few seeds to tell"
        return "mixed on two seeds, too few seeds to tell"
    mean = statistics.fmean(differences)
    if p_value is not None and p_value < alpha:
        return f"{_direction(mean)}, significant at {alpha:g} (paired t-test, p = {p_value:.2g}, {n} seeds)"
    return f"no detectable difference (paired t-test, p = {p_value:.2g}, {n} seeds)"


def compare_paired(
    variant: Mapping[int, float], control: Mapping[int, float], alpha: float = ALPHA
) -> PairedComparison:
    """Pair ``variant`` and ``control`` by seed and judge the differences.

    Args:
        variant: seed -> metric of the variant.
        control: seed -> metric of its control (same regime, recipe and seed).
        alpha: the test's significance level.
    """
    diffs = paired_differences(variant, control)
    seeds, values = tuple(diffs), list(diffs.values())
    p_value = paired_p_value([variant[s] for s in seeds], [control[s] for s in seeds])
    return PairedComparison(
        seeds=seeds,
        differences=tuple(values),
        mean=statistics.fmean(values) if values else None,
        std=statistics.stdev(values) if len(values) > 1 else None,
        ci95=t_interval(values),
        p_value=p_value,
        higher=sum(d > 0 for d in values),
        lower=sum(d < 0 for d in values),
        significant=None if p_value is None else p_value < alpha,
        verdict=paired_verdict(values, p_value, alpha),
    )


# A depthwise kernel needs this many taps for its weights' distribution to say anything: the KS tests below have
# too little power on 3-tap kernels after a short training (their 768 values at C=256 still pass for U(-b, b)).
MIN_TAPS_FOR_INIT_TEST = 5


def init_p_value(weight: Any) -> float:
    """How well a depthwise kernel ``weight`` (C x 1 x kh x kw) still fits a random init: the larger Kolmogorov-
    Smirnov p-value against PyTorch's default U(-1/sqrt(fan), 1/sqrt(fan)) and VAN's N(0, sqrt(2/fan)). Near 1 for
    kernels that never moved; below 1e-3 they can be told from both."""
    values = np.asarray(weight, dtype=np.float64)
    fan = values.shape[2] * values.shape[3]
    flat = values.ravel()
    uniform = scipy_stats.kstest(flat * math.sqrt(fan), "uniform", args=(-1, 2)).pvalue
    normal = scipy_stats.kstest(flat / math.sqrt(2 / fan), "norm").pvalue
    return float(max(uniform, normal))


def init_test_power(channels: int, taps: int, growth: float, alpha: float = 1e-3, draws: int = 200) -> float:
    """The power of ``init_p_value`` on a kernel of ``channels`` x ``taps`` values: the share of ``draws`` Gaussian
    kernels whose spread is ``growth`` times that of PyTorch's U(-b, b) init which it tells apart from both inits
    at p < ``alpha``. A kernel that drifted without structure looks like this; near VAN's spread (growth 2.45)
    no size helps, and a small kernel must grow several-fold before the test sees it (seeded: reproducible)."""
    rng = np.random.default_rng(0)
    spread = growth / math.sqrt(3 * taps)  # U(-b, b) with b = 1/sqrt(taps) has std b / sqrt(3)
    kernels = rng.normal(0.0, spread, (draws, channels, 1, 1, taps))
    return float(np.mean([init_p_value(kernel) < alpha for kernel in kernels]))
