"""Does an image look like the zoo's benchmark, or like a photo the zoo was never trained on?

The zoo's models know four synthetic shapes on synthetic textures (``lska_demo.benchmark.data``): 256 px squares,
every texture a blend of two colours, and i.i.d. Gaussian noise (sigma 6) added to each colour channel of
every pixel. That noise is the tell: even the smoothest 8x8 block of a benchmark image keeps a grain in
brightness *and* in colour, whereas a photo's smooth areas (sky, skin, walls) are nearly clean, and what
grain a camera leaves is mostly brightness (JPEG stores colour at half resolution). Cheap statistics, no
model: ``python -m lska_demo domain-eval`` measures how often this judgement is right.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from lska_demo.benchmark.data import CLASS_NAMES

ANALYSIS_SIDE = 512  # larger images are downscaled first: cost stays bounded, and a photo's grain shrinks too
MIN_SIDE = 64  # below this there are too few 8x8 blocks to judge
BLOCK = 8
FLOOR_PERCENTILE = 10  # the "smooth areas" of an image: its 10 % least busy blocks

# Thresholds, chosen on 300 generated images (seed 11) against photo crops; measured on others by domain_eval.
MAX_ASPECT_ERROR = 0.02
MIN_BRIGHTNESS_GRAIN = 3.0  # grey levels; the benchmark's noise leaves 3.1 or more after JPEG at quality 95
MIN_COLOUR_GRAIN = 1.2  # grey levels of (R - G, B - G) high-pass; photos stay below about 1.4, mostly below 1

ZOO_KNOWS = (
    f"The zoo's models were trained only on four synthetic shapes ({', '.join(CLASS_NAMES)}) drawn with "
    "stripe, check, dot and blotch textures on 256-pixel squares."
)
PHOTO_ADVICE = (
    f"{ZOO_KNOWS} On a photo they still draw boxes, but the labels mean nothing (a face may come out as "
    "'hexagon'), and an empty result means nothing either. Try one of the benchmark examples."
)
# Added by the app only where the server can load yolov8n.pt (``app.online``): never advise what is not offered.
PRETRAINED_ADVICE = "Or choose the yolov8n.pt (COCO) models, which know 80 everyday objects."


@dataclass(frozen=True)
class ImageStatistics:
    """What the judgement is made from: shape, and the grain left in the image's smoothest blocks."""

    width: int
    height: int
    brightness_grain: float
    colour_grain: float

    @property
    def aspect_error(self) -> float:
        return abs(self.width / self.height - 1.0)


@dataclass(frozen=True)
class DomainNote:
    """``is_benchmark``; ``reason``: one plain sentence saying why; ``advice``: for a visitor when it is not
    a benchmark image (what the zoo knows, what to try instead), empty when it is."""

    is_benchmark: bool
    reason: str
    advice: str
    statistics: ImageStatistics | None


@dataclass(frozen=True)
class _Check:
    passes: Callable[[ImageStatistics], bool]
    failure: str


CHECKS: tuple[_Check, ...] = (
    _Check(lambda s: s.aspect_error <= MAX_ASPECT_ERROR, "it is not square, and every benchmark image is"),
    _Check(
        lambda s: s.brightness_grain >= MIN_BRIGHTNESS_GRAIN,
        "its smoothest areas are too clean: benchmark images carry a fine grain everywhere",
    ),
    _Check(
        lambda s: s.colour_grain >= MIN_COLOUR_GRAIN,
        "its fine detail has almost no colour grain, as in a camera photo",
    ),
)


REMEMBERED = 64
"""Images whose note is kept (a few tens of bytes each)."""


def _block_std(channel: np.ndarray) -> np.ndarray:
    h, w = (channel.shape[0] // BLOCK) * BLOCK, (channel.shape[1] // BLOCK) * BLOCK
    return channel[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).std(axis=(1, 3)).ravel()


def image_statistics(image: np.ndarray) -> ImageStatistics:
    """Shape and grain of an RGB uint8 image (H x W x 3), at most ``ANALYSIS_SIDE`` px on its long side.

    Grain: the high-pass residual (image minus a Gaussian blur, sigma 1.5 px) as standard deviation per 8x8
    block, taken at the 10th percentile of blocks; brightness = mean of R, G, B; colour = R - G and B - G.
    """
    height, width = image.shape[:2]
    picture = Image.fromarray(image)
    if max(height, width) > ANALYSIS_SIDE:
        scale = ANALYSIS_SIDE / max(height, width)
        picture = picture.resize((max(round(width * scale), 1), max(round(height * scale), 1)), Image.BILINEAR)
    x = np.asarray(picture, np.float32)
    residual = x - np.asarray(picture.filter(ImageFilter.GaussianBlur(1.5)), np.float32)
    brightness = _block_std(residual.mean(axis=2))
    colour = np.hypot(_block_std(residual[..., 0] - residual[..., 1]), _block_std(residual[..., 2] - residual[..., 1]))
    return ImageStatistics(
        width,
        height,
        float(np.percentile(brightness, FLOOR_PERCENTILE)),
        float(np.percentile(colour, FLOOR_PERCENTILE)),
    )


def _judge(image: np.ndarray) -> DomainNote:
    if min(image.shape[:2]) < MIN_SIDE:
        reason = f"The image is smaller than {MIN_SIDE} pixels on a side, too small to tell what it shows."
        return DomainNote(False, reason, PHOTO_ADVICE, None)
    stats = image_statistics(image)
    failures = [check.failure for check in CHECKS if not check.passes(stats)]
    if failures:
        reason = f"This does not look like a benchmark image: {'; '.join(failures)}."
        return DomainNote(False, reason, PHOTO_ADVICE, stats)
    return DomainNote(True, "This looks like a benchmark image: the shapes the zoo was trained on.", "", stats)


_recent: OrderedDict[bytes, DomainNote] = OrderedDict()
_recent_lock = threading.Lock()


def domain_note(image: np.ndarray) -> DomainNote:
    """Whether ``image`` (RGB uint8, H x W x 3, as ``images.load_image`` returns) looks like a benchmark image.

    The answer for the last ``REMEMBERED`` images is kept by content hash: a visitor compares one picture under
    many settings, and the statistics cost more than a forward pass of the zoo's models (hashing costs ~2 ms).
    """
    digest = hashlib.sha256(str(image.shape).encode())
    digest.update(np.ascontiguousarray(image).data)  # no copy; sha256 has CPU instructions on x86 and ARM
    key = digest.digest()
    with _recent_lock:
        if key in _recent:
            _recent.move_to_end(key)
            return _recent[key]
    note = _judge(image)
    with _recent_lock:
        _recent[key] = note
        while len(_recent) > REMEMBERED:
            _recent.popitem(last=False)
    return note
