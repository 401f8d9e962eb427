"""Untrusted images: every kind loads as clean RGB or fails with a clear message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from corpus import ERROR, OK, make_corpus
from lska_demo.benchmark.images import MAX_SIDE, ImageError, letterbox, load_image

CORPUS_NAMES = [
    "rgb.jpg", "gray.png", "rgba.png", "palette.png", "cmyk.jpg", "gray16.png", "animated.gif", "multipage.tiff",
    "exif-rotated.jpg", "huge.png", "one-pixel.png", "truncated.jpg", "corrupt.jpg", "not-an-image.jpg", "empty.png",
    "bomb.png",
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def test_corpus_covers_every_kind(corpus: dict[str, tuple[Path, str]]) -> None:
    assert sorted(corpus) == sorted(CORPUS_NAMES)


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_each_input_loads_or_fails_clearly(corpus: dict[str, tuple[Path, str]], name: str) -> None:
    path, expect = corpus[name]
    if expect == OK:
        image = load_image(path)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert max(image.shape[:2]) <= MAX_SIDE
    else:
        assert expect == ERROR
        with pytest.raises(ImageError) as info:
            load_image(path)
        message = str(info.value)
        assert message and "Traceback" not in message and len(message) < 300


def test_exif_rotation_is_applied(corpus: dict[str, tuple[Path, str]]) -> None:
    assert load_image(corpus["exif-rotated.jpg"][0]).shape[:2] == (96, 64)  # stored 96 wide, shown 64 wide


def test_sixteen_bit_keeps_its_contrast(corpus: dict[str, tuple[Path, str]]) -> None:
    image = load_image(corpus["gray16.png"][0])
    assert image.min() == 0 and image.max() == 255


def test_transparent_pixels_become_white() -> None:
    from PIL import Image

    image = load_image(Image.new("RGBA", (16, 16), (0, 0, 0, 0)))
    assert (image == 255).all()


def test_bytes_and_arrays_get_the_same_checks() -> None:
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((4, 4, 4, 4), dtype=np.uint8))
    assert load_image(np.zeros((32, 32), dtype=np.float32)).shape == (32, 32, 3)


def test_letterbox_keeps_aspect_and_pads_grey() -> None:
    tensor, scale, (left, top) = letterbox(np.zeros((100, 200, 3), dtype=np.uint8), 64)
    assert tensor.shape == (1, 3, 64, 64) and scale == pytest.approx(0.32)
    assert (left, top) == (0, 16)
    assert tensor[0, :, 0, 0].tolist() == pytest.approx([114 / 255] * 3)


def test_only_a_large_decode_trims_the_heap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from lska_demo.benchmark import images

    trims: list[int] = []
    monkeypatch.setattr(images, "release_memory", lambda: trims.append(1))
    small, large = tmp_path / "small.png", tmp_path / "large.png"
    Image.new("RGB", (1000, 800), (10, 20, 30)).save(small)  # 3.2 MB decoded (4 bytes a pixel): no trim
    Image.new("RGB", (3000, 2000), (10, 20, 30)).save(large)  # 24 MB decoded: trimmed
    assert load_image(small).shape == (800, 1000, 3) and trims == []
    assert load_image(large).shape[:2] == (853, 1280) and trims == [1]
