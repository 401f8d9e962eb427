"""The zoo: plan, manifest, verified loading, and a tiny end-to-end build (train, graft, eval, resume)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from lska_demo.benchmark.data import BenchmarkConfig
from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.model.kernels import PAPER_KERNEL_SIZES
from lska_demo.model.yolo import INSERTION_POINTS, VariantSpec, lska_layers
from lska_demo.train.trainer import Recipe, evaluate_model
from lska_demo.zoo.build import build_zoo
from lska_demo.zoo.load import load_pretrained, load_zoo_model
from lska_demo.zoo.manifest import Manifest, ZooError, sha256_of, verified_path
from lska_demo.zoo.plan import PLANS, PlanItem, default_plan
from lska_demo.zoo.report import markdown, replace_block, results


def test_shipped_manifest_hashes_match_the_files() -> None:
    manifest = Manifest.load(WEIGHTS_DIR)
    shipped = [m for m in manifest.models if m.get("file")]
    assert manifest.find(VariantSpec(nc=4)) is not None, "the zoo ships no baseline"
    for entry in shipped:
        assert sha256_of(WEIGHTS_DIR / entry["file"]) == entry["sha256"], entry["id"]
        assert entry["data_hash"] == manifest.benchmark["data_hash"]
        assert 0.0 <= entry["metrics"]["mAP50-95"] <= entry["metrics"]["mAP50"] <= 1.0
    total = sum(path.stat().st_size for path in WEIGHTS_DIR.rglob("*") if path.is_file())
    assert total <= 100 * 2**20, f"weights/ holds {total / 2**20:.1f} MiB, over the 100 MiB budget"


def test_default_plan_covers_the_issue() -> None:
    plan = default_plan()
    specs = {(p.spec.k, p.spec.point) for p in plan if p.mode == "graft"}
    assert {(k, "sppf") for k in PAPER_KERNEL_SIZES} <= specs
    assert {(23, point) for point in INSERTION_POINTS} <= specs
    controls = [p for p in plan if p.mode == "finetune"]
    k23 = [p for p in plan if p.spec == VariantSpec(k=23, point="sppf", nc=4)]
    assert len({p.seed for p in controls}) >= 3 and len({p.seed for p in k23}) >= 3
    assert len({p.id for p in plan}) == len(plan)
    extended = PLANS["extended"]()
    assert extended[: len(plan)] == plan
    extra = extended[len(plan) :]
    assert {(p.mode, p.spec.k, p.seed, p.parent, p.ship) for p in extra} == {
        ("scratch", 23, 0, None, False),
        ("scratch", None, 1, None, False),
        ("scratch", 23, 1, None, False),
        ("scratch", None, 2, None, False),
        ("scratch", 23, 2, None, False),
        ("scratch", None, 3, None, False),
        ("scratch", 23, 3, None, False),
    }


def test_tampered_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"not the trained weights")
    entry = {"id": "x", "file": "model.pt", "sha256": "0" * 64}
    with pytest.raises(ZooError, match="sha256"):
        verified_path(entry, tmp_path)
    with pytest.raises(ZooError, match="missing"):
        verified_path({**entry, "file": "absent.pt"}, tmp_path)


def test_pretrained_offline_fails_at_once_plainly_with_advice_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.perf_counter()
    with caplog.at_level("WARNING", logger="lska_demo.zoo.load"), pytest.raises(ZooError) as raised:
        load_pretrained("yolov8n.pt", folder=tmp_path)
    assert time.perf_counter() - started < 30
    message = str(raised.value)
    assert "cannot download" in message and str(tmp_path) not in message and "YOLO_OFFLINE" not in message
    assert f"place yolov8n.pt in {tmp_path}" in caplog.text and "YOLO_OFFLINE=0" in caplog.text


def test_tiny_zoo_end_to_end_and_resume(tiny_data: Path, tmp_path: Path) -> None:
    base = VariantSpec(nc=4)
    lska = VariantSpec(k=7, point="sppf", nc=4)
    plan = [
        PlanItem("base-scratch", "scratch", base, ship=False),
        PlanItem("base-s0", "finetune", base, 0, "base-scratch"),
        PlanItem("lska7-s0", "graft", lska, 0, "base-scratch"),
    ]
    recipe = Recipe(epochs=1, imgsz=64, batch=4, workers=0)
    config = BenchmarkConfig(seed=3, imgsz=64, train=12, val=4, test=4, min_size=0.3)
    weights, work = tmp_path / "weights", tmp_path / "work"
    logged: list[str] = []
    manifest = build_zoo(plan, config, weights, work, recipe, recipe, log=logged.append)
    assert [m["id"] for m in manifest.models] == ["base-scratch", "base-s0", "lska7-s0"]
    assert manifest.entry("base-scratch")["file"] is None
    on_disk = json.loads((weights / "manifest.json").read_text())
    for entry in on_disk["models"]:
        assert set(entry["metrics"]) == {"mAP50", "mAP50-95"}
        if entry["file"]:
            assert sha256_of(weights / entry["file"]) == entry["sha256"]
    model, entry = load_zoo_model(lska, folder=weights)
    assert entry["id"] == "lska7-s0" and len(lska_layers(model)) == 1
    assert entry["format"] == "full" and entry["file"] == "lska7-s0.safetensors" and entry["regime"] == "finetune"
    assert not list(weights.glob("*.pt")), "the zoo ships safetensors only"
    # re-evaluated from the shipped safetensors, the held-out metrics come back exactly
    assert evaluate_model(model, tiny_data, "test", imgsz=64) == entry["metrics"]
    logged.clear()
    build_zoo(plan, config, weights, work, recipe, recipe, log=logged.append)
    assert all("done already" in line for line in logged if line.startswith(("base", "lska")))

    table = results(Manifest.load(weights), imgsz=64, repeats=1, folder=weights)
    rows = {(r["regime"], r["model"]): r for r in table["rows"]}
    assert set(rows) == {("fine-tune", "yolov8n"), ("fine-tune", "yolov8n-lska7-sppf"), ("scratch", "yolov8n")}
    graft = rows[("fine-tune", "yolov8n-lska7-sppf")]
    assert rows[("fine-tune", "yolov8n")]["verdict"] == "control"
    assert graft["verdict"] == "one seed: cannot tell" and graft["significant"] is None
    expected_delta = (
        manifest.entry("lska7-s0")["metrics"]["mAP50-95"] - manifest.entry("base-s0")["metrics"]["mAP50-95"]
    )
    assert graft["delta_vs_control"] == pytest.approx(expected_delta)
    assert graft["params"] > rows[("fine-tune", "yolov8n")]["params"]
    assert graft["gate_effect"] is not None and graft["gate_effect"] >= 0
    assert "| yolov8n-lska7-sppf | fine-tune, 1 ep | 0 |" in markdown(table)
    assert table["train_minutes"] > 0 and table["default_plan_minutes"] == 0  # these ids are not the default plan's


def test_readme_block_is_replaced_between_markers() -> None:
    text = "intro\n<!-- a -->\nold\n<!-- b -->\noutro\n"
    assert replace_block(text, "<!-- a -->", "<!-- b -->", "new") == "intro\n<!-- a -->\nnew\n<!-- b -->\noutro\n"
    assert replace_block("x", "<!-- a -->", "<!-- b -->", "new").endswith("<!-- a -->\nnew\n<!-- b -->\n")


def test_find_matches_a_baseline_whatever_point_it_names(tmp_path: Path) -> None:
    manifest = Manifest(
        models=[{"id": "b", "mode": "finetune", "seed": 0, "file": "b.pt", "spec": asdict(VariantSpec(nc=4))}]
    )
    assert manifest.find(VariantSpec(point="neck", block="van", nc=4))["id"] == "b"
    assert manifest.find(VariantSpec(nc=80)) is None
    assert manifest.find(VariantSpec(k=23, nc=4)) is None


def test_models_whose_kernels_never_moved_are_retired(tmp_path: Path) -> None:
    import hashlib

    import numpy as np
    from safetensors.numpy import save

    from lska_demo.zoo.manifest import Manifest
    from lska_demo.zoo.retire import retire_unmoved

    rng = np.random.default_rng(0)
    init = rng.uniform(-1 / 5**0.5, 1 / 5**0.5, (256, 1, 1, 5)).astype(np.float32)  # PyTorch's default, fan 5

    def entry(model_id: str, spec: VariantSpec, mode: str, kernel: np.ndarray | None = None, **extra: object) -> dict:
        data = save({"model.9.conv0h.weight": kernel}) if kernel is not None else b"x"
        (tmp_path / f"{model_id}.safetensors").write_bytes(data)
        return {"id": model_id, "spec": asdict(spec), "mode": mode, "seed": 0, "file": f"{model_id}.safetensors",
                "sha256": hashlib.sha256(data).hexdigest(), **extra}  # fmt: skip

    lska = VariantSpec(k=23, point="sppf", nc=4)
    manifest = Manifest(
        models=[
            entry("moved", lska, "adapter", init * 3 + 0.2, regime="adapter", kernel_change=0.58),
            entry("looks-random", lska, "adapter", init * 1.05, regime="adapter", kernel_change=0.2),
            entry("stuck", lska, "adapter", init, regime="adapter", kernel_change=0.004),
            entry("old-graft", lska, "graft"),  # trained before kernel_change was recorded
            entry("scratch", lska, "scratch"),
            entry("pointwise", VariantSpec(k=1, point="sppf", nc=4, design="pointwise"), "adapter", regime="adapter"),
            entry("control", VariantSpec(nc=4), "finetune"),
        ]
    )
    assert retire_unmoved(manifest, tmp_path) == ["stuck", "old-graft"]
    assert sorted(p.stem for p in tmp_path.glob("*.safetensors")) == [
        "control", "looks-random", "moved", "pointwise", "scratch"
    ]  # fmt: skip
    assert manifest.entry("stuck")["file"] is None and "random init" in manifest.entry("stuck")["retired"]
    assert manifest.entry("moved")["kernel_tests"]["told_apart"] == 1  # measured on the file
    tests = manifest.entry("looks-random")["kernel_tests"]  # moved a little, shipped, shown as not told apart
    assert tests["testable"] == 1 and tests["told_apart"] == 0 and tests["max_p"] > 1e-3
    assert [m["id"] for m in manifest.active] == ["moved", "looks-random", "scratch", "pointwise", "control"]
    assert manifest.find(lska, regime="adapter")["id"] == "moved"
    assert manifest.find(lska, regime="finetune") is None  # the retired graft answers no choice


def _shipped_gate_entries() -> list[dict]:
    from lska_demo.zoo.manifest import Manifest
    from lska_demo.zoo.retire import has_large_kernels

    return [e for e in Manifest.load(WEIGHTS_DIR).active if e.get("file") and has_large_kernels(e)]


@pytest.mark.parametrize("entry", _shipped_gate_entries(), ids=lambda e: e["id"])
def test_every_shipped_gate_trained_its_large_kernels(entry: dict) -> None:
    """Measured on the weights, with code of its own: the recorded relative change of the large kernels from their
    init is at least 0.1; the manifest's ``kernel_tests`` (what the page and the table show) count exactly the
    kernels of at least five taps that a KS test tells apart (p < 1e-3) from both PyTorch's default init
    U(-1/sqrt(fan), 1/sqrt(fan)) and VAN's N(0, sqrt(2/fan)); and at `sppf` (the design table and the k sweep: one
    gate of 256 channels) every such kernel is told apart. (3-tap kernels are too small for the test.)"""
    import math

    from safetensors.numpy import load_file
    from scipy import stats

    from lska_demo.zoo.retire import KERNEL_CHANGE_MIN

    assert entry["kernel_change"] >= KERNEL_CHANGE_MIN
    kernels = {k: w for k, w in load_file(str(WEIGHTS_DIR / entry["file"])).items() if w.ndim == 4 and w.shape[1] == 1}
    assert kernels, "a large-kernel gate's file holds its depthwise kernels"
    p_values = {}
    for key, w in kernels.items():
        fan = w.shape[2] * w.shape[3]
        if fan >= 5:
            values = w.astype("float64").ravel()
            p_uniform = stats.kstest(values * math.sqrt(fan), "uniform", args=(-1, 2)).pvalue
            p_values[key] = max(p_uniform, stats.kstest(values / math.sqrt(2 / fan), "norm").pvalue)
    told_apart = sum(p < 1e-3 for p in p_values.values())
    recorded = entry["kernel_tests"]
    assert (recorded["testable"], recorded["told_apart"]) == (len(p_values), told_apart)
    if entry["spec"]["point"] == "sppf":
        assert told_apart == len(p_values), {k: f"{p:.2g}" for k, p in p_values.items() if p >= 1e-3}


@pytest.mark.parametrize("entry", _shipped_gate_entries(), ids=lambda e: e["id"])
def test_the_page_says_how_far_each_shipped_gate_can_be_told_from_random(entry: dict) -> None:
    """A visitor reads the KS count of the model shown: all, only part, or (3-tap kernels) not judged at all."""
    from lska_demo.app.sources import trained_status

    text = trained_status(entry, VariantSpec(**entry["spec"]), Manifest.load(WEIGHTS_DIR))
    tests = entry["kernel_tests"]
    assert f"moved {entry['kernel_change']:.2f} from their random init" in text
    if not tests["testable"]:
        assert "nothing shows that they learned structure" in text
    elif tests["told_apart"] < tests["testable"]:
        assert f"only {tests['told_apart']} of its {tests['testable']} kernels apart from random" in text
    else:
        assert f"all {tests['testable']} can be told apart from random" in text
    shuffle = entry["kernel_shuffle"]  # measured for every shipped gate (``python -m lska_demo kernel-shuffle``)
    assert shuffle["trained"] == entry["metrics"]["mAP50-95"] and len(shuffle["shuffled"]) >= 4
    as_high = sum(s >= shuffle["trained"] for s in shuffle["shuffled"])
    assert ("nothing shows that the detector uses where training put them" in text) == (as_high > 0)
    assert (f"all {len(shuffle['shuffled'])} shuffles scored lower, by {shuffle['drop']:.4f}" in text) == (as_high == 0)


@pytest.mark.parametrize("point", list(INSERTION_POINTS))
def test_a_graft_of_the_shipped_control_starts_within_a_fraction_of_a_percent(point: str) -> None:
    """The README's "within about 0.1 %": the largest output difference to the parent, over its output's range."""
    import torch

    from lska_demo.benchmark.images import letterbox, load_image
    from lska_demo.core.runtime import ASSETS_DIR
    from lska_demo.model.yolo import graft
    from lska_demo.zoo.load import load_entry
    from lska_demo.zoo.manifest import Manifest

    parent = load_entry(Manifest.load(WEIGHTS_DIR).entry("yolov8n-s0"), WEIGHTS_DIR)
    grafted = graft(parent, VariantSpec(k=23, point=point, nc=parent.yaml["nc"])).eval()
    for path in sorted(ASSETS_DIR.glob("benchmark-test-*.jpg"))[:3]:
        x = letterbox(load_image(path), 256)[0]
        with torch.no_grad():
            before, after = parent(x)[0], grafted(x)[0]
        assert 0 < float((after - before).abs().max() / before.abs().max()) < 2e-3
