"""The depthwise cascade, one stage at a time: how far an impulse (or a small pattern) reaches after each conv.

For teaching, ``teaching_gate`` gives every design readable weights: each tap of a depthwise kernel is
1 / (number of taps), so each stage is a box average and its response is positive exactly where the stage
reaches. The step-through runs the gate's own convs (biases left out, as in ``equivalent_kernel``), so the
last stage of an impulse is the flipped equivalent kernel of the same gate, whatever its weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lska_demo.model.kernels import DESIGNS, LargeKernelGate, build_design, kernel_spec


def conv_label(conv: nn.Conv2d) -> str:
    """``1×5``, ``17×1 d3``: a depthwise conv's shape and dilation as the Teach tab writes it."""
    kh, kw = conv.kernel_size
    dilation = conv.dilation[0] if kh > 1 else conv.dilation[1]
    return f"{kh}×{kw}" + (f" d{dilation}" if dilation > 1 else "")


@torch.no_grad()
def teaching_gate(design: str, k: int) -> LargeKernelGate:
    """A one-channel gate of ``design`` at ``k`` whose depthwise taps are each 1 / (taps of that conv), biases
    0, and 1x1 weight 1 (float64): every stage is a box average, so the pictures show reach, not noise."""
    gate = build_design(design, 1, k).double()
    for conv in gate.depthwise_convs():
        conv.weight.fill_(1.0 / conv.weight[0].numel())
        conv.bias.zero_()
    gate.conv1.weight.fill_(1.0)
    gate.conv1.bias.zero_()
    return gate


@dataclass(frozen=True)
class Stage:
    """The response after one depthwise conv of the cascade (channel 0), on the step-through's grid."""

    label: str  # e.g. "1×17 d3"
    response: np.ndarray  # grid x grid
    reach: tuple[int, int]  # height, width of the bounding box of nonzero response
    weights: int  # this conv's taps per channel
    weights_so_far: int


@dataclass(frozen=True)
class Cascade:
    """A design's step-through: the input on the grid, then one ``Stage`` per depthwise conv."""

    design: str
    k: int
    source: np.ndarray  # the input placed at the centre of the grid
    stages: tuple[Stage, ...]

    @property
    def total_weights(self) -> int:
        return self.stages[-1].weights_so_far


def reach(response: np.ndarray, tolerance: float = 1e-12) -> tuple[int, int]:
    """Height and width of the bounding box of entries with |value| > tolerance * max |value| ((0, 0) if all 0)."""
    magnitude = np.abs(response)
    peak = float(magnitude.max()) if magnitude.size else 0.0
    if peak == 0.0:
        return 0, 0
    rows, cols = np.nonzero(magnitude > tolerance * peak)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def centred(pattern: np.ndarray, size: int) -> np.ndarray:
    """``pattern`` (h x w, h and w <= size) placed at the centre of a size x size zero grid."""
    h, w = pattern.shape
    if h > size or w > size:
        raise ValueError(f"a {h}×{w} pattern does not fit a {size}×{size} grid")
    grid = np.zeros((size, size), dtype=np.float64)
    top, left = (size - h) // 2, (size - w) // 2
    grid[top : top + h, left : left + w] = pattern
    return grid


def grid_size(k: int, pattern: np.ndarray | None = None, margin: int = 2) -> int:
    """The odd side of a grid that holds the full response (k + pattern - 1) with ``margin`` zeros around."""
    side = 1 if pattern is None else max(pattern.shape)
    size = k + side - 1 + 2 * margin
    return size if size % 2 else size + 1


@torch.no_grad()
def step_through(gate: LargeKernelGate, pattern: np.ndarray | None = None, margin: int = 2) -> Cascade:
    """Run an impulse (or ``pattern``) through ``gate``'s depthwise convs one at a time, channel 0 only.

    Args:
        gate: any gate (``teaching_gate`` for readable weights, or a trained one).
        pattern: a small 2-D array; None for a unit impulse.
        margin: zero pixels kept around the full response.

    The grid is large enough that no stage meets its border, so the last response equals the (full)
    convolution of the input with the gate's equivalent kernel.
    """
    k = gate.k_size
    size = grid_size(k, pattern, margin)
    source = centred(np.ones((1, 1)) if pattern is None else np.asarray(pattern, dtype=np.float64), size)
    weight = gate.depthwise_convs()[0].weight
    x = torch.from_numpy(source).to(dtype=weight.dtype, device=weight.device)[None, None]
    stages: list[Stage] = []
    so_far = 0
    for conv in gate.depthwise_convs():
        x = nn.functional.conv2d(x, conv.weight[:1], None, conv.stride, conv.padding, conv.dilation, 1)
        response = x[0, 0].double().cpu().numpy()
        taps = conv.kernel_size[0] * conv.kernel_size[1]
        so_far += taps
        stages.append(Stage(conv_label(conv), response, reach(response), taps, so_far))
    return Cascade(design_of(gate), k, source, tuple(stages))


def design_of(gate: LargeKernelGate) -> str:
    """The kernels.DESIGNS key of ``gate``'s class (its class name for a subclass outside the registry)."""
    return next((name for name, cls in DESIGNS.items() if type(gate) is cls), type(gate).__name__)


def cascades(k: int, pattern: np.ndarray | None = None) -> dict[str, Cascade]:
    """Design -> the step-through of its ``teaching_gate`` at ``k`` (the four designs of kernels.DESIGNS)."""
    return {design: step_through(teaching_gate(design, k), pattern) for design in DESIGNS}


@dataclass(frozen=True)
class DilationGrid:
    """Along one axis, offsets from the centre (−(k//2) .. k//2) that the dilated and plain kernels read.

    ``dilated_taps``: the K offsets the dilated kernel reads, d apart. ``paths[i]``: how many (plain tap,
    dilated tap) pairs reach offset ``-(k//2) + i`` (1 on the taps, 2 in the gaps, where neighbouring plain
    kernels overlap).
    """

    k: int
    plain: int  # a
    dilation: int  # d
    dilated: int  # K
    dilated_taps: tuple[int, ...]
    plain_taps: tuple[int, ...]  # the a offsets of the plain kernel around one point
    paths: tuple[int, ...]

    @property
    def covered(self) -> tuple[int, ...]:
        """Every offset that at least one path reaches, sorted."""
        half = self.k // 2
        return tuple(i - half for i, n in enumerate(self.paths) if n > 0)


def dilation_grid(k: int) -> DilationGrid:
    """Which input offsets, along one axis, LSKA's (and LKA's) plain kernel a and dilated kernel K read at ``k``."""
    spec = kernel_spec(k)
    a, d, big_k = spec.plain, spec.dilation, spec.dilated
    dilated_taps = tuple(d * (j - (big_k - 1) // 2) for j in range(big_k))
    plain_taps = tuple(range(-(a // 2), a // 2 + 1))
    half = k // 2
    paths = [0] * k
    for q in dilated_taps:
        for p in plain_taps:
            if -half <= q + p <= half:
                paths[q + p + half] += 1
    return DilationGrid(k, a, d, big_k, dilated_taps, plain_taps, tuple(paths))
