"""Validation of every parameter a visitor can send: a value the engine can use, or a ValueError whose
message says what is allowed (and never echoes a huge input back).

Gradio and HTTP clients send numbers as int, float or text, so whole numbers are accepted as 23, 23.0 or '23'.
"""

from __future__ import annotations

from typing import Any

from lska_demo.kernels import PAPER_KERNEL_SIZES
from lska_demo.vocabulary import BLOCK_LABELS, CAM_METHODS, POINT_LABELS, SCALE_LABELS, described

MAX_ERF_IMAGES = 16
MAX_CLASSES = 10_000


def _whole(value: Any) -> int | None:
    """An int from 640, 640.0 or '640'; None for anything else (bools, fractions, words)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _shown(value: Any) -> str:
    """``repr`` of a value, cut short: a message never echoes a huge input."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_k(k: Any) -> int:
    """One of the paper's kernel sizes."""
    value = _whole(k)
    if value not in PAPER_KERNEL_SIZES:
        sizes = ", ".join(map(str, PAPER_KERNEL_SIZES))
        raise ValueError(f"kernel size must be one of the paper's sizes {sizes}; got {_shown(k)}")
    return value


def check_point(point: Any) -> str:
    if point not in POINT_LABELS:
        raise ValueError(f"insertion point must be one of {', '.join(POINT_LABELS)}; got {_shown(point)}")
    return point


def check_block(block: Any) -> str:
    if block not in BLOCK_LABELS:
        raise ValueError(f"block kind must be one of {described(BLOCK_LABELS)}; got {_shown(block)}")
    return block


def check_variant(k: Any, point: Any, block: Any) -> tuple[int, str, str]:
    """The three choices that name an LSKA variant."""
    return check_k(k), check_point(point), check_block(block)


def check_method(method: Any) -> str:
    if method not in CAM_METHODS:
        raise ValueError(f"CAM method must be one of {described(CAM_METHODS)}; got {_shown(method)}")
    return method


def check_scale(scale: Any) -> str:
    if scale not in SCALE_LABELS:
        raise ValueError(f"scale must be one of {', '.join(SCALE_LABELS)}; got {_shown(scale)}")
    return scale


def check_classes(nc: Any) -> int:
    classes = _whole(nc)
    if classes is None:
        raise ValueError(f"number of classes must be a whole number; got {_shown(nc)}")
    if not 1 <= classes <= MAX_CLASSES:
        raise ValueError(f"number of classes must be between 1 and {MAX_CLASSES}; got {_shown(nc)}")
    return classes


def check_fraction(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number between 0 and 1; got {_shown(value)}") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1; got {_shown(value)}")
    return number


def check_imgsz(imgsz: Any) -> int:
    size = _whole(imgsz)
    if size is None or size % 32 or not 64 <= size <= 1280:
        raise ValueError(
            f"image size must be a multiple of 32 between 64 and 1280 (YOLOv8's stride); got {_shown(imgsz)}"
        )
    return size


def check_step(step: Any, last: int) -> int:
    value = _whole(step)
    if value is None or not 0 <= value <= last:
        raise ValueError(f"step must be a whole number between 0 and {last}; got {_shown(step)}")
    return value


def check_count(n: Any) -> int:
    count = _whole(n)
    if count is None or not 1 <= count <= MAX_ERF_IMAGES:
        raise ValueError(f"number of images must be a whole number between 1 and {MAX_ERF_IMAGES}; got {_shown(n)}")
    return count


def check_images(images: list[Any] | None) -> list[Any]:
    """The images a visitor gave for the receptive field (empty ones dropped), at most MAX_ERF_IMAGES."""
    given = [i for i in (images or []) if i is not None]
    if len(given) > MAX_ERF_IMAGES:
        raise ValueError(f"at most {MAX_ERF_IMAGES} images for the receptive field; got {len(given)}")
    return given


def require_image(image: Any) -> Any:
    if image is None or (isinstance(image, (str, bytes)) and not image):
        raise ValueError("no image: upload one or pick an example")
    return image


def check_choice(what: str, value: Any, allowed: list[str]) -> str:
    """One of a list known only at run time (model sources, ERF layers)."""
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {_shown(value)}")
    return value
