"""What the four designs' cascades amount to: their k x k equivalent kernels, and how separable those are.

LSKA (Lau et al., ESWA 2024) and LSKA-trivial cascade horizontal and vertical 1-D kernels, so their
equivalent kernel is an outer product (rank 1); LKA's a x a and dilated K x K kernels are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lska_demo.analysis.cost import weights_per_channel
from lska_demo.model.kernels import DESIGNS, PAPER_KERNEL_SIZES, build_design, equivalent_kernel


def equivalent_kernels(k: int, dim: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """Design -> the k x k equivalent kernel of channel 0, from seeded random (PyTorch default) weights."""
    kernels = {}
    with torch.random.fork_rng(devices=[]):  # seeded without disturbing the caller's random state
        for design in DESIGNS:
            torch.manual_seed(seed)
            kernels[design] = equivalent_kernel(build_design(design, dim, k))[0].double().numpy()
    return kernels


def rank1(kernel: np.ndarray) -> tuple[np.ndarray, float]:
    """The best rank-1 (separable) approximation (Eckart-Young, by SVD) and its relative Frobenius error."""
    u, s, vt = np.linalg.svd(kernel)
    approx = s[0] * np.outer(u[:, 0], vt[0])
    norm = float(np.linalg.norm(kernel))
    return approx, (float(np.linalg.norm(kernel - approx)) / norm if norm > 0 else 0.0)


def weights_vs_k(ks: Sequence[int] = PAPER_KERNEL_SIZES) -> list[dict[str, Any]]:
    """Per design and k, the spatial (depthwise) weights per channel, counted on the built modules."""
    rows = []
    for k in ks:
        for design in DESIGNS:
            with torch.device("meta"):  # shapes only: nothing is allocated or initialised
                gate = build_design(design, 1, k)
            rows.append({"design": design, "k": k, "weights_per_channel": weights_per_channel(gate)})
    return rows
