"""Validation of every parameter a visitor can send: a value the engine can use, or an ``InputError`` (a
ValueError) whose message says what is allowed and echoes the input at most ``strict.ECHO_CHARS`` characters.

Strict on purpose (``lska_demo.core.strict``): Gradio's components hand the raw JSON value through (``ui.fields``), so
a whole number must be a number without a fraction (23 or 23.0; not "23", 1.5, NaN or true), a flag must be
true or false (not "yes" or 2), and a choice must be one of the choices with its type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lska_demo.benchmark.images import echo_name
from lska_demo.core.strict import InputError, echo, strict_bool, strict_choice, strict_float, strict_int
from lska_demo.model.kernels import PAPER_KERNEL_SIZES
from lska_demo.model.vocabulary import BLOCK_LABELS, CAM_METHODS, DESIGN_LABELS, POINT_LABELS, SCALE_LABELS, described
from lska_demo.model.yolo import VariantSpec

MAX_ERF_IMAGES = 16
MAX_CLASSES = 10_000
IMGSZ_RANGE = (64, 1280)
STRIDE = 32  # YOLOv8's largest stride: input sizes are multiples of it

__all__ = ["MAX_CLASSES", "MAX_ERF_IMAGES", "InputError", "VariantChoice", "echo", "echo_name"]


def check_k(k: Any) -> int:
    """One of the paper's kernel sizes."""
    value = _integral_float(k)
    if not isinstance(value, int) or isinstance(value, bool) or value not in PAPER_KERNEL_SIZES:
        sizes = ", ".join(map(str, PAPER_KERNEL_SIZES))
        raise InputError(f"kernel size must be one of the paper's sizes {sizes}; got {echo(k)}")
    return int(value)


def _integral_float(value: Any) -> Any:
    """4.0 as 4 (some JSON clients send whole numbers so); anything else unchanged, for the caller to refuse."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def check_point(point: Any) -> str:
    if not isinstance(point, str) or point not in POINT_LABELS:
        raise InputError(f"insertion point must be one of {', '.join(POINT_LABELS)}; got {echo(point)}")
    return point


def check_block(block: Any) -> str:
    if not isinstance(block, str) or block not in BLOCK_LABELS:
        raise InputError(f"block kind must be one of {described(BLOCK_LABELS)}; got {echo(block)}")
    return block


def check_design(design: Any) -> str:
    """The gate design a visitor may choose: one of the paper's four (the pointwise control is not a choice)."""
    if not isinstance(design, str) or design not in DESIGN_LABELS:
        raise InputError(f"gate design must be one of {described(DESIGN_LABELS)}; got {echo(design)}")
    return design


def check_variant(k: Any, point: Any, block: Any) -> tuple[int, str, str]:
    """The three choices that name an LSKA variant."""
    return check_k(k), check_point(point), check_block(block)


@dataclass(frozen=True)
class VariantChoice:
    """The variant a visitor chose, checked once when made, so the tab services never see a loose value.

    The fields come back normalised (23.0 as 23); a combination the spec refuses (VAN's block with LKA) raises
    here too, with its reason.
    """

    k: int
    point: str
    block: str
    design: str = "lska"

    def __post_init__(self) -> None:
        for name, value in zip(("k", "point", "block"), check_variant(self.k, self.point, self.block), strict=True):
            object.__setattr__(self, name, value)  # frozen: set through object's own setter
        object.__setattr__(self, "design", check_design(self.design))
        self.spec()  # refuse an impossible combination now, not in the middle of a tab's work

    def spec(self, **extra: Any) -> VariantSpec:
        """The model this choice names; ``extra`` sets the rest (``scale``, ``nc``)."""
        return VariantSpec(self.k, self.point, self.block, design=self.design, **extra)


def check_method(method: Any) -> str:
    if not isinstance(method, str) or method not in CAM_METHODS:
        raise InputError(f"CAM method must be one of {described(CAM_METHODS)}; got {echo(method)}")
    return method


def check_scale(scale: Any) -> str:
    if not isinstance(scale, str) or scale not in SCALE_LABELS:
        raise InputError(f"scale must be one of {', '.join(SCALE_LABELS)}; got {echo(scale)}")
    return scale


def check_classes(nc: Any) -> int:
    return strict_int("number of classes", nc, 1, MAX_CLASSES)


def check_fraction(name: str, value: Any) -> float:
    return strict_float(name, value, 0.0, 1.0)


def check_flag(name: str, value: Any) -> bool:
    """True or false, nothing else ("yes", 1 and 2 are refused)."""
    return strict_bool(name, value)


def check_imgsz(imgsz: Any) -> int:
    size = strict_int("image size", imgsz, *IMGSZ_RANGE)
    if size % STRIDE:
        raise InputError(f"image size must be a multiple of {STRIDE} (YOLOv8's stride); got {echo(imgsz)}")
    return size


REACH_SIZES = (256, 640)  # the zoo's image size and YOLOv8's usual one


def check_reach_size(imgsz: Any) -> int:
    """The image size the receptive field's reach is measured at: one of ``REACH_SIZES``."""
    size = strict_int("image size", imgsz, *IMGSZ_RANGE)
    if size not in REACH_SIZES:
        raise InputError(f"image size must be one of {', '.join(map(str, REACH_SIZES))}; got {echo(imgsz)}")
    return size


def check_step(step: Any, last: int) -> int:
    return strict_int("step", step, 0, last)


def check_count(n: Any) -> int:
    return strict_int("number of images", n, 1, MAX_ERF_IMAGES)


def check_images(images: list[Any] | None) -> list[Any]:
    """The images a visitor gave for the receptive field (empty ones dropped), at most MAX_ERF_IMAGES."""
    if images is not None and not isinstance(images, list | tuple):
        raise InputError(f"images must be a list of files; got {echo(images)}")
    given = [i for i in (images or []) if i is not None]
    if len(given) > MAX_ERF_IMAGES:
        raise InputError(f"at most {MAX_ERF_IMAGES} images for the receptive field; got {len(given)}")
    return given


def require_image(image: Any) -> Any:
    if image is None or (isinstance(image, str | bytes) and not image):
        raise InputError("no image: upload one or pick an example")
    return image


def check_choice(what: str, value: Any, allowed: list[str]) -> str:
    """One of a list known only at run time (model sources, ERF layers)."""
    return strict_choice(what, value, allowed)
