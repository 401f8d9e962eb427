"""The LSKA family: four large-kernel gating designs from one spec, and the blocks that carry them.

Lau, Po, Rehman, "Large Separable Kernel Attention", ESWA 236 (2024). LSKA decomposes VAN's LKA
(Guo et al., "Visual Attention Network", 2022) into cascaded 1-D depthwise kernels. Every design
computes ``attn = conv1(depthwise_cascade(x))`` and returns ``x * attn`` (no sigmoid, as in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

PAPER_KERNEL_SIZES: tuple[int, ...] = (7, 11, 23, 35, 41, 53)
# Std of a grafted gate's 1x1 weight: small enough that the graft starts within ~1e-3 of its parent's outputs,
# non-zero so that its large kernels receive a gradient from the first step (see LargeKernelGate.reset_to_identity).
GRAFT_GATE_SCALE = 1e-3


@dataclass(frozen=True)
class KernelSpec:
    """How a receptive field of ``k`` splits into a plain kernel ``a`` and a dilated kernel ``K``.

    Rule (the authors' table): d = 2 for k <= 11 else 3; a = 2d - 1; K = (k - d + 1) / d, so that
    a + d(K - 1) = k. The paper uses k in PAPER_KERNEL_SIZES; the rule also yields 17, 29, 47, 59, ...
    """

    k: int
    dilation: int
    plain: int
    dilated: int


def kernel_spec(k: int) -> KernelSpec:
    """The decomposition of receptive field ``k``; a clear ValueError where the rule has no odd K >= 3."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise ValueError(f"kernel size must be an integer, got {k!r}; the paper uses {PAPER_KERNEL_SIZES}")
    d = 2 if k <= 11 else 3
    dilated, remainder = divmod(k - d + 1, d)
    if k < 7 or remainder or dilated < 3 or dilated % 2 == 0:
        raise ValueError(
            f"kernel size {k} is not supported: the paper uses {PAPER_KERNEL_SIZES}; other sizes need "
            "K = (k - d + 1) / d to be an odd integer >= 3 (d = 2 for k <= 11, else 3), e.g. 17, 29, 47"
        )
    return KernelSpec(k=k, dilation=d, plain=2 * d - 1, dilated=dilated)


def depthwise(dim: int, kernel: tuple[int, int], dilation: int = 1) -> nn.Conv2d:
    """A 'same'-padded depthwise conv; 1 x n kernels pad only the width, n x 1 only the height."""
    kh, kw = kernel
    padding = (dilation * (kh - 1) // 2, dilation * (kw - 1) // 2)
    return nn.Conv2d(dim, dim, kernel, stride=1, padding=padding, dilation=dilation, groups=dim)


class LargeKernelGate(nn.Module):
    """Base class: a cascade of depthwise stages, a 1x1 conv, and the gate ``x * attn``.

    Subclasses build their convs and name them, in order, in ``stage_names``; the last is the 1x1.
    """

    stage_names: tuple[str, ...] = ()

    def __init__(self, dim: int, k_size: int) -> None:
        super().__init__()
        self.dim = dim
        self.k_size = k_size
        self.spec = kernel_spec(k_size)

    @classmethod
    def check_k_size(cls, k: int) -> None:
        """Raise a clear ValueError unless this design can be built with receptive field ``k``."""
        kernel_spec(k)

    def stages(self, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """Every intermediate map of the attention path, for teaching and attention plots."""
        out = []
        for name in self.stage_names:
            x = getattr(self, name)(x)
            out.append((name, x))
        return out

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)

    def depthwise_convs(self) -> list[nn.Conv2d]:
        return [getattr(self, name) for name in self.stage_names[:-1]]

    @torch.no_grad()
    def reset_to_identity(self, scale: float = GRAFT_GATE_SCALE, seed: int = 0) -> None:
        """Near-identity for grafting into a trained net: ``conv1`` bias 1 and weight N(0, scale²), so
        ``attn = 1 + conv1.weight @ cascade(x)`` stays within about ``scale`` of 1.

        A zero weight (``scale=0``) is the exact identity, but it also makes every depthwise kernel's gradient
        exactly zero (d attn / d kernel passes through ``conv1.weight``), so the large kernels never learn.
        """
        generator = torch.Generator().manual_seed(seed)
        weight = torch.randn(self.conv1.weight.shape, generator=generator, dtype=torch.float64) * scale
        self.conv1.weight.copy_(weight)
        self.conv1.bias.fill_(1.0)


class LSKA(LargeKernelGate):
    """Large Separable Kernel Attention (Lau et al., ESWA 2024): 1xa, ax1, then dilated 1xK, Kx1, then 1x1.

    Parameter names and shapes are the authors' (``models/van.py``), so their state dicts load.

    Args:
        dim (int): Input channels; the output has the same (the gate multiplies its input).
        k_size (int): Receptive field k of the cascade (7, 11, 23, 35, 41, 53, or any k the rule of
            ``kernel_spec`` yields an odd K for); a clear ValueError otherwise.
    """

    stage_names = ("conv0h", "conv0v", "conv_spatial_h", "conv_spatial_v", "conv1")

    def __init__(self, dim: int, k_size: int = 23) -> None:
        super().__init__(dim, k_size)
        s = self.spec
        self.conv0h = depthwise(dim, (1, s.plain))
        self.conv0v = depthwise(dim, (s.plain, 1))
        self.conv_spatial_h = depthwise(dim, (1, s.dilated), s.dilation)
        self.conv_spatial_v = depthwise(dim, (s.dilated, 1), s.dilation)
        self.conv1 = nn.Conv2d(dim, dim, 1)


class LKA(LargeKernelGate):
    """VAN's Large Kernel Attention (Guo et al., 2022): a x a, then dilated K x K, then 1x1 (k=23 is VAN's)."""

    stage_names = ("conv0", "conv_spatial", "conv1")

    def __init__(self, dim: int, k_size: int = 23) -> None:
        super().__init__(dim, k_size)
        s = self.spec
        self.conv0 = depthwise(dim, (s.plain, s.plain))
        self.conv_spatial = depthwise(dim, (s.dilated, s.dilated), s.dilation)
        self.conv1 = nn.Conv2d(dim, dim, 1)


class LKATrivial(LargeKernelGate):
    """LKA-trivial, the paper's naive baseline: one k x k depthwise conv, then 1x1."""

    stage_names = ("conv0", "conv1")

    def __init__(self, dim: int, k_size: int = 23) -> None:
        super().__init__(dim, k_size)
        self.conv0 = depthwise(dim, (k_size, k_size))
        self.conv1 = nn.Conv2d(dim, dim, 1)


class LSKATrivial(LargeKernelGate):
    """LSKA-trivial, the paper's separable naive design: 1 x k then k x 1 depthwise, then 1x1."""

    stage_names = ("conv0h", "conv0v", "conv1")

    def __init__(self, dim: int, k_size: int = 23) -> None:
        super().__init__(dim, k_size)
        self.conv0h = depthwise(dim, (1, k_size))
        self.conv0v = depthwise(dim, (k_size, 1))
        self.conv1 = nn.Conv2d(dim, dim, 1)


DESIGNS: dict[str, type[LargeKernelGate]] = {
    "lka_trivial": LKATrivial,
    "lska_trivial": LSKATrivial,
    "lka": LKA,
    "lska": LSKA,
}
DESIGN_LABELS: dict[str, str] = {
    "lka_trivial": "LKA-trivial (k×k)",
    "lska_trivial": "LSKA-trivial (1×k, k×1)",
    "lka": "LKA (a×a, dilated K×K)",
    "lska": "LSKA (1×a, a×1, dilated 1×K, K×1)",
}


class PointwiseGate(LargeKernelGate):
    """LSKA's fair control: the same gate in the same place without the large kernel, ``attn = conv1(x)``,
    so that a difference between the two is the large kernel's, not the extra gating parameters'."""

    stage_names = ("conv1",)

    def __init__(self, dim: int, k_size: int = 1) -> None:
        self.check_k_size(k_size)
        nn.Module.__init__(self)
        self.dim = dim
        self.k_size = k_size
        self.conv1 = nn.Conv2d(dim, dim, 1)

    @classmethod
    def check_k_size(cls, k: int) -> None:
        if isinstance(k, bool) or k != 1:
            raise ValueError(f"the pointwise gate has no spatial kernel: its receptive field k is 1, got {k!r}")


# Every gate a YOLO variant can carry: the paper's four designs and the pointwise control.
GATES: dict[str, type[LargeKernelGate]] = {**DESIGNS, "pointwise": PointwiseGate}
GATE_LABELS: dict[str, str] = {**DESIGN_LABELS, "pointwise": "Pointwise control (1×1 gate, no spatial kernel)"}


def build_design(design: str, dim: int, k_size: int) -> LargeKernelGate:
    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r}; choose one of {sorted(DESIGNS)}")
    return DESIGNS[design](dim, k_size)


class LSKABlock(nn.Module):
    """VAN's attention unit with LSKA inside: 1x1, GELU, LSKA, 1x1, plus the shortcut (VAN's names)."""

    def __init__(self, dim: int, k_size: int = 23) -> None:
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.activation = nn.GELU()
        self.spatial_gating_unit = LSKA(dim, k_size)
        self.proj_2 = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj_2(self.spatial_gating_unit(self.activation(self.proj_1(x))))

    @property
    def gate(self) -> LSKA:
        return self.spatial_gating_unit

    @torch.no_grad()
    def reset_to_identity(self, scale: float = GRAFT_GATE_SCALE, seed: int = 0) -> None:
        """Near-identity for grafting: ``proj_2`` bias 0 and weight N(0, scale²), so the residual branch
        starts near 0 while the gate inside still receives a gradient (a zero ``proj_2`` would block it)."""
        generator = torch.Generator().manual_seed(seed)
        weight = torch.randn(self.proj_2.weight.shape, generator=generator, dtype=torch.float64) * scale
        self.proj_2.weight.copy_(weight)
        self.proj_2.bias.zero_()


BLOCKS: dict[str, type[nn.Module]] = {"gate": LSKA, "van": LSKABlock}


def build_gate(design: str, dim: int, k_size: int) -> LargeKernelGate:
    """Any gate of GATES (the paper's four designs or the pointwise control)."""
    if design not in GATES:
        raise ValueError(f"unknown gate design {design!r}; choose one of {sorted(GATES)}")
    return GATES[design](dim, k_size)


def build_block(block: str, dim: int, k_size: int, design: str = "lska") -> nn.Module:
    """The bare gating unit of ``design`` (as YOLOv8 tutorials insert it) or VAN's full attention unit
    (which carries LSKA only)."""
    if block not in BLOCKS:
        raise ValueError(f"unknown block kind {block!r}; choose one of {sorted(BLOCKS)}")
    if block == "van":
        if design != "lska":
            raise ValueError(f"VAN's block carries LSKA only, not {design!r}")
        return LSKABlock(dim, k_size)
    return build_gate(design, dim, k_size)


@torch.no_grad()
def equivalent_kernel(gate: LargeKernelGate) -> torch.Tensor:
    """The k x k per-channel kernel that the depthwise cascade of ``gate`` equals (biases left out).

    Returned as a correlation kernel W[C, k, k] such that, away from borders,
    cascade(x) - bias_terms == conv2d(x, W[:, None], padding=k // 2, groups=C).
    The kernel has the dtype and device of the gate's weights (float64 gates give float64 kernels).
    """
    k = gate.k_size
    size = 2 * k + 1
    weight = gate.depthwise_convs()[0].weight  # the impulse follows the weights' dtype and device
    impulse = torch.zeros(1, gate.dim, size, size, dtype=weight.dtype, device=weight.device)
    impulse[..., k, k] = 1.0
    x = impulse
    for conv in gate.depthwise_convs():
        x = nn.functional.conv2d(x, conv.weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)
    half = k // 2
    response = x[0, :, k - half : k + half + 1, k - half : k + half + 1]
    return torch.flip(response, dims=(-2, -1))  # a convolution's impulse response is its flipped kernel
