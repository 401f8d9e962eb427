"""A model's layers and LSKA's stages in words, from the model table itself (no hard-coded layer list).

``layer_labels(spec)`` reads "8 C2f (backbone P5)" or "9 LSKA gate (backbone P5)" for each row of the
variant's table; ``stage_title`` names an LSKA stage by what it computes ("after dilated 17×1"). The strides
follow the table: a stride-2 Conv halves the map, an Upsample doubles it, any other row keeps its input's.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from lska_demo.model.kernels import GATES
from lska_demo.model.yolo import VariantSpec, variant_yaml

# What each module of a YOLOv8 table does, in a visitor's words.
MODULE_WORDS: dict[str, str] = {
    "Conv": "Conv",
    "C2f": "C2f",
    "SPPF": "SPPF pooling",
    "nn.Upsample": "upsample ×2",
    "Concat": "concat",
    "LSKA": "LSKA gate",
    "LKA": "LKA gate",
    "LSKATrivial": "LSKA-trivial gate",
    "LKATrivial": "LKA-trivial gate",
    "PointwiseGate": "1×1 pointwise gate",
    "LSKABlock": "VAN block with LSKA",
    "Detect": "Detect head",
}
# The pyramid level a stride reads as (P3 = 1/8 of the input, ..., P5 = 1/32).
LEVELS: dict[int, str] = {2: "P1", 4: "P2", 8: "P3", 16: "P4", 32: "P5"}


def _source(row: list[Any], index: int) -> int:
    f = row[0][0] if isinstance(row[0], list) else row[0]
    return index + f if f < 0 else f


def layer_strides(spec: VariantSpec) -> list[int]:
    """The stride (input pixels per feature-map cell) of every row of the variant's table; 0 for Detect."""
    table, _ = variant_yaml(spec)
    strides: list[int] = []
    for i, row in enumerate(table["backbone"] + table["head"]):
        module, args = row[2], row[3]
        before = strides[_source(row, i)] if i > 0 else 1
        if module == "Detect":
            strides.append(0)
        elif module == "Conv" and len(args) > 2 and args[2] == 2:
            strides.append(before * 2)
        elif module == "nn.Upsample":
            strides.append(before // 2)
        else:
            strides.append(before)
    return strides


def _c2f_words(args: list[Any]) -> str:
    """A C2fLSKA row's bottlenecks in words: its arguments end with the block kind and, for a gate, its design."""
    block, design = args[5], args[6] if len(args) > 6 else "lska"
    if block == "van":
        return "C2f with VAN blocks (LSKA)"
    return f"C2f with {MODULE_WORDS[GATES[design].__name__]}s"


def layer_labels(spec: VariantSpec) -> list[str]:
    """One label per row of the variant's table: index, module in words, part of the network and level."""
    table, _ = variant_yaml(spec)
    n_backbone = len(table["backbone"])
    labels = []
    for i, (row, stride) in enumerate(zip(table["backbone"] + table["head"], layer_strides(spec), strict=True)):
        words = MODULE_WORDS.get(row[2], row[2])
        if row[2] == "C2fLSKA":
            words = _c2f_words(row[3])
        if row[2] == "Detect":
            labels.append(f"{i} {words} (P3, P4, P5)")
            continue
        part = "backbone" if i < n_backbone else "neck"
        labels.append(f"{i} {words} ({part} {LEVELS.get(stride, f'stride {stride}')})")
    return labels


def feature_side(spec: VariantSpec, index: int, imgsz: int) -> int:
    """The side of layer ``index``'s (square) feature map for a square input of ``imgsz`` pixels."""
    stride = layer_strides(spec)[index]
    return -(-imgsz // stride) if stride else 0


def stage_title(name: str, conv: nn.Module | None) -> str:
    """An LSKA stage named by what it computes: "after 1×5 (conv0h)", "after dilated 17×1 (conv_spatial_v)";
    the last 1x1 conv is the gate, "input" and "output" are the gate's input and ``input × gate``."""
    if name == "input":
        return "gate input (features)"
    if name == "output":
        return "output = input × gate"
    if not isinstance(conv, nn.Conv2d):
        return name
    kh, kw = conv.kernel_size
    if (kh, kw) == (1, 1):
        return f"gate = 1×1 channel mix ({name})"
    dilated = "dilated " if max(conv.dilation) > 1 else ""
    return f"after {dilated}{kh}×{kw} ({name})"
