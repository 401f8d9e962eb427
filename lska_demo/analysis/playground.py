"""A kernel playground: small patterns filtered by each design's equivalent kernel, and what separability costs.

A separable kernel is an outer product (rank 1): it can blur, box-sum, or find horizontal and vertical
edges, but not a diagonal line or a ring. A sum of C separable kernels has rank <= C; LSKA's 1x1 conv
sums its C channels' separable kernels, so C channels can rebuild what one cannot. ``rank_view`` measures
both: the best rank-1 error (SVD), the best rank-C error (SVD, any C separable kernels), and the error of
an LSKA-shaped fit (C channels of the real cascade, 1x1 mixing) found by alternating least squares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont
from scipy.linalg import cho_factor, cho_solve
from torch import nn

from lska_demo.model.kernels import LargeKernelGate, equivalent_kernel, kernel_spec

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


def _spread(taps: np.ndarray, dilation: int) -> np.ndarray:
    """A dilated 1-D kernel as a dense one: ``dilation - 1`` zeros between taps."""
    out = np.zeros(dilation * (len(taps) - 1) + 1)
    out[::dilation] = taps
    return out


def _shifts(vector: np.ndarray, columns: int, step: int) -> np.ndarray:
    """The full convolution with ``vector`` as a matrix: column i is ``vector`` shifted down by i * step."""
    out = np.zeros((len(vector) + step * (columns - 1), columns))
    for i in range(columns):
        out[i * step : i * step + len(vector), i] = vector
    return out


def fit_lska(target: np.ndarray, channels: int, sweeps: int = 20, seed: int = 0) -> tuple[np.ndarray, float]:
    """Fit LSKA's shape with ``channels`` channels to ``target`` (k x k) by alternating least squares.

    Per channel c the kernel is outer(column_c, row_c), each profile a plain a-tap kernel convolved with a
    dilated K-tap kernel (LSKA's four depthwise convs); the 1x1 conv sums the channels (its weight per
    channel is a scale, absorbed into column_c). Each step solves exactly for one of the four kernels of
    every channel, the others fixed; the normal equations use the separable structure, so a fit of C = 8
    at k = 53 is a few dozen milliseconds of NumPy. Seeded start; returns the fit and its relative error.
    """
    k = target.shape[0]
    spec = kernel_spec(k)
    a, big_k, d = spec.plain, spec.dilated, spec.dilation
    rng = np.random.default_rng(seed)
    # kernels[axis] = [plain (C x a), dilated (C x K)]; axis 0 builds the columns, axis 1 the rows
    kernels = [[rng.normal(size=(channels, a)), rng.normal(size=(channels, big_k))] for _ in range(2)]

    def profiles(axis: int) -> np.ndarray:
        plain, dilated = kernels[axis]
        return np.stack([np.convolve(plain[c], _spread(dilated[c], d)) for c in range(channels)])

    for _ in range(sweeps):
        for axis, goal in ((0, target), (1, target.T)):
            other = profiles(1 - axis)  # C x k, fixed during this axis's updates
            gram = other @ other.T
            for block in (0, 1):
                plain, dilated = kernels[axis]
                # profile_c = design_c @ unknowns_c, linear in the block being solved for
                design = np.stack(
                    [
                        _shifts(_spread(dilated[c], d), a, 1) if block == 0 else _shifts(plain[c], big_k, d)
                        for c in range(channels)
                    ]
                )  # C x k x n
                n = design.shape[2]
                normal = np.einsum("chi,dhj,cd->cidj", design, design, gram).reshape(channels * n, channels * n)
                rhs = np.einsum("chi,hw,cw->ci", design, goal, other).reshape(-1)
                # a small ridge keeps the system positive definite where a channel has died out; Cholesky,
                # unlike a general solve, stays single-threaded at this size (threads only contend on 2 cores)
                ridge = 1e-8 * (np.trace(normal) / len(normal)) + 1e-300
                solution = cho_solve(cho_factor(normal + ridge * np.eye(len(normal))), rhs)
                kernels[axis][block] = solution.reshape(channels, n)
    fitted = profiles(0).T @ profiles(1)
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


def rank_view(name: str, k: int, channels: int = 4, sweeps: int = 20) -> RankView:
    """What one separable kernel cannot represent of the target ``name`` at ``k``, and what C channels recover.

    Args:
        name: a pattern of ``PATTERNS`` used as the target kernel ("diagonal line", "ring", ...).
        k: kernel size (a supported LSKA k).
        channels: C, the channels LSKA's 1x1 conv mixes.
        sweeps: alternating-least-squares sweeps of the LSKA fit.
    """
    target = target_kernel(name, k)
    r1, e1 = best_rank(target, 1)
    rc, ec = best_rank(target, channels)
    fit, ef = fit_lska(target, channels, sweeps)
    return RankView(name, target, r1, e1, channels, rc, ec, fit, ef)
