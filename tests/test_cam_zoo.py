"""Grad-CAM and EigenCAM of the shipped zoo models on the shipped benchmark images (Grad-CAM was once blank on them).

The layer before Detect feeds only the stride-32 head; these images' objects are found at stride 8 or 16, so a
Grad-CAM of that one layer is exactly zero. Per box, on the Detect input that produced it, the map is not flat.
"""

from __future__ import annotations

import numpy as np
import pytest
from torch import nn

from lska_demo.analysis.attention import FLAT_TOLERANCE, class_activation_map
from lska_demo.benchmark.images import load_image
from lska_demo.core.runtime import ASSETS_DIR
from lska_demo.model.yolo import VariantSpec
from lska_demo.zoo.load import load_zoo_model

SPECS = {"baseline": VariantSpec(nc=4), "lska23-sppf": VariantSpec(k=23, point="sppf", nc=4)}
IMGSZ = 256  # the zoo's training size


@pytest.fixture(scope="module", params=list(SPECS))
def zoo_model(request: pytest.FixtureRequest) -> nn.Module:
    return load_zoo_model(SPECS[request.param])[0]


def _benchmark(name: str) -> np.ndarray:
    return load_image(ASSETS_DIR / f"benchmark-test-{name}.jpg")


@pytest.mark.parametrize("name", ["00001", "00005"])
def test_grad_cam_of_a_detected_benchmark_object_is_not_flat(zoo_model: nn.Module, name: str) -> None:
    cam = class_activation_map(zoo_model, _benchmark(name), method="grad", imgsz=IMGSZ)
    assert cam.detections > 0 and not cam.flat and cam.flat_reason == ""
    assert cam.peak > FLAT_TOLERANCE and float(cam.heatmap.max() - cam.heatmap.min()) > 0.5
    assert set(cam.layers) <= set(zoo_model.model[-1].f)  # the Detect inputs that produced the boxes


def test_grad_cam_is_deterministic_and_leaves_the_model_alone(zoo_model: nn.Module) -> None:
    image = _benchmark("00004")
    first = class_activation_map(zoo_model, image, method="grad", imgsz=IMGSZ)
    second = class_activation_map(zoo_model, image, method="grad", imgsz=IMGSZ)
    assert not first.flat and np.array_equal(first.heatmap, second.heatmap) and first.layers == second.layers
    assert all(p.grad is None for p in zoo_model.parameters()) and not zoo_model.training


def test_grad_cam_of_the_layer_before_detect_is_flat_with_a_reason(zoo_model: nn.Module) -> None:
    """The old default: image 00001's one box (0.96) comes from stride 16, so the stride-32 layer has no gradient."""
    cam = class_activation_map(zoo_model, _benchmark("00001"), method="grad", layer=-2, imgsz=IMGSZ)
    assert cam.detections == 1 and cam.flat and "no detected box has positive Grad-CAM evidence" in cam.flat_reason
    assert cam.heatmap.max() == 0 and cam.peak == 0


@pytest.mark.parametrize("method", ["grad", "eigen"])
def test_no_detection_is_reported_not_raised(zoo_model: nn.Module, method: str) -> None:
    grey = np.full((200, 300, 3), 114, np.uint8)  # the letterbox colour: nothing to find
    cam = class_activation_map(zoo_model, grey, method=method, imgsz=IMGSZ)
    assert cam.detections == 0 and cam.heatmap.shape == (IMGSZ, IMGSZ)
    if method == "grad":
        assert cam.flat and "nothing was detected" in cam.flat_reason and cam.heatmap.max() == 0
    else:
        assert cam.note


def test_eigen_cam_still_draws_a_map(zoo_model: nn.Module) -> None:
    cam = class_activation_map(zoo_model, _benchmark("00002"), method="eigen", imgsz=IMGSZ)
    assert not cam.flat and cam.layer == len(zoo_model.model) - 2 and cam.heatmap.max() > 0.99
