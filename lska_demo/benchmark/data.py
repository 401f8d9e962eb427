"""The shape-vs-texture detection benchmark, generated procedurally and deterministically.

Design (why): the paper claims that large separable kernels bias a CNN towards shape over texture.
Here a class is decided only by an object's global outline (circle, triangle, square, hexagon, at any
rotation), while its fill and the background are textures drawn from one distribution for every
class. Objects range from 8 % to 90 % of the image side, so for large objects a small receptive field
sees only a straight edge or a patch of texture: telling a hexagon from a circle needs context.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASS_NAMES: tuple[str, ...] = ("circle", "triangle", "square", "hexagon")
_SIDES = {"circle": 48, "triangle": 3, "square": 4, "hexagon": 6}
_SPLIT_IDS = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class BenchmarkConfig:
    seed: int = 0
    imgsz: int = 256
    train: int = 2000
    val: int = 500
    test: int = 500
    min_objects: int = 1
    max_objects: int = 3
    min_size: float = 0.08
    max_size: float = 0.9

    def split_sizes(self) -> dict[str, int]:
        return {"train": self.train, "val": self.val, "test": self.test}


def _grid(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    theta = rng.uniform(0, math.pi)
    return x * math.cos(theta) + y * math.sin(theta), -x * math.sin(theta) + y * math.cos(theta)


def _texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """One texture from a class-independent distribution: stripes, checks, dots or smooth noise in two colours."""
    u, v = _grid(size, rng)
    kind = rng.integers(4)
    period = rng.uniform(4, 24)
    if kind == 0:
        t = (np.sin(2 * math.pi * u / period) > 0).astype(np.float32)
    elif kind == 1:
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    elif kind == 2:
        t = ((np.sin(2 * math.pi * u / period) * np.sin(2 * math.pi * v / period)) > 0.3).astype(np.float32)
    else:
        cells = int(rng.integers(4, 16))
        coarse = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
        t = np.asarray(coarse.resize((size, size), Image.BICUBIC), dtype=np.float32) / 255.0
    colours = rng.integers(0, 256, size=(2, 3)).astype(np.float32)
    return t[..., None] * colours[0] + (1 - t[..., None]) * colours[1]


def _polygon(cls: str, cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    sides = _SIDES[cls]
    return [
        (
            cx + radius * math.cos(angle + 2 * math.pi * i / sides),
            cy + radius * math.sin(angle + 2 * math.pi * i / sides),
        )
        for i in range(sides)
    ]


def _overlaps(box: tuple[float, float, float, float], boxes: list[tuple[float, float, float, float]]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in boxes)


def render_image(
    config: BenchmarkConfig, split: str, index: int
) -> tuple[Image.Image, list[tuple[int, float, float, float, float]]]:
    """One image and its YOLO labels (class, cx, cy, w, h, normalised); deterministic in (seed, split, index)."""
    rng = np.random.default_rng([config.seed, _SPLIT_IDS[split], index])
    size = config.imgsz
    canvas = _texture(size, rng)
    labels: list[tuple[int, float, float, float, float]] = []
    boxes: list[tuple[float, float, float, float]] = []
    wanted = int(rng.integers(config.min_objects, config.max_objects + 1))
    for _ in range(40):  # rejection sampling keeps objects apart, so no box hides behind another object
        if len(labels) == wanted:
            break
        cls_id = int(rng.integers(len(CLASS_NAMES)))
        side = size * math.exp(rng.uniform(math.log(config.min_size), math.log(config.max_size)))
        radius = side / 2
        cx, cy = rng.uniform(radius * 0.6, size - radius * 0.6, size=2)
        points = _polygon(CLASS_NAMES[cls_id], cx, cy, radius, rng.uniform(0, 2 * math.pi))
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        box = (max(min(xs), 0.0), max(min(ys), 0.0), min(max(xs), size), min(max(ys), size))
        if box[2] - box[0] < 4 or box[3] - box[1] < 4 or _overlaps(box, boxes):
            continue
        mask = Image.new("L", (size, size))
        ImageDraw.Draw(mask).polygon(points, fill=255)
        alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
        canvas = alpha * _texture(size, rng) + (1 - alpha) * canvas
        boxes.append(box)
        labels.append(
            (
                cls_id,
                (box[0] + box[2]) / 2 / size,
                (box[1] + box[3]) / 2 / size,
                (box[2] - box[0]) / size,
                (box[3] - box[1]) / size,
            )
        )
    canvas = canvas + rng.normal(0, 6, canvas.shape)
    return Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)), labels


def generate(
    root: str | Path, config: BenchmarkConfig = BenchmarkConfig(), progress: Callable[[int, int], None] | None = None
) -> Path:
    """Write the benchmark in Ultralytics' YOLO layout under ``root`` and return its data YAML."""
    root = Path(root).resolve()
    total, done = sum(config.split_sizes().values()), 0
    for split, count in config.split_sizes().items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image, labels = render_image(config, split, i)
            image.save(root / "images" / split / f"{i:05d}.jpg", quality=95)
            lines = [f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}" for c, x, y, w, h in labels]
            (root / "labels" / split / f"{i:05d}.txt").write_text("\n".join(lines) + "\n")
            done += 1
            if progress:
                progress(done, total)
    yaml_path = root / "data.yaml"
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASS_NAMES))
    config_text = "\n".join(f"#   {k}: {v}" for k, v in asdict(config).items())
    yaml_path.write_text(
        f"# shape-vs-texture benchmark generated by lska_demo.benchmark.data\n{config_text}\n"
        f"path: {root}\ntrain: images/train\nval: images/val\ntest: images/test\nnames:\n{names}\n"
    )
    return yaml_path


def dataset_hash(root: str | Path) -> str:
    """sha256 over every image and label file, in a fixed order: identifies the data a model saw."""
    root = Path(root)
    digest = hashlib.sha256()
    files = [p for sub in ("images", "labels") for p in (root / sub).rglob("*") if p.suffix in (".jpg", ".txt")]
    for path in sorted(files):  # Ultralytics adds *.cache files beside the labels: not part of the data
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
