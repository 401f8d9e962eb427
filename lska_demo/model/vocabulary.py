"""What each choice a visitor or an operator can make is called: one label and one line per name.

The names themselves are defined where they act (``yolo.INSERTION_POINTS``, ``kernels.BLOCKS``,
``kernels.DESIGNS``); this module gives them the words that service messages, UI choices and the CLI's
``choices=`` and help all read, so a name is described the same way everywhere. It imports only the
definitions below it, so the analysis engine can read it too.
"""

from __future__ import annotations

from collections.abc import Mapping

from lska_demo.model.kernels import BLOCKS, DESIGN_LABELS, DESIGNS, GATE_LABELS
from lska_demo.model.yolo import INSERTION_POINTS, SCALES

POINT_LABELS: dict[str, str] = {
    "residual": "residual — in every backbone C2f bottleneck",
    "sppf": "sppf — between the last backbone C2f and SPPF",
    "neck": "neck — after each of the neck's four C2f",
    "head": "head — on P3, P4, P5 right before Detect",
}
BLOCK_LABELS: dict[str, str] = {
    "gate": "bare LSKA gate (as YOLO tutorials insert it)",
    "van": "VAN attention block around LSKA",
}
# The class activation maps the attention engine computes (the one registry of their names).
CAM_METHODS: dict[str, str] = {"eigen": "EigenCAM (no gradients)", "grad": "Grad-CAM"}
SCALE_LABELS: dict[str, str] = {scale: f"YOLOv8{scale}" for scale in SCALES}
# The gate a variant inserts (VariantSpec.design): the paper's four designs and the pointwise control.
DESIGN_CHOICES: dict[str, str] = dict(GATE_LABELS)

# Every label table names exactly what its definition defines: a new point or block needs its words.
for _labels, _defined in ((POINT_LABELS, INSERTION_POINTS), (BLOCK_LABELS, BLOCKS), (DESIGN_LABELS, DESIGNS)):
    if list(_labels) != list(_defined):
        raise RuntimeError(f"vocabulary out of date: labels for {list(_labels)}, definitions {list(_defined)}")


def choices(labels: Mapping[str, str]) -> list[tuple[str, str]]:
    """(label, name) pairs, the form Gradio's Radio and Dropdown take."""
    return [(label, name) for name, label in labels.items()]


def described(labels: Mapping[str, str]) -> str:
    """The names with their labels, for a message: "'gate' (bare LSKA gate ...), 'van' (...)"."""
    return ", ".join(f"'{name}' ({label})" for name, label in labels.items())


# The words the page uses without stopping to explain them, explained once (the landing's glossary and the
# controls' ``info=`` lines read these).
GLOSSARY: dict[str, str] = {
    "C2f": "YOLOv8's main building block: a convolution whose output is split, passed through small bottlenecks "
    "and joined again.",
    "SPPF": "Spatial pyramid pooling (fast): max-pooling at growing sizes (5, 9, 13) at the end of the backbone, so "
    "its deepest features see much of the image.",
    "P3–P5": "The feature maps at 1/8, 1/16 and 1/32 of the input size (at 640 px: 80×80, 40×40, 20×20); Detect "
    "finds small objects on P3 and large ones on P5.",
    "VAN block": "The Visual Attention Network's wrapper around LSKA: 1×1 conv, GELU, LSKA, 1×1 conv, with a "
    "shortcut, BatchNorm and a small layer scale, so it starts close to doing nothing.",
    "gate": "LSKA inserted bare, as YOLO tutorials do: the features are multiplied by LSKA's attention map, with no "
    "shortcut.",
    "confidence": "The score a model gives a box, 0 to 1; boxes below the threshold are not shown.",
    "NMS IoU": "Non-maximum suppression removes a box that overlaps a better box of the same class by more than this "
    "intersection-over-union (0: no overlap, 1: the same box).",
    "ERF": "Effective receptive field: the input pixels that actually move a feature at the centre of a map, "
    "measured with gradients, as opposed to the k×k a kernel could reach in theory.",
    "GFLOPs": "Billions of floating-point operations for one image (multiply-adds counted twice): compute, "
    "independent of the hardware.",
}
