"""The report judges each variant against the control of its own regime, paired by seed, from the manifest alone."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from lska_demo.model.yolo import VariantSpec
from lska_demo.zoo.manifest import Manifest
from lska_demo.zoo.report import design_markdown, design_rows, verdict_rows
from lska_demo.zoo.shuffle import shuffle_summary

POINTWISE = {0: 0.600, 1: 0.610, 2: 0.590}


def _entry(spec: VariantSpec, seed: int, value: float, regime: str) -> dict:
    name = f"{spec.name}-{regime}-s{seed}"
    mode = {"adapter": "adapter", "finetune": "graft" if spec.k else "finetune"}[regime]
    return {
        "id": name,
        "mode": mode,
        "regime": regime,
        "spec": asdict(spec),
        "seed": seed,
        "recipe": {"epochs": 1},
        "metrics": {"mAP50": value + 0.1, "mAP50-95": value},
        "file": f"{name}.safetensors",
    }


def _manifest() -> Manifest:
    pointwise = VariantSpec(k=1, point="sppf", nc=4, design="pointwise")
    lska, lka = VariantSpec(k=23, nc=4), VariantSpec(k=23, nc=4, design="lka")
    graft = VariantSpec(k=23, nc=4)
    models = [_entry(pointwise, s, v, "adapter") for s, v in POINTWISE.items()]
    models += [_entry(lska, s, v + 0.01 + 0.0005 * s, "adapter") for s, v in POINTWISE.items()]  # consistent gain
    models += [_entry(lka, s, v + (0.01, -0.01, 0.0)[s], "adapter") for s, v in POINTWISE.items()]  # zero mean
    models += [_entry(VariantSpec(nc=4), 0, 0.5, "finetune"), _entry(graft, 0, 0.52, "finetune")]
    return Manifest({}, models)


def test_each_variant_is_judged_against_its_regimes_control() -> None:
    rows = {(r["regime"], r["model"]): r for r in verdict_rows(_manifest())}
    gain, zero = rows[("adapter", "yolov8n-lska23-sppf")], rows[("adapter", "yolov8n-lka23-sppf")]
    assert gain["control"] == zero["control"] == "yolov8n-pointwise-sppf"
    assert gain["significant"] is True and gain["delta_p"] < 0.05 and gain["pairs"] == 3
    assert zero["significant"] is False and abs(zero["delta_vs_control"]) < 1e-9
    graft = rows[("fine-tune", "yolov8n-lska23-sppf")]  # same spec as the adapter, other regime: own control
    assert graft["control"] == "yolov8n" and abs(graft["delta_vs_control"] - 0.02) < 1e-9
    assert rows[("adapter", "yolov8n-pointwise-sppf")]["verdict"] == "control"


def test_design_rows_put_the_designs_side_by_side() -> None:
    rows = verdict_rows(_manifest())
    for r in rows:
        r |= {"params": 1000, "gflops": 1.0, "latency_ms": 2.0, "latency_ratio": 1.0}
    designs = design_rows(rows)
    assert [r["design"] for r in designs] == ["pointwise", "lka", "lska"]
    text = "\n".join(design_markdown(designs))
    assert "| LKA" in text and "| LSKA" in text and "Pointwise control" in text and "k=23 at `sppf`" in text


def test_the_shuffle_column_pairs_the_trained_kernels_with_their_shuffles_by_seed() -> None:
    manifest = _manifest()
    for entry in manifest.models:
        if entry["spec"]["design"] in ("lska", "lka"):
            entry["kernel_change"] = 0.5
        if entry["spec"]["design"] == "lska" and entry["regime"] == "adapter":  # beats its shuffles by 0.0010-0.0012
            trained = entry["metrics"]["mAP50-95"]
            entry["kernel_shuffle"] = shuffle_summary(
                trained, [trained - 0.001 - 0.0002 * entry["seed"], trained - 0.001]
            )
    rows = verdict_rows(manifest)
    for r in rows:
        r |= {"params": 1000, "gflops": 1.0, "latency_ms": 2.0, "latency_ratio": 1.0}
    lska = next(r for r in rows if r["regime"] == "adapter" and r["design"] == "lska")
    assert lska["kernels_shuffled"]["drop"] == pytest.approx(0.0011) and lska["kernels_shuffled"]["seeds"] == 3
    text = "\n".join(design_markdown(design_rows(rows)))
    assert "| +0.0011 ± 0.0001 (p = 0.0" in text  # the LSKA row: three seeds, so a paired test (p about 0.005)
    assert "| not measured |" in text  # LKA has large kernels and no measurement
    assert text.count("| — |") >= 1  # the pointwise control has no large kernel to shuffle
