"""The shape-vs-texture benchmark: deterministic, and its labels match what is drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lska_demo.benchmark.data import CLASS_NAMES, BenchmarkConfig, dataset_hash, generate, render_image

CONFIG = BenchmarkConfig(seed=11, imgsz=128)


def test_same_seed_same_pixels_and_labels() -> None:
    a_img, a_lab = render_image(CONFIG, "train", 5)
    b_img, b_lab = render_image(CONFIG, "train", 5)
    assert np.array_equal(np.asarray(a_img), np.asarray(b_img)) and a_lab == b_lab


def test_seed_split_and_index_all_change_the_image() -> None:
    base = np.asarray(render_image(CONFIG, "train", 5)[0])
    for other in (
        render_image(BenchmarkConfig(seed=12, imgsz=128), "train", 5),
        render_image(CONFIG, "val", 5),
        render_image(CONFIG, "train", 6),
    ):
        assert not np.array_equal(base, np.asarray(other[0]))


@pytest.mark.parametrize("index", range(40))
def test_labels_are_valid_boxes_of_drawn_objects(index: int) -> None:
    _, labels = render_image(CONFIG, "train", index)
    assert CONFIG.min_objects <= len(labels) <= CONFIG.max_objects
    boxes = []
    for cls, cx, cy, w, h in labels:
        assert 0 <= cls < len(CLASS_NAMES)
        x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        assert -1e-6 <= x0 < x1 <= 1 + 1e-6 and -1e-6 <= y0 < y1 <= 1 + 1e-6
        boxes.append((x0, y0, x1, y1))
    for i, a in enumerate(boxes):  # objects never overlap, so no label hides behind another object
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def test_generate_writes_yolo_layout_and_stable_hash(tmp_path: Path) -> None:
    config = BenchmarkConfig(seed=1, imgsz=64, train=3, val=2, test=2)
    data_yaml = generate(tmp_path / "a", config)
    generate(tmp_path / "b", config)
    assert "names:" in data_yaml.read_text()
    for split, count in config.split_sizes().items():
        assert len(list((tmp_path / "a" / "images" / split).glob("*.jpg"))) == count
        assert len(list((tmp_path / "a" / "labels" / split).glob("*.txt"))) == count
    assert dataset_hash(tmp_path / "a") == dataset_hash(tmp_path / "b")
    generate(tmp_path / "c", BenchmarkConfig(seed=2, imgsz=64, train=3, val=2, test=2))
    assert dataset_hash(tmp_path / "a") != dataset_hash(tmp_path / "c")
