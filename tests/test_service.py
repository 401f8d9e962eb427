"""The front door behind the web app, without Gradio: validation through it, and every question on a fake zoo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from lska_demo.app.service import MAX_ERF_IMAGES, PRETRAINED, ZOO, DemoService, ServiceOptions
from lska_demo.benchmark.images import ImageError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- validation: every bad input is a ValueError that says what is allowed --------------------------------


@pytest.mark.parametrize("k", [5, 24, 0, "abc", None, True, 23.5])
def test_bad_kernel_size_says_which_sizes_exist(service: DemoService, picture: np.ndarray, k: object) -> None:
    with pytest.raises(ValueError, match="7, 11, 23, 35, 41, 53"):
        service.compare(picture, k=k)


def test_whole_numbers_arrive_as_ints_or_integral_floats_never_as_text(service: DemoService) -> None:
    yaml_a, _ = service.export(23, "sppf", "gate", "n", 80.0)
    yaml_b, _ = service.export(23.0, "sppf", "gate", "n", 80)
    assert yaml_a == yaml_b
    with pytest.raises(ValueError, match="number of classes must be a whole number, not '80'"):
        service.export(23, "sppf", "gate", "n", "80")  # strict, as the raw HTTP API sends it


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"point": "backbone"}, "residual, sppf, neck, head"),
        ({"block": "cbam"}, "'gate'"),
        ({"source": "yolov9.pt"}, "'zoo', 'yolov8n.pt'"),
        ({"conf": 1.5}, "confidence threshold must be between 0 and 1"),
        ({"iou": -0.1}, "IoU threshold must be between 0 and 1"),
        ({"conf": "high"}, "confidence threshold must be a number"),
    ],
)
def test_bad_compare_inputs(service: DemoService, picture: np.ndarray, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        service.compare(picture, **kwargs)


def test_bad_images_are_image_errors(service: DemoService, tmp_path: Path) -> None:
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is text, not a JPEG")
    with pytest.raises(ImageError, match="not an image"):
        service.compare(fake)
    with pytest.raises(ValueError, match="no image"):
        service.compare(None)
    with pytest.raises(ImageError, match="at least"):
        service.compare(np.zeros((1, 1, 3), np.uint8))


def test_erf_refuses_too_many_images(service: DemoService, picture: np.ndarray) -> None:
    with pytest.raises(ValueError, match=f"between 1 and {MAX_ERF_IMAGES}"):
        service.erf(None, n=MAX_ERF_IMAGES + 1)
    with pytest.raises(ValueError, match=f"at most {MAX_ERF_IMAGES} images"):
        service.erf([picture] * (MAX_ERF_IMAGES + 1))
    with pytest.raises(ValueError, match="layer must be one of"):
        service.erf(None, n=1, layer_name="layer 99")


def test_cost_and_export_validate(service: DemoService) -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        service.cost(imgsz=100)
    with pytest.raises(ValueError, match="scale must be one of"):
        service.export(23, "sppf", "gate", "xl", 80)
    with pytest.raises(ValueError, match="number of classes"):
        service.export(23, "sppf", "gate", "n", 0)
    with pytest.raises(ValueError, match="CAM method"):
        service.attention(np.zeros((64, 64, 3), np.uint8), method="lime")


def test_service_cache_stays_within_its_bound(fake_zoo: Path, picture: np.ndarray) -> None:
    service = DemoService(ServiceOptions(weights_dir=fake_zoo, max_cache=2))
    for k, point in ((23, "sppf"), (53, "neck"), (7, "head")):
        service.compare(picture, k, point)
        assert len(service.cache) <= 2


# --- the service on a fake zoo ---------------------------------------------------------------------------------


def test_compare_on_the_zoo(service: DemoService, picture: np.ndarray) -> None:
    result = service.compare(picture, 23, "sppf", "gate", ZOO, 0.25, 0.7)
    for side in (result.baseline, result.variant):
        assert side.trained and side.image is not None and side.image.shape == picture.shape
        assert side.inference_ms is not None and side.metrics["mAP50-95"] > 0
        assert "Trained: zoo model" in side.status
    assert result.baseline.name == "yolov8n-s0" and result.variant.name == "yolov8n-lska23-sppf-s0"
    assert result.imgsz == 256
    assert result.to_dict()["variant"]["detections"] == result.variant.detections


def test_untrained_side_shows_no_detections(service: DemoService, picture: np.ndarray) -> None:
    result = service.compare(picture, 7, "head", "van", ZOO)
    assert result.baseline.trained and not result.variant.trained
    assert result.variant.image is None and result.variant.to_dict()["detections"] is None
    assert "Untrained" in result.variant.status and "randomly initialised" in result.variant.status


def test_empty_zoo_says_so(tmp_path: Path, picture: np.ndarray) -> None:
    result = DemoService(ServiceOptions(weights_dir=tmp_path)).compare(picture)
    assert not result.baseline.trained and not result.variant.trained
    assert "no trained weights" in result.baseline.status


def test_pretrained_offline_falls_back_with_advice(tmp_path: Path, picture: np.ndarray) -> None:
    result = DemoService(ServiceOptions(weights_dir=tmp_path)).compare(picture, source=PRETRAINED)
    assert not result.baseline.trained and result.baseline.image is None
    assert "COCO-pretrained" in result.baseline.status and "Untrained" in result.variant.status
    assert "/" not in result.baseline.status and "YOLO_OFFLINE" not in result.baseline.status  # no operator detail
    assert str(tmp_path) not in result.baseline.status + result.variant.status  # no server path


def test_operator_checkpoint_graft_predicts_what_the_baseline_predicts(fake_zoo: Path, picture: np.ndarray) -> None:
    service = DemoService(ServiceOptions(weights_dir=fake_zoo, checkpoint=fake_zoo / "yolov8n-s0.pt"))
    source = service.sources[-1]
    assert source == "checkpoint:yolov8n-s0.pt"
    result = service.compare(picture, 53, "neck", "gate", source, conf=0.0, iou=0.7)
    assert result.baseline.detections and result.variant.detections == result.baseline.detections
    assert "Identity-initialised graft" in result.variant.status


def test_zoo_table_and_pair(service: DemoService) -> None:
    rows = service.zoo_table()
    assert [r["model"] for r in rows] == [
        "yolov8n-s0",
        "yolov8n-lska23-sppf-s0",
        "yolov8n-lska53-neck-s0",
        "yolov8n-pointwise-neck-adapter-s0",
        "yolov8n-lska7-neck-adapter-s0",
    ]
    pair = service.zoo_pair(11, "sppf", "gate")
    assert pair[0]["model"] == "yolov8n-s0" and pair[1]["status"] == "not trained"


def test_export_yaml_builds_and_snippet_names_the_recipe(service: DemoService) -> None:
    text, snippet = service.export(53, "neck", "van", "s", 3)
    table = yaml.safe_load(text)
    assert table["nc"] == 3 and table["scale"] == "s"
    assert sum(row[2] == "LSKABlock" for row in table["head"]) == 4
    assert "--k 53 --point neck" in snippet and "import lska_demo" in snippet and "trainer=" in snippet


def test_cost_counts_and_times(service: DemoService) -> None:
    result = service.cost(23, "sppf", "gate", imgsz=64, latency=True)
    base, variant, diff = result.summary
    assert variant["params"] > base["params"] and variant["GFLOPs"] > base["GFLOPs"]
    assert diff["model"] == "difference" and result.latency["ratio"] > 0
    assert result.lska and result.layers


def test_erf_pair(service: DemoService) -> None:
    steps: list[float] = []
    result = service.erf(None, 23, "sppf", "gate", ZOO, n=2, progress=lambda f, _: steps.append(f))
    assert result.figure.ndim == 3 and result.figure.dtype == np.uint8
    assert [r["threshold"] for r in result.ratios] == [0.2, 0.3, 0.5, 0.99]
    assert result.n_images == 2 and steps and max(steps) <= 1.0


def test_attention(service: DemoService, picture: np.ndarray) -> None:
    result = service.attention(picture, 23, "sppf", "gate", ZOO, "eigen")
    assert result.stages is not None and result.stages.dtype == np.uint8
    assert result.baseline_cam.ndim == 3 and result.variant_cam.ndim == 3


def test_teach(service: DemoService) -> None:
    result = service.teach(35)
    assert "2·5 + 2·11 = 32" in result.text  # k=35: a=5, K=11
    assert "1×11 d3" in result.pipelines_html and "35×35" in result.pipelines_html
    assert {r["k"] for r in result.weights_table} >= {7, 53}
    assert all(v.figure.dtype == np.uint8 and v.caption for v in (result.dilation, result.erf, result.cost))


class _Unlisted:
    """A class no checkpoint allow-list names: a checkpoint that pickles it is refused."""


def test_a_refused_operator_checkpoint_says_refused(fake_zoo: Path, tmp_path: Path, picture: np.ndarray) -> None:
    """Issue 21, item 12: a ``--weights`` file refused as unsafe read "no checkpoint ... weights ... randomly
    initialised" to visitors, as if there were none."""
    import torch

    torch.save({"model": _Unlisted()}, tmp_path / "unsafe.pt")
    service = DemoService(ServiceOptions(weights_dir=fake_zoo, checkpoint=tmp_path / "unsafe.pt"))
    result = service.compare(picture, 23, "sppf", "gate", "checkpoint:unsafe.pt")
    base, variant = result.baseline, result.variant
    assert not base.trained and base.status.startswith("Refused: unsafe.pt cannot be loaded")
    assert "It was not loaded" in base.status
    assert "weights were refused" in variant.status and "no checkpoint:unsafe.pt weights" not in variant.status
    assert str(tmp_path) not in base.status + variant.status
