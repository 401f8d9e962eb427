"""The bench's ONNX section: ONNX Runtime vs PyTorch latency of baseline and LSKA, interleaved in each round."""

import pytest

from lska_demo.app.bench import SECTIONS, bench_onnx


def test_onnx_rows_are_per_round_ratios_with_their_spread() -> None:
    checks = bench_onnx(repeats=1, imgsz=64, k=7)
    assert SECTIONS["onnx"] is bench_onnx
    assert [c.name for c in checks] == [
        "ONNX Runtime CPU latency, LSKA / baseline",
        "PyTorch CPU latency, LSKA / baseline",
        "ONNX Runtime / PyTorch latency, LSKA",
    ]
    medians = dict(part.rsplit(" ", 1) for part in checks[0].detail.split("median ms: ")[1].split(", "))
    ms = {name: float(value) for name, value in medians.items()}
    assert set(ms) == {"torch/baseline", "onnxruntime/baseline", "torch/lska", "onnxruntime/lska"}
    for check in checks:  # each ratio is the median of per-round ratios, with its spread over >= 5 rounds
        low, mid, high = check.spread
        assert check.rounds >= 5 and low <= mid <= high and mid == pytest.approx(check.value)
    assert all(c.value > 0 and c.limit is None for c in checks) and "k=7 at sppf, 64 px" in checks[0].detail
