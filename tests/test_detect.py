"""Detection on a shared model, and drawing its boxes."""

from __future__ import annotations

import threading

import numpy as np

from lska_demo.analysis.detect import detect
from lska_demo.app.service import benchmark_images
from lska_demo.model.yolo import VariantSpec, build_model
from lska_demo.present.draw import draw_detections


def test_detect_boxes_are_well_formed_and_inside_the_image() -> None:
    model = build_model(VariantSpec(nc=4))
    image = np.random.default_rng(0).integers(0, 255, (150, 230, 3), dtype=np.uint8)
    result = detect(model, image, conf=0.0, iou=0.7, imgsz=128)
    assert result.detections and result.imgsz == 128 and result.inference_ms > 0
    for d in result.detections:
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 <= x2 <= 230 and 0 <= y1 <= y2 <= 150
        assert 0 <= d.score <= 1 and 0 <= d.cls < 4
    assert set(result.detections[0].to_dict()) == {"cls", "label", "score", "box"}
    drawn = draw_detections(image, result)
    assert drawn.shape == image.shape and not np.array_equal(drawn, image)


def test_detect_is_thread_safe_on_a_shared_model() -> None:
    model = build_model(VariantSpec(nc=4))
    image = benchmark_images(1)[0]
    expected = [d.to_dict() for d in detect(model, image, conf=0.0, imgsz=128).detections]
    results: list[list] = []

    def run() -> None:
        results.append([d.to_dict() for d in detect(model, image, conf=0.0, imgsz=128).detections])

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 3


def test_labels_never_overlap_even_for_crowded_boxes() -> None:
    from lska_demo.analysis.detect import Detection, DetectionResult
    from lska_demo.present.draw import place_labels

    # twelve boxes sharing almost the same top-left corner: labels drawn at the corner would all overlap
    boxes = [(10.0 + i, 40.0 + i, 200.0 + i, 300.0 + i) for i in range(12)]
    spots = place_labels(boxes, [(90.0, 16.0)] * 12, (400, 400))
    for i, a in enumerate(spots):
        assert a[0] >= 0 and a[2] <= 400 and a[1] >= 0 and a[3] <= 400, a
        for b in spots[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    assert spots[0] == (10.0, 24.0, 100.0, 40.0)  # the first label sits above its box
    image = np.full((400, 400, 3), 255, np.uint8)
    dets = [Detection(0, "person", 0.9 - i / 100, box) for i, box in enumerate(boxes)]
    assert draw_detections(image, DetectionResult(tuple(dets), 0.0, 640)).shape == image.shape
