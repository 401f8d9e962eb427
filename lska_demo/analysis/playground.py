"""A kernel playground: small patterns filtered by each design's equivalent kernel, and what separability costs.

A separable kernel is an outer product (rank 1): it can blur, box-sum, or find horizontal and vertical
edges, but not a diagonal line or a ring. A sum of C separable kernels has rank <= C; LSKA's 1x1 conv
sums its C channels' separable kernels, so C channels can rebuild what one cannot. ``rank_view`` measures
both: the best rank-1 error (SVD), the best rank-C error (SVD, any C separable kernels), and the error of
an LSKA-shaped fit (C channels of the real cascade, 1x1 mixing) found by a short gradient descent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from lska_demo.kernels import LargeKernelGate, equivalent_kernel, kernel_spec

PATTERN_SIZE = 48


def _coords(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column offsets from the centre, in units of the half-size (−1 .. 1)."""
    axis = (np.arange(size) - (size - 1) / 2) / ((size - 1) / 2)
    return np.meshgrid(axis, axis, indexing="ij")


def edge(size: int = PATTERN_SIZE) -> np.ndarray:
    """A vertical step edge: dark left half, bright right half."""
    _, x = _coords(size)
    return (x > 0).astype(np.float64)


def blob(size: int = PATTERN_SIZE) -> np.ndarray:
    """A Gaussian blob of standard deviation a fifth of the size."""
    y, x = _coords(size)
    return np.exp(-(x**2 + y**2) / (2 * 0.2**2))


def diagonal(size: int = PATTERN_SIZE) -> np.ndarray:
    """A one-pixel diagonal line from top-left to bottom-right."""
    return np.eye(size)


def ring(size: int = PATTERN_SIZE) -> np.ndarray:
    """A ring of radius 0.7 of the half-size, about 1/8 of the half-size thick."""
    y, x = _coords(size)
    return (np.abs(np.hypot(x, y) - 0.7) < 0.07 + 1.0 / size).astype(np.float64)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans Bold from matplotlib's own fonts (always installed with it); PIL's default otherwise."""
    path = font_manager.findfont(
        font_manager.FontProperties(family="DejaVu Sans", weight="bold"), fallback_to_default=True
    )
    try:
        return ImageFont.truetype(path, size)
    except OSError:  # a font file that cannot be read: the bitmap default still draws the letters
        return ImageFont.load_default()


def text(size: int = PATTERN_SIZE, word: str = "LSKA") -> np.ndarray:
    """``word`` in white on black, the largest font size whose text fits 90 % of the width."""
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    points = size
    while points > 6:
        font = _font(points)
        left, top, right, bottom = draw.textbbox((0, 0), word, font=font)
        if right - left <= 0.9 * size and bottom - top <= 0.9 * size:
            break
        points -= 1
    draw.text(((size - (right - left)) / 2 - left, (size - (bottom - top)) / 2 - top), word, fill=255, font=font)
    return np.asarray(image, dtype=np.float64) / 255.0


PATTERNS: dict[str, Callable[[int], np.ndarray]] = {
    "edge": edge,
    "blob": blob,
    "diagonal line": diagonal,
    "ring": ring,
    "text": text,
}


def pattern(name: str, size: int = PATTERN_SIZE) -> np.ndarray:
    """A size x size pattern from ``PATTERNS`` (values in [0, 1])."""
    if name not in PATTERNS:
        raise ValueError(f"unknown pattern {name!r}; choose one of {sorted(PATTERNS)}")
    return PATTERNS[name](size)


# --- filtering ------------------------------------------------------------------------------------------


@torch.no_grad()
def filter_through_cascade(gate: LargeKernelGate, image: np.ndarray) -> np.ndarray:
    """``image`` (H x W) run through ``gate``'s own depthwise convs (channel 0, biases left out).

    The image is zero-padded by k // 2 first and cropped back after, so that no stage meets a border it
    would not meet in one k x k convolution: the result equals ``filter_with_kernel`` with the gate's
    equivalent kernel (what the tests check).
    """
    half = gate.k_size // 2
    weight = gate.depthwise_convs()[0].weight
    x = torch.from_numpy(np.pad(np.asarray(image, dtype=np.float64), half)).to(weight.dtype)[None, None]
    for conv in gate.depthwise_convs():
        x = nn.functional.conv2d(x, conv.weight[:1], None, conv.stride, conv.padding, conv.dilation, 1)
    return x[0, 0, half:-half, half:-half].double().numpy()


def filter_with_kernel(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """One 'same'-size, zero-padded 2-D correlation of ``image`` with an odd square ``kernel`` (PyTorch's conv2d)."""
    x = torch.from_numpy(np.asarray(image, dtype=np.float64))[None, None]
    w = torch.from_numpy(np.asarray(kernel, dtype=np.float64))[None, None]
    return nn.functional.conv2d(x, w, padding=kernel.shape[-1] // 2)[0, 0].numpy()


@dataclass(frozen=True)
class Playground:
    """A pattern and, per design, the kernel it was filtered with and the filtered output (same size)."""

    name: str
    image: np.ndarray
    kernels: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]


def playground(image: np.ndarray, gates: dict[str, LargeKernelGate], name: str = "pattern") -> Playground:
    """Filter ``image`` through every gate's cascade (channel 0), with the equivalent kernel beside it.

    Args:
        image: a 2-D pattern (e.g. ``pattern("ring")``).
        gates: design -> gate, e.g. ``{d: teaching_gate(d, k) for d in DESIGNS}`` or trained gates.
        name: the pattern's name, for titles.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"a pattern is a 2-D array, got shape {image.shape}")
    kernels = {design: equivalent_kernel(gate)[0].double().cpu().numpy() for design, gate in gates.items()}
    outputs = {design: filter_through_cascade(gate, image) for design, gate in gates.items()}
    return Playground(name, image, kernels, outputs)


# --- what one separable kernel cannot hold --------------------------------------------------------------


def target_kernel(name: str, k: int) -> np.ndarray:
    """A k x k target kernel drawn from a pattern (e.g. "diagonal line", "ring"), scaled to unit norm."""
    kernel = pattern(name, k)
    norm = float(np.linalg.norm(kernel))
    return kernel / norm if norm > 0 else kernel


def best_rank(kernel: np.ndarray, rank: int) -> tuple[np.ndarray, float]:
    """The best rank-``rank`` approximation (Eckart-Young, by SVD) and its relative Frobenius error."""
    u, s, vt = np.linalg.svd(kernel)
    approx = (u[:, :rank] * s[:rank]) @ vt[:rank]
    norm = float(np.linalg.norm(kernel))
    return approx, (float(np.linalg.norm(kernel - approx)) / norm if norm > 0 else 0.0)


def _lska_profiles(plain: torch.Tensor, dilated: torch.Tensor, dilation: int) -> torch.Tensor:
    """C x k one-axis profiles of LSKA's shape: each an a-tap kernel convolved with a K-tap kernel d apart."""
    channels, big_k = dilated.shape
    spread = torch.zeros(channels, dilation * (big_k - 1) + 1, dtype=dilated.dtype)
    spread[:, ::dilation] = dilated
    a = plain.shape[1]
    return nn.functional.conv1d(spread[None], plain.flip(-1)[:, None], padding=a - 1, groups=channels)[0]


def fit_lska(target: np.ndarray, channels: int, steps: int = 400, seed: int = 0) -> tuple[np.ndarray, float]:
    """Fit LSKA's shape with ``channels`` channels to ``target`` (k x k): per channel c a separable kernel
    outer(column_c, row_c), each profile an a-tap kernel convolved with a dilated K-tap kernel (LSKA's four
    depthwise convs), summed with 1x1 mixing weights m_c. Adam, ``steps`` steps, seeded; the cascade is
    evaluated along each axis (C x k profiles), so a fit takes a fraction of a second.

    Returns the fitted kernel and its relative Frobenius error."""
    k = target.shape[0]
    spec = kernel_spec(k)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        params = [
            nn.Parameter(torch.randn(channels, n, dtype=torch.float64) / n**0.5)
            for n in (spec.plain, spec.dilated, spec.plain, spec.dilated)
        ]
        mixing = nn.Parameter(torch.randn(channels, dtype=torch.float64) / channels**0.5)
    goal = torch.from_numpy(np.asarray(target, dtype=np.float64))
    optimiser = torch.optim.Adam([*params, mixing], lr=0.05)

    def kernel() -> torch.Tensor:
        columns = _lska_profiles(params[0], params[1], spec.dilation)
        rows = _lska_profiles(params[2], params[3], spec.dilation)
        return torch.einsum("c,ch,cw->hw", mixing, columns, rows)

    with torch.enable_grad():
        for _ in range(steps):
            optimiser.zero_grad()
            loss = ((kernel() - goal) ** 2).sum()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        fitted = kernel().numpy()
    norm = float(np.linalg.norm(target))
    return fitted, (float(np.linalg.norm(target - fitted)) / norm if norm > 0 else 0.0)


@dataclass(frozen=True)
class RankView:
    """A target kernel, its best rank-1 and rank-C approximations, and an LSKA fit with C channels."""

    name: str
    target: np.ndarray
    rank1: np.ndarray
    rank1_error: float
    channels: int
    rank_c: np.ndarray
    rank_c_error: float
    lska_fit: np.ndarray
    lska_error: float


def rank_view(name: str, k: int, channels: int = 4, steps: int = 400) -> RankView:
    """What one separable kernel cannot represent of the target ``name`` at ``k``, and what C channels recover.

    Args:
        name: a pattern of ``PATTERNS`` used as the target kernel ("diagonal line", "ring", ...).
        k: kernel size (a supported LSKA k).
        channels: C, the channels LSKA's 1x1 conv mixes.
        steps: Adam steps of the LSKA fit.
    """
    target = target_kernel(name, k)
    r1, e1 = best_rank(target, 1)
    rc, ec = best_rank(target, channels)
    fit, ef = fit_lska(target, channels, steps)
    return RankView(name, target, r1, e1, channels, rc, ec, fit, ef)
