"""How often ``domain.domain_note`` is right: generated benchmark images against photos that installed
packages ship (and crops and resizes of them, the hard cases: square, 256 px photos).

Run ``python -m lska_demo domain-eval`` (about a minute on 2 cores); it prints the counts as JSON.
"""

from __future__ import annotations

import importlib.util
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from lska_demo.benchmark.data import BenchmarkConfig, render_image
from lska_demo.benchmark.domain import domain_note
from lska_demo.benchmark.images import load_image

# (package, glob inside it): real photos that wheels ship; whichever packages are installed contribute.
PHOTO_SOURCES: tuple[tuple[str, str], ...] = (
    ("ultralytics", "assets/*.jpg"),
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
    ("sklearn", "datasets/images/*.jpg"),
    ("gradio", "media_assets/images/*.jp*g"),
)


def shipped_photos() -> list[Path]:
    """Real photos found in the installed packages of ``PHOTO_SOURCES`` (none is imported)."""
    found: list[Path] = []
    for package, pattern in PHOTO_SOURCES:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            found += sorted(Path(next(iter(spec.submodule_search_locations))).glob(pattern))
    return found


def _resized(image: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((max(width, 1), max(height, 1)), Image.BILINEAR))


def photo_variants(image: np.ndarray, rng: np.random.Generator, crops: int = 4) -> dict[str, np.ndarray]:
    """The photo, its centre square and ``crops`` random squares (20-90 % of the short side) at 256 px, and
    the photo at half size: what a visitor might upload, and the squares a benchmark image would be."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    variants = {"original": image, "centre-256": _resized(image[top : top + side, left : left + side], 256, 256)}
    for i in range(crops):
        s = int(side * rng.uniform(0.2, 0.9))
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        variants[f"crop{i}-256"] = _resized(image[y : y + s, x : x + s], 256, 256)
    variants["half"] = _resized(image, w // 2, h // 2)
    return variants


def as_jpeg(image: np.ndarray, quality: int = 95) -> np.ndarray:
    """The image after a JPEG round trip, as ``data.generate`` stores the benchmark and as uploads arrive."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


@dataclass
class DomainAccuracy:
    benchmark_total: int = 0
    benchmark_recognised: int = 0
    photo_total: int = 0
    photo_recognised: int = 0
    photo_mistaken: list[str] = field(default_factory=list)
    benchmark_missed: list[int] = field(default_factory=list)


def measure(n_benchmark: int = 300, seed: int = 0, photo_seed: int = 1) -> DomainAccuracy:
    """Counts of right judgements on ``n_benchmark`` test-split images of the benchmark with ``seed`` and on
    every variant of every shipped photo (crops drawn with ``photo_seed``)."""
    result = DomainAccuracy()
    config = BenchmarkConfig(seed=seed)
    for i in range(n_benchmark):
        image = as_jpeg(np.asarray(render_image(config, "test", i)[0]))
        result.benchmark_total += 1
        if domain_note(image).is_benchmark:
            result.benchmark_recognised += 1
        else:
            result.benchmark_missed.append(i)
    rng = np.random.default_rng(photo_seed)
    for path in shipped_photos():
        for name, variant in photo_variants(load_image(path), rng).items():
            result.photo_total += 1
            if domain_note(as_jpeg(variant)).is_benchmark:
                result.photo_mistaken.append(f"{path.name}:{name}")
            else:
                result.photo_recognised += 1
    return result
