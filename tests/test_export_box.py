"""The export box's service methods: the transfer check next to the YAML, and the checked ONNX download."""

from __future__ import annotations

import onnx
import pytest

from lska_demo.app.fairness import ENDPOINTS, Group
from lska_demo.app.service import DemoService
from lska_demo.deploy.export_box import TRANSFER_IMGSZ, UNTRAINED_IMGSZ
from lska_demo.deploy.transfer import check_spec, render
from lska_demo.model.yolo import VariantSpec


def test_transfer_check_is_the_engines_summary_of_the_exported_yaml(service: DemoService) -> None:
    text = service.transfer_check(23, "neck", "gate", "n", 2)
    assert text == render(check_spec(VariantSpec(k=23, point="neck", nc=2), imgsz=TRANSFER_IMGSZ))
    assert "100.0 %" in text and "Detect" in text
    with pytest.raises(ValueError, match="classes"):
        service.transfer_check(23, "neck", "gate", "n", 0)


def test_onnx_of_a_trained_zoo_variant_is_checked_and_reused(service: DemoService) -> None:
    result = service.export_onnx(23, "sppf", "gate")
    assert result.trained and result.source == "yolov8n-lska23-sppf-s0" and result.imgsz == 256
    assert result.path.suffix == ".onnx" and result.ok and result.images == 4
    assert sum(node.op_type == "Conv" for node in onnx.load(str(result.path)).graph.node) > 60
    assert "yolov8n-lska23-sppf-s0" in result.note() and f"{result.max_abs_diff:.1e}" in result.note()
    assert service.export_onnx(23, "sppf", "gate") is result  # exported once per zoo file


def test_onnx_of_a_variant_the_zoo_lacks_says_it_is_untrained(service: DemoService) -> None:
    result = service.export_onnx(7, "head", "gate")
    assert not result.trained and result.imgsz == UNTRAINED_IMGSZ and result.ok
    assert "untrained architecture" in result.note()


def test_onnx_is_a_heavy_endpoint() -> None:
    assert ENDPOINTS["onnx"].group is Group.HEAVY and ENDPOINTS["transfer"].group is Group.LIGHT
