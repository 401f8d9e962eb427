"""The bench's ONNX section: ONNX Runtime vs PyTorch latency of baseline and LSKA, from one interleaved run."""

import pytest

from lska_demo.bench import SECTIONS, bench_onnx


def test_onnx_rows_are_ratios_of_the_measured_medians() -> None:
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
    # the detail prints medians to 0.1 ms, so the ratio matches them to that rounding
    assert checks[0].value == pytest.approx(ms["onnxruntime/lska"] / ms["onnxruntime/baseline"], rel=0.05)
    assert all(c.value > 0 and c.limit is None and "k=7 at sppf, 64 px" in c.detail for c in checks)
