"""Every gate choice the page offers loads trained weights from the shipped zoo, beside its regime's control."""

from __future__ import annotations

import pytest
import torch

from lska_demo.app.service import ZOO, DemoService, ServiceOptions
from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.model.kernels import GATES, PAPER_KERNEL_SIZES
from lska_demo.model.yolo import INSERTION_POINTS, VariantSpec
from lska_demo.zoo.manifest import Manifest

# Full fine-tune grafts (control yolov8n-s0) whose kernels moved; the others were retired, adapters answer there.
FULL_GRAFTS = {(23, "sppf")}
RETIRED_GRAFTS = ({(k, "sppf") for k in PAPER_KERNEL_SIZES} | {(23, point) for point in INSERTION_POINTS}) - FULL_GRAFTS


@pytest.fixture(scope="module")
def service() -> DemoService:
    if not Manifest.load(WEIGHTS_DIR).models:
        pytest.skip("no shipped zoo in weights/")
    return DemoService(ServiceOptions(weights_dir=WEIGHTS_DIR, max_cache=4))


def _gates(model: torch.nn.Module, design: str) -> list[torch.nn.Module]:
    return [m for m in model.modules() if type(m) is GATES[design]]


def test_every_gate_choice_is_trained_and_beside_its_regimes_control(service: DemoService) -> None:
    for k in PAPER_KERNEL_SIZES:
        for point in INSERTION_POINTS:
            base, variant = service.pair(ZOO, k, point, "gate")
            assert base.trained and variant.trained, (k, point, base.status, variant.status)
            if (k, point) in FULL_GRAFTS:
                assert variant.name == f"yolov8n-lska{k}-{point}-s0" and variant.entry["regime"] == "finetune"
                assert base.name == "yolov8n-s0" and "fine-tuned in full" in variant.status
            else:
                assert variant.name == f"yolov8n-lska{k}-{point}-adapter-s0" and variant.entry["regime"] == "adapter"
                assert base.name == f"yolov8n-pointwise-{point}-adapter-s0" and base.entry["regime"] == "adapter"
                assert "an adapter" in variant.status and base.name in variant.status
                assert "control of the adapter regime" in base.status
                assert _gates(base.model, "pointwise"), "the control carries the 1x1 gate"
            gates = _gates(variant.model, "lska")
            assert gates and all(g.conv1.weight.abs().max() > 0 for g in gates), "trained, not identity"


def test_retired_grafts_are_off_the_page_and_say_why() -> None:
    manifest = Manifest.load(WEIGHTS_DIR)
    retired = {(e["spec"]["k"], e["spec"]["point"]) for e in manifest.retired if e["regime"] == "finetune"}
    assert retired == RETIRED_GRAFTS
    for entry in manifest.retired:
        assert "random init" in entry["retired"] and entry["file"] is None
        assert not list(WEIGHTS_DIR.glob(f"{entry['id']}.*")) and manifest.find(VariantSpec(**entry["spec"])) != entry


def test_design_choices_are_trained_at_the_comparison_point_and_say_why_elsewhere(service: DemoService) -> None:
    base, variant = service.pair(ZOO, 23, "sppf", "gate", "lka")
    assert variant.trained and variant.name == "yolov8n-lka23-sppf-adapter-s0" and _gates(variant.model, "lka")
    assert base.trained and base.name == "yolov8n-pointwise-sppf-adapter-s0"
    _, off_grid = service.pair(ZOO, 7, "neck", "gate", "lska_trivial")
    assert not off_grid.trained and "only at k=23 'sppf'" in off_grid.status and "budget" in off_grid.status
    _, van = service.pair(ZOO, 23, "sppf", "van")
    assert not van.trained and "not VAN" in van.status
    with pytest.raises(ValueError, match="LSKA only"):
        service.pair(ZOO, 23, "sppf", "van", "lka")
    with pytest.raises(ValueError, match="gate design"):
        service.pair(ZOO, 23, "sppf", "gate", "pointwise")
