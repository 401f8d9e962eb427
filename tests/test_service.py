"""The functions behind the web app, without Gradio: validation, cache, detection, every service call."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lska_demo.cache import ModelCache
from lska_demo.detect import detect
from lska_demo.images import ImageError
from lska_demo.render import draw_detections, yolo_diagram
from lska_demo.service import (
    MAX_ERF_IMAGES,
    PRETRAINED,
    ZOO,
    DemoService,
    ServiceOptions,
    benchmark_images,
)
from lska_demo.yolo import INSERTION_POINTS, VariantSpec, build_model


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread: on a busy 2-core machine two OpenMP threads make a forward pass ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def service(fake_zoo: Path) -> DemoService:
    return DemoService(ServiceOptions(weights_dir=fake_zoo))


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    return benchmark_images(1)[0]


# --- validation: every bad input is a ValueError that says what is allowed --------------------------------


@pytest.mark.parametrize("k", [5, 24, 0, "abc", None, True, 23.5])
def test_bad_kernel_size_says_which_sizes_exist(service: DemoService, picture: np.ndarray, k: object) -> None:
    with pytest.raises(ValueError, match="7, 11, 23, 35, 41, 53"):
        service.compare(picture, k=k)


def test_numbers_arrive_as_text_or_floats_from_clients(service: DemoService) -> None:
    yaml_a, _ = service.export("23", "sppf", "gate", "n", 80.0)
    yaml_b, _ = service.export(23.0, "sppf", "gate", "n", "80")
    assert yaml_a == yaml_b


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"point": "backbone"}, "residual, sppf, neck, head"),
        ({"block": "cbam"}, "'gate'"),
        ({"source": "yolov9.pt"}, "zoo, yolov8n.pt"),
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


# --- the model cache -----------------------------------------------------------------------------------------


def test_cache_is_bounded_and_least_recently_used() -> None:
    cache = ModelCache(maxsize=3)
    for key in "abcd":
        cache.get(key, lambda key=key: key.upper())
    assert len(cache) == 3 and cache.keys() == ["b", "c", "d"]
    cache.get("b", lambda: pytest.fail("b is cached: it must not be rebuilt"))
    cache.get("e", lambda: "E")
    assert cache.keys() == ["d", "b", "e"]  # c was the least recently used


def test_cache_builds_each_key_once_under_concurrency() -> None:
    cache, calls = ModelCache(maxsize=2), []

    def slow() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "model"

    threads = [threading.Thread(target=cache.get, args=("k", slow)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]


def test_cache_does_not_keep_failures() -> None:
    cache = ModelCache(maxsize=2)
    with pytest.raises(RuntimeError):
        cache.get("k", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert cache.get("k", lambda: "ok") == "ok"


def test_service_cache_stays_within_its_bound(fake_zoo: Path, picture: np.ndarray) -> None:
    service = DemoService(ServiceOptions(weights_dir=fake_zoo, max_cache=2))
    for k, point in ((23, "sppf"), (53, "neck"), (7, "head")):
        service.compare(picture, k, point)
        assert len(service.cache) <= 2


# --- detection and drawing -----------------------------------------------------------------------------------


def test_detect_boxes_are_well_formed_and_inside_the_image() -> None:
    model = build_model(VariantSpec(nc=4))
    image = np.random.default_rng(0).integers(0, 255, (150, 230, 3), dtype=np.uint8)
    result = detect(model, image, conf=0.0, iou=0.7, imgsz=128)
    assert result.detections and result.imgsz == 128 and result.inference_ms > 0
    for d in result.detections:
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 <= x2 <= 230 and 0 <= y1 <= y2 <= 150
        assert 0 <= d.score <= 1 and 0 <= d.cls < 4
    as_dict = result.to_dict()
    assert set(as_dict["detections"][0]) == {"cls", "label", "score", "box"}
    drawn = draw_detections(image, result)
    assert drawn.shape == image.shape and not np.array_equal(drawn, image)


def test_detect_is_thread_safe_on_a_shared_model() -> None:
    model = build_model(VariantSpec(nc=4))
    image = benchmark_images(1)[0]
    expected = detect(model, image, conf=0.0, imgsz=128).to_dict()["detections"]
    results: list[list] = []

    def run() -> None:
        results.append(detect(model, image, conf=0.0, imgsz=128).to_dict()["detections"])

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 3


@pytest.mark.parametrize("point", list(INSERTION_POINTS))
def test_diagram_marks_the_chosen_point(point: str) -> None:
    svg = yolo_diagram(point)
    assert svg.count(">LSKA</text>") >= 2  # the chosen point's badges plus the legend
    assert INSERTION_POINTS[point].split(":")[0][:30] in svg.replace("&#x27;", "'")
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # no external assets


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
    assert "yolov8n.pt" in result.baseline.status and "Untrained" in result.variant.status


def test_operator_checkpoint_graft_predicts_what_the_baseline_predicts(fake_zoo: Path, picture: np.ndarray) -> None:
    service = DemoService(ServiceOptions(weights_dir=fake_zoo, checkpoint=fake_zoo / "yolov8n-s0.pt"))
    source = service.sources[-1]
    assert source == "checkpoint:yolov8n-s0.pt"
    result = service.compare(picture, 53, "neck", "gate", source, conf=0.0, iou=0.7)
    assert result.baseline.detections and result.variant.detections == result.baseline.detections
    assert "Identity-initialised graft" in result.variant.status


def test_zoo_table_and_pair(service: DemoService) -> None:
    rows = service.zoo_table()
    assert [r["model"] for r in rows] == ["yolov8n-s0", "yolov8n-lska23-sppf-s0", "yolov8n-lska53-neck-s0"]
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
    assert result.kernels_figure.dtype == np.uint8 and 0 <= result.rank1_error <= 1
