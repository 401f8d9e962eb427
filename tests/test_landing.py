"""What the page says before and around a comparison through the service, without a browser:
trained or not before any model loads, the domain note, why a result is empty, the yolov8n.pt choice offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ultralytics.utils import ASSETS

from lska_demo.app.service import PRETRAINED, ZOO, DemoService, ServiceOptions
from lska_demo.benchmark.images import load_image
from lska_demo.core.runtime import ASSETS_DIR

BUS = Path(ASSETS) / "bus.jpg"
BENCHMARK = ASSETS_DIR / "benchmark-test-00001.jpg"


def test_status_of_a_trained_pair_has_no_banner_and_loads_no_model(service: DemoService) -> None:
    status = service.status(23, "sppf", "gate", ZOO)
    assert status.baseline.trained and status.variant.trained and status.banner == ""
    assert "yolov8n-lska23-sppf-s0" in status.variant.text
    assert len(service.cache) == 0


def test_status_of_a_mixed_pair_warns(service: DemoService) -> None:
    status = service.status(11, "head", "gate", ZOO)
    assert status.baseline.trained and not status.variant.trained
    assert "Untrained" in status.variant.text and "Not a fair comparison" in status.banner
    assert "LSKA side is untrained" in status.banner


def test_status_rejects_a_bad_choice(service: DemoService) -> None:
    with pytest.raises(ValueError, match="7, 11, 23"):
        service.status(24, "sppf", "gate", ZOO)


def test_pretrained_offline_is_not_offered_nor_advised_and_says_why_without_operator_detail(tmp_path: Path) -> None:
    service = DemoService(ServiceOptions(weights_dir=tmp_path))  # tests run offline: YOLO_OFFLINE=1, no file
    assert [name for _, name in service.source_choices()] == [ZOO]  # a visitor cannot choose what cannot load
    status = service.status(23, "sppf", "gate", PRETRAINED)  # the API still answers it, with random weights
    assert not status.baseline.trained and not status.variant.trained and "Neither side" in status.banner
    for text in (status.baseline.text, service.source_reason(PRETRAINED)):
        assert str(tmp_path) not in text and "YOLO_OFFLINE" not in text and "/" not in text
    photo = service.image_domain(str(BUS))
    assert "four synthetic shapes" in photo.advice and "yolov8n.pt" not in photo.advice


def test_online_the_photo_note_advises_the_pretrained_source(tmp_path: Path) -> None:
    (tmp_path / PRETRAINED).write_bytes(b"weights")  # found on disk: offered without a download
    service = DemoService(ServiceOptions(weights_dir=tmp_path))
    assert [name for _, name in service.source_choices()] == [ZOO, PRETRAINED]
    assert "yolov8n.pt (COCO) models" in service.image_domain(str(BUS)).advice


def test_an_adapter_pair_is_named_as_the_models_shown(service: DemoService) -> None:
    """k=7 at the neck is an adapter (conftest.fake_zoo): its control is the pointwise gate, not the baseline."""
    status = service.status(7, "neck", "gate", ZOO)
    assert status.baseline.role == "Control" and status.variant.role == "LSKA"
    assert status.baseline.caption == "Control: YOLOv8n + 1×1 pointwise gate at neck (adapter)"
    assert status.variant.caption == "YOLOv8n + LSKA k=7 at neck (adapter)"
    result = service.compare(str(BENCHMARK), 7, "neck", "gate", ZOO, conf=0.0)
    assert result.baseline.name == "yolov8n-pointwise-neck-adapter-s0" and result.baseline.role == "Control"
    assert "adapters on the same frozen fine-tuned baseline (yolov8n-s0)" in result.note
    assert "yolov8n-pointwise-neck-adapter-s0, has a 1×1 pointwise gate" in result.note and "scratch" not in result.note
    cost = service.cost(7, "neck", "gate")
    assert [row["model"] for row in cost.summary[:2]] == [
        "YOLOv8n + 1×1 pointwise gate at neck",
        "YOLOv8n + LSKA k=7 at neck",
    ]
    gate = next(row for row in cost.layers if "LSKA gate" in row["layer (variant)"])
    assert gate["baseline layer"] != "new"  # the LSKA gate lines up with the control's pointwise gate


def test_a_full_fine_tune_pair_is_named_as_the_models_shown(service: DemoService) -> None:
    status = service.status(23, "sppf", "gate", ZOO)
    assert status.baseline.caption == "Baseline: YOLOv8n (fine-tuned)" and status.baseline.role == "Baseline"
    result = service.compare(str(BENCHMARK), 23, "sppf", "gate", ZOO, conf=0.0)
    assert "fine-tuned in full from the same scratch baseline" in result.note
    assert "The baseline, yolov8n-s0, has no gate" in result.note
    assert service.cost(23, "sppf", "gate").summary[0]["model"] == "YOLOv8n"


def test_examples_are_grouped_benchmark_then_photo(service: DemoService) -> None:
    groups = service.example_groups()
    assert groups["benchmark"] and all(Path(p).name.startswith("benchmark") for p in groups["benchmark"])
    assert any(Path(p).name == "bus.jpg" for p in groups["photo"])


def test_domain_note_for_a_photo_and_none_for_a_benchmark_image(service: DemoService) -> None:
    photo = service.image_domain(str(BUS))
    assert not photo.is_benchmark and "four synthetic shapes" in photo.advice
    assert service.image_domain(str(BENCHMARK)).is_benchmark


def test_an_empty_result_on_a_photo_says_why(service: DemoService) -> None:
    result = service.compare(str(BUS), 23, "sppf", "gate", ZOO, conf=1.0)
    assert not result.baseline.detections and "confidence threshold (1.00)" in result.baseline.empty_reason
    assert "four synthetic shapes" in result.baseline.empty_reason
    assert "Outside what the zoo was trained on" in result.note
    assert result.to_dict()["domain"]["is_benchmark"] is False


def test_an_empty_result_on_a_benchmark_image_suggests_a_lower_threshold(service: DemoService) -> None:
    picture: np.ndarray = load_image(BENCHMARK)
    result = service.compare(picture, 23, "sppf", "gate", ZOO, conf=1.0)
    assert "Lower the threshold" in result.variant.empty_reason
    assert "Outside" not in result.note and result.to_dict()["domain"]["is_benchmark"] is True


def test_an_untrained_side_has_no_empty_reason_and_the_note_warns(service: DemoService) -> None:
    result = service.compare(str(BENCHMARK), 11, "head", "gate", ZOO)
    assert result.variant.empty_reason == "" and "compares training, not LSKA" in result.note
