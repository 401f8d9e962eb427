"""Untrusted images in, clean RGB arrays out; and the tensors the models take.

Every upload passes through ``load_image``: size-capped before decoding (decompression bombs), the first
frame of animations and multi-page files, EXIF rotation applied, any mode (grayscale, palette, RGBA,
CMYK, 16-bit) converted to 8-bit RGB, and huge images downscaled. Failures raise ``ImageError`` with a
message a person can act on. Nothing is ever unpickled.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # refuse to decode more than this (a 40 MP photo is fine; a bomb is not)
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_SIDE = 1280  # larger images are downscaled before anything else sees them
MIN_SIDE = 8


class ImageError(ValueError):
    """An input that is not a usable image; the message says why, in plain words."""


def _open(source: str | Path | bytes | Image.Image) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"no such image file: {path.name}")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImageError(f"the file is larger than {MAX_FILE_BYTES // 2**20} MB")
        data = path.read_bytes()
    if not data:
        raise ImageError("the file is empty")
    # Ultralytics patches Image.open to pip-install a HEIF plugin whenever a file is unknown: use Pillow's own.
    opener = getattr(sys.modules.get("ultralytics.utils.patches"), "_image_open", Image.open)
    try:
        return opener(io.BytesIO(data))
    except UnidentifiedImageError as err:
        raise ImageError("this file is not an image Pillow can read (JPEG, PNG, WebP, BMP, GIF, TIFF, ...)") from err
    except Image.DecompressionBombError as err:
        raise ImageError(
            f"the image declares too many pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels"
        ) from err


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit integer: rescale to 8 bits, keep contrast
        a = np.asarray(image, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        image = Image.fromarray(a.astype(np.uint8))
    elif image.mode == "F":
        a = np.nan_to_num(np.asarray(image, dtype=np.float64))
        lo, hi = float(a.min()), float(a.max())
        image = Image.fromarray(((a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(source: str | Path | bytes | Image.Image | np.ndarray) -> np.ndarray:
    """An untrusted image as an HxWx3 uint8 RGB array, at most MAX_SIDE on its longer side."""
    if isinstance(source, np.ndarray):
        return _from_array(source)
    image = _open(source)
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"the image is {width}x{height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels")
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"the image is {width}x{height} pixels; it needs at least {MIN_SIDE} on each side")
    try:
        image.seek(0)  # first frame of an animated GIF or a multi-page TIFF
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at reduced size where possible
        image = ImageOps.exif_transpose(image)
        image = _to_rgb(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageError(f"the image is damaged or truncated and cannot be decoded ({type(err).__name__})") from err
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.BILINEAR)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _from_array(array: np.ndarray) -> np.ndarray:
    """Arrays (e.g. from Gradio) get the same checks as files."""
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageError(f"expected an HxW or HxWx3 image array, got shape {array.shape}")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise ImageError(
            f"the image is {array.shape[1]}x{array.shape[0]} pixels; the limit is {MAX_PIXELS // 1_000_000} MP"
        )
    if array.dtype != np.uint8:
        a = np.nan_to_num(array.astype(np.float64))
        hi = 1.0 if a.max() <= 1.0 else (255.0 if a.max() <= 255 else float(a.max()))
        array = np.clip(a / hi * 255, 0, 255).astype(np.uint8)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return load_image(Image.fromarray(array))


Letterboxed = tuple[torch.Tensor, float, tuple[int, int]]
"""``letterbox``'s result: the 1x3xSxS input tensor, the scale and the (left, top) padding."""


def letterbox(image: np.ndarray, imgsz: int) -> Letterboxed:
    """Resize keeping aspect ratio, pad to imgsz x imgsz with grey (114) as Ultralytics does.

    Returns the 1x3xSxS float tensor in [0, 1], the scale and the (left, top) padding, so that boxes on the
    tensor map back to the image by (xy - pad) / scale.
    """
    h, w = image.shape[:2]
    scale = imgsz / max(h, w)
    nh, nw = max(round(h * scale), 1), max(round(w * scale), 1)
    resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
    canvas = np.full((imgsz, imgsz, 3), 114, dtype=np.uint8)
    top, left = (imgsz - nh) // 2, (imgsz - nw) // 2
    canvas[top : top + nh, left : left + nw] = resized
    tensor = torch.from_numpy(canvas).permute(2, 0, 1).float().div(255.0).unsqueeze(0)
    return tensor, scale, (left, top)


def example_images() -> dict[str, Path]:
    """The shipped examples: benchmark images in assets/ and the photos that come with Ultralytics."""
    from ultralytics.utils import ASSETS

    from lska_demo.runtime import ASSETS_DIR

    found = {p.stem: p for p in sorted(Path(ASSETS_DIR).glob("*.jpg"))}
    for name in ("bus", "zidane"):
        path = Path(ASSETS) / f"{name}.jpg"
        if path.exists():
            found[name] = path
    return found
