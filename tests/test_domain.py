"""The domain note: benchmark images are recognised, real photos (shipped by installed wheels) are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lska_demo.benchmark.data import BenchmarkConfig, render_image
from lska_demo.benchmark.domain import domain_note
from lska_demo.benchmark.domain_eval import as_jpeg, shipped_photos
from lska_demo.benchmark.images import load_image
from lska_demo.core.runtime import ASSETS_DIR

PHOTOS = {path.name: path for path in shipped_photos()}


@pytest.mark.parametrize("path", sorted(ASSETS_DIR.glob("benchmark-test-*.jpg")), ids=lambda p: p.name)
def test_shipped_benchmark_examples_are_recognised(path: Path) -> None:
    note = domain_note(load_image(path))
    assert note.is_benchmark and note.advice == "" and "benchmark image" in note.reason


@pytest.mark.parametrize("index", [0, 7, 42])
def test_generated_benchmark_images_are_recognised(index: int) -> None:
    image = as_jpeg(np.asarray(render_image(BenchmarkConfig(seed=5), "test", index)[0]))
    assert domain_note(image).is_benchmark


@pytest.mark.parametrize("name", ["bus.jpg", "zidane.jpg", "grace_hopper.jpg"])
def test_real_photos_get_the_note(name: str) -> None:
    if name not in PHOTOS:
        pytest.skip(f"{name} is not shipped by the installed packages")
    note = domain_note(load_image(PHOTOS[name]))
    assert not note.is_benchmark and note.reason.startswith("This does not look like a benchmark image")
    assert "four synthetic shapes" in note.advice and "/" not in note.reason


def test_a_square_256_px_crop_of_a_photo_is_still_a_photo() -> None:
    photo = load_image(PHOTOS["zidane.jpg"])
    square = np.asarray(Image.fromarray(photo[:, 280:1000]).resize((256, 256), Image.BILINEAR))
    note = domain_note(as_jpeg(square))
    assert not note.is_benchmark and "not square" not in note.reason  # judged by its grain, not its shape


def test_a_non_square_crop_of_a_benchmark_image_says_so() -> None:
    image = load_image(ASSETS_DIR / "benchmark-test-00001.jpg")[:, :180]
    note = domain_note(image)
    assert not note.is_benchmark and "not square" in note.reason


def test_a_tiny_image_is_not_judged() -> None:
    note = domain_note(np.zeros((20, 30, 3), np.uint8))
    assert not note.is_benchmark and note.statistics is None and "too small" in note.reason


def test_a_flat_grey_square_is_not_a_benchmark_image() -> None:
    note = domain_note(np.full((256, 256, 3), 128, np.uint8))
    assert not note.is_benchmark and note.statistics is not None and note.statistics.brightness_grain == 0


def test_the_same_picture_is_judged_once_and_a_changed_one_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from lska_demo.benchmark import domain

    calls: list[tuple[int, ...]] = []
    measure = domain.image_statistics

    def counted(image: np.ndarray) -> domain.ImageStatistics:
        calls.append(image.shape)
        return measure(image)

    monkeypatch.setattr(domain, "image_statistics", counted)
    picture = np.random.default_rng(7).integers(0, 255, (160, 160, 3), dtype=np.uint8)
    first = domain_note(picture)
    assert domain_note(picture.copy()) is first and len(calls) == 1  # same content: remembered
    changed = picture.copy()
    changed[0, 0, 0] ^= 1
    domain_note(changed)
    assert len(calls) == 2
