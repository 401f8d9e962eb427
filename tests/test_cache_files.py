"""Gradio's cached output images are written atomically and never rewritten (a concurrent reader sees a whole file)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from gradio import processing_utils
from PIL import Image

from lska_demo.ui.cache_files import save_pil_to_cache, write_outputs_atomically


def _picture(seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8))


def test_same_path_as_gradio_and_an_existing_file_is_left_alone(tmp_path: Path) -> None:
    expected = processing_utils.encode_pil_to_bytes(_picture(), "png")
    first = Path(save_pil_to_cache(_picture(), str(tmp_path), format="png"))
    assert first.parent.name == processing_utils.hash_bytes(expected) and first.name == "image.png"
    assert first.read_bytes() == expected
    inode = first.stat().st_ino
    again = Path(save_pil_to_cache(_picture(), str(tmp_path), format="png"))
    assert again == first and first.stat().st_ino == inode  # not truncated and rewritten
    assert not list(tmp_path.rglob("*.part"))


def test_concurrent_saves_never_expose_a_partial_file(tmp_path: Path) -> None:
    picture = _picture(1)
    expected = processing_utils.encode_pil_to_bytes(picture, "png")
    sizes: list[int] = []
    stop = threading.Event()
    target = tmp_path / processing_utils.hash_bytes(expected) / "image.png"

    def reader() -> None:
        while not stop.is_set():
            if target.exists():
                sizes.append(len(target.read_bytes()))

    watcher = threading.Thread(target=reader)
    watcher.start()
    savers = [
        threading.Thread(target=save_pil_to_cache, args=(picture, str(tmp_path), "image", "png")) for _ in range(8)
    ]
    for saver in savers:
        saver.start()
    for saver in savers:
        saver.join()
    stop.set()
    watcher.join()
    assert target.read_bytes() == expected
    assert all(size == len(expected) for size in sizes)


def test_gradio_is_routed_through_it() -> None:
    write_outputs_atomically()
    assert processing_utils.save_pil_to_cache is save_pil_to_cache
