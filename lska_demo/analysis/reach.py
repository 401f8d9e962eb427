"""Where a larger kernel can widen the field: the map a gate sees, and the gate's own ERF on it, for every k.

A gate at P5 of a 256 px input sees an 8x8 map: a k x k kernel wider than that reads padding with its outer taps,
so past k = 2 * side - 1 nothing more of the map can be reached and the field cannot grow. At P3 of a 640 px input
(80x80) every paper size fits. Both the map sides and the fields are measured: the sides by running the model
on an input of the chosen size, the fields with RepLKNet's method on the gate alone (``erf.module_erf``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from lska_demo.analysis.erf import module_erf
from lska_demo.model.kernels import LargeKernelGate
from lska_demo.model.yolo import lska_layers


@dataclass(frozen=True)
class ReachRow:
    """One kernel size on one map: the gate's own ERF there and how much of its kernel reads padding."""

    k: int
    side: int  # the map's side at the gate (the smaller of height and width)
    ratio: float | None  # area ratio at the threshold of the gate's ERF on a side x side map (None: no square)
    padding_share: float  # share of the k x k taps around the map's centre that fall outside the map

    def to_dict(self) -> dict[str, float | int | None]:
        return {"k": self.k, "side": self.side, "ratio": self.ratio, "padding_share": self.padding_share}


@torch.no_grad()
def gate_map_sides(model: nn.Module, imgsz: int) -> dict[str, int]:
    """Each inserted gate's input side (the smaller of height and width) for a square ``imgsz`` input, by
    running ``model`` once with hooks."""
    sides: dict[str, int] = {}
    hooks = [
        gate.register_forward_hook(
            lambda _m, inputs, _out, name=name: sides.__setitem__(name, min(inputs[0].shape[-2:]))
        )
        for name, gate in lska_layers(model)
    ]
    try:
        model.eval()(torch.zeros(1, 3, imgsz, imgsz))
    finally:
        for hook in hooks:
            hook.remove()
    return sides


def padding_share(k: int, side: int) -> float:
    """The share of a centred k x k kernel's taps that read padding on a side x side map."""
    inside = min(k, side)
    return 1.0 - (inside / k) ** 2


def reach_vs_k(gates: Mapping[int, LargeKernelGate], side: int, threshold: float = 0.5) -> list[ReachRow]:
    """For each k, the ERF area ratio at ``threshold`` of the gate's attention path on a side x side input (seeded
    noise in [0, 1)), and the share of its taps that read padding there.

    Args:
        gates: kernel size -> a gate of that size (trained or not: the caller says which).
        side: the map side the gates sit on (``gate_map_sides``).
        threshold: the t of the area ratio (the smallest centred square holding t of the contribution).
    """
    if side < 1:
        raise ValueError(f"the map side must be positive, got {side}")
    rows = []
    for k, gate in sorted(gates.items()):
        erf = module_erf("", k, dim=gate.dim, size=side, module=gate)
        rows.append(ReachRow(k, side, erf.ratios.get(threshold), padding_share(k, side)))
    return rows
