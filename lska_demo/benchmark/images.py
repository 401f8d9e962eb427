"""Untrusted images in, clean RGB arrays out; and the tensors the models take.

Every upload passes through ``load_image``: size-capped before decoding (decompression bombs), the first
frame of animations and multi-page files, EXIF rotation applied, any mode (grayscale, palette, RGBA,
CMYK, 16-bit) converted to 8-bit RGB, and huge images downscaled. Failures raise ``ImageError`` with a
message a person can act on. Nothing is ever unpickled.
"""

from __future__ import annotations

import ctypes
import io
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # refuse to decode more than this (a 40 MP photo is fine; a bomb is not)
MAX_WIDE_PIXELS = 16_000_000  # the lower cap for 16-bit, 32-bit and float images (2-4 bytes a sample)
MAX_DECODE_BYTES = 120 * 2**20  # the full-size decoded image may take at most this (+ ~15 % to downscale)
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_SIDE = 1280  # larger images are downscaled before anything else sees them
MIN_SIDE = 8
TRIM_FROM_BYTES = 16 * 2**20  # decodes at least this large hand their memory back; smaller ones are not worth it

WIDE_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
BYTES_PER_PIXEL: dict[str, int] = {"1": 1, "L": 1, "P": 1} | {mode: 2 for mode in ("I;16", "I;16B", "I;16L", "I;16N")}
BYTES_PER_PIXEL |= {
    mode: 4 for mode in ("LA", "La", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")
}
BYTES_PER_PIXEL |= {"I": 4, "F": 4}
"""Memory per pixel of Pillow's decoded image, by mode (Pillow keeps 3-band and 2-band images in 4 bytes a
pixel); a mode not listed is refused before decoding."""


class ImageError(ValueError):
    """An input that is not a usable image; the message says why, in plain words."""


def _open(source: str | Path | bytes | Image.Image) -> Image.Image:
    """The image, opened lazily: only the header is read, nothing is decoded yet."""
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, bytes):
        if not source:
            raise ImageError("the file is empty")
        stream: io.BytesIO | Path = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"no such image file: {echo_name(path.name)}")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageError(f"the file is larger than {MAX_FILE_BYTES // 2**20} MB")
        if size == 0:
            raise ImageError("the file is empty")
        # Pillow reads the file as it decodes, never whole (up to 50 MB of file beside up to 120 MB of pixels would
        # pass the 150 MB a decode may take); it closes the file after decoding, on failure, or at ``close``
        stream = path
    # Ultralytics patches Image.open to pip-install a HEIF plugin whenever a file is unknown: use Pillow's own.
    opener = getattr(sys.modules.get("ultralytics.utils.patches"), "_image_open", Image.open)
    try:
        return opener(stream)
    except UnidentifiedImageError as err:
        raise ImageError("this file is not an image Pillow can read (JPEG, PNG, WebP, BMP, GIF, TIFF, ...)") from err
    except Image.DecompressionBombError as err:
        raise ImageError(
            f"the image declares too many pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels"
        ) from err
    except (OSError, SyntaxError, ValueError) as err:  # a header Pillow recognises but cannot read
        raise ImageError(f"the image is damaged or truncated and cannot be decoded ({type(err).__name__})") from err


def echo_name(name: str, limit: int = 80) -> str:
    """A file name cut to ``limit`` characters for a message (never a folder: callers pass ``path.name``)."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB (``image`` itself when it is already RGB); called on the already downscaled image, so the float
    arithmetic here is small."""
    if image.mode in WIDE_MODES:  # 16/32-bit integer or float: rescale to 8 bits, keep contrast
        a = np.nan_to_num(np.asarray(image, dtype=np.float64))
        lo, hi = float(a.min()), float(a.max())
        image = Image.fromarray(((a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def check_decode_cost(mode: str, width: int, height: int) -> None:
    """Refuse, from the header alone, an image whose full-size decode would take too much memory.

    Args:
        mode: Pillow's mode of the image as it will be decoded (after ``draft`` for JPEG).
        width: pixels, as it will be decoded.
        height: pixels, as it will be decoded.
    """
    pixels = width * height
    if pixels > MAX_PIXELS:
        raise ImageError(f"the image is {width}x{height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels")
    if mode in WIDE_MODES and pixels > MAX_WIDE_PIXELS:
        raise ImageError(
            f"the image is {width}x{height} pixels with {mode} samples; 16-bit, 32-bit and float images may have "
            f"at most {MAX_WIDE_PIXELS // 1_000_000} megapixels (save it as 8-bit to send a larger one)"
        )
    if mode not in BYTES_PER_PIXEL:
        raise ImageError(f"images of mode {echo_name(mode, 16)} are not supported; send an RGB or grayscale image")
    if pixels * BYTES_PER_PIXEL[mode] > MAX_DECODE_BYTES:
        raise ImageError(
            f"the image is {width}x{height} pixels in mode {mode}; decoded it would take more than "
            f"{MAX_DECODE_BYTES // 2**20} MB; send a smaller one"
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"the image is {width}x{height} pixels; it needs at least {MIN_SIDE} on each side")


def load_image(source: str | Path | bytes | Image.Image | np.ndarray) -> np.ndarray:
    """An untrusted image as an HxWx3 uint8 RGB array, at most MAX_SIDE on its longer side.

    Memory stays bounded: the size and mode come from the header and are checked before anything is
    decoded (``check_decode_cost``), JPEGs decode straight at a reduced scale (``draft``), the full-size
    image is downscaled first and converted after, and the memory of a large decode is handed back to the system.
    """
    if isinstance(source, np.ndarray):
        return _from_array(source)
    image = _open(source)
    decoded_bytes = 0
    try:
        if image.size[0] * image.size[1] <= MAX_PIXELS:
            image.seek(0)  # first frame of an animated GIF or a multi-page TIFF
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale, nothing else changes
        check_decode_cost(image.mode, *image.size)
        decoded_bytes = image.size[0] * image.size[1] * BYTES_PER_PIXEL[image.mode]
        small = _downscaled(image)
        if small is source:  # the caller's image is never changed
            small = small.copy()
        # in place from here: a copy of a freshly decoded photo faults all its pages in (~3 ms for 1 MP)
        ImageOps.exif_transpose(small, in_place=True)
        small = _to_rgb(small)
        array = np.ascontiguousarray(np.asarray(small, dtype=np.uint8))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        if isinstance(err, ImageError):
            raise
        raise ImageError(f"the image is damaged or truncated and cannot be decoded ({type(err).__name__})") from err
    finally:
        if image is not source:
            image.close()  # and its file
        if decoded_bytes >= TRIM_FROM_BYTES:  # trimming costs more than a small decode (pages fault back in)
            release_memory()
    return array


def _downscaled(image: Image.Image) -> Image.Image:
    """The image at most MAX_SIDE on its longer side: ``image`` itself, decoded, when it is small enough, else a
    new image (``image`` is not changed).

    Pillow reduces by a whole factor first (cheap box averaging), then resamples; the EXIF orientation
    travels along for ``exif_transpose``.
    """
    image.load()
    width, height = image.size
    scale = min(1.0, MAX_SIDE / max(width, height))
    if scale == 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # reduce() by the largest whole factor first (its output is at most 1/4 of the input), then resample;
    # Pillow's reduce() lacks the 16-bit and palette modes, which resample directly.
    gap = None if image.mode.startswith("I;16") or image.mode == "P" else 1.0
    small = image.resize(size, Image.BILINEAR, reducing_gap=gap)
    orientation = image.getexif().get(ExifTags.Base.Orientation)
    if orientation:
        exif = small.getexif()
        exif[ExifTags.Base.Orientation] = orientation
        small.info["exif"] = exif.tobytes()
    return small


def release_memory() -> None:
    """Hand freed heap memory back to the system (glibc ``malloc_trim``); nothing where there is no glibc.

    Pillow frees a decoded image in blocks that glibc keeps in its heap (its mmap threshold grows after the
    first large free), so RSS would stay at the peak of the largest image ever decoded; trimming returns it.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


_LIBC = _load_libc()


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
    # OpenCV's bilinear resize, as Ultralytics' LetterBox: the same pixels its predict sees, and several times
    # faster than Pillow's (which filters over every source pixel when shrinking)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w, h) else image
    canvas = np.full((imgsz, imgsz, 3), 114, dtype=np.uint8)
    top, left = (imgsz - nh) // 2, (imgsz - nw) // 2
    canvas[top : top + nh, left : left + nw] = resized
    # in numpy: torch's elementwise ops split a 0.2 MP image over threads, which costs ~10 ms on a busy CPU
    tensor = torch.from_numpy(canvas.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)).unsqueeze(0)
    return tensor, scale, (left, top)


def example_images() -> dict[str, Path]:
    """The shipped examples: benchmark images in assets/ and the photos that come with Ultralytics."""
    from ultralytics.utils import ASSETS

    from lska_demo.core.runtime import ASSETS_DIR

    found = {p.stem: p for p in sorted(Path(ASSETS_DIR).glob("*.jpg"))}
    for name in ("bus", "zidane"):
        path = Path(ASSETS) / f"{name}.jpg"
        if path.exists():
            found[name] = path
    return found
