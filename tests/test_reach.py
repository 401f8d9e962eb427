"""Where a larger k can widen the field: the map each gate sees, padding, and the gate's own ERF against k."""

from __future__ import annotations

from itertools import pairwise

import pytest

from lska_demo.analysis.cascade import teaching_gate
from lska_demo.analysis.reach import gate_map_sides, padding_share, reach_vs_k
from lska_demo.model.kernels import PAPER_KERNEL_SIZES
from lska_demo.model.yolo import VariantSpec, build_model


def test_map_sides_are_measured_per_gate() -> None:
    sppf = build_model(VariantSpec(k=23, point="sppf", nc=4))
    assert set(gate_map_sides(sppf, 256).values()) == {8}  # P5 of a 256 px input
    assert set(gate_map_sides(sppf, 640).values()) == {20}
    head = build_model(VariantSpec(k=23, point="head", nc=4))
    assert sorted(gate_map_sides(head, 640).values()) == [20, 40, 80]  # P5, P4, P3


def test_padding_share() -> None:
    assert padding_share(7, 8) == 0.0
    assert padding_share(53, 8) == pytest.approx(1 - (8 / 53) ** 2)
    assert padding_share(53, 80) == 0.0


def test_the_field_grows_with_k_only_where_the_map_is_wide_enough() -> None:
    gates = {k: teaching_gate("lska", k).float() for k in PAPER_KERNEL_SIZES}
    wide = [row.ratio for row in reach_vs_k(gates, 96)]
    assert all(b > a for a, b in pairwise(wide)), wide  # every paper size fits 96 px
    narrow = reach_vs_k(gates, 8)
    beyond = {row.ratio for row in narrow if row.k >= 15}  # past 2 * 8 - 1 the whole map is already reached
    assert len(beyond) == 1, narrow
    assert all(row.padding_share > 0.5 for row in narrow if row.k >= 23)
