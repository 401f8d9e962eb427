"""The equivalent kernels a gate of a loaded model really learned, and how separable they are.

LSKA's and LSKA-trivial's kernels are outer products by construction (rank-1 error ~ 0); LKA's are not.
Whether the weights are trained is the caller's knowledge (a zoo checkpoint, or a random stand-in), so it
is passed in and carried to the figure, which labels random weights as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

from lska_demo.analysis.cascade import design_of
from lska_demo.analysis.playground import best_rank
from lska_demo.model.kernels import LargeKernelGate, equivalent_kernel


def gates_in(model: nn.Module) -> dict[str, LargeKernelGate]:
    """Qualified name -> every large-kernel gate inside ``model`` (a YOLO model, a VAN block or a bare gate)."""
    return {
        name or type(module).__name__: module
        for name, module in model.named_modules()
        if isinstance(module, LargeKernelGate)
    }


@dataclass(frozen=True)
class ChannelKernel:
    """One channel's k x k equivalent kernel, its best rank-1 approximation and relative error."""

    channel: int
    energy: float  # Frobenius norm of the kernel
    kernel: np.ndarray
    rank1: np.ndarray
    rank1_error: float


@dataclass(frozen=True)
class TrainedKernels:
    design: str
    k: int
    trained: bool
    channels: int  # the gate's channel count
    kernels: tuple[ChannelKernel, ...]


def trained_kernels(
    module: nn.Module, trained: bool, channels: Sequence[int] | None = None, top: int = 4
) -> TrainedKernels:
    """The equivalent kernels of ``module``'s gate for the chosen channels, or the ``top`` most energetic ones.

    Args:
        module: a gate or a VAN block (e.g. a value of ``gates_in(model)``).
        trained: whether the weights are trained (the figure says "random weights" otherwise).
        channels: channel indices to show; None picks the ``top`` with the largest kernel norm.
        top: how many channels to pick when ``channels`` is None.
    """
    gate = module if isinstance(module, LargeKernelGate) else module.gate  # a VAN block wraps its gate
    kernels = equivalent_kernel(gate).double().cpu().numpy()
    energy = np.linalg.norm(kernels.reshape(len(kernels), -1), axis=1)
    if channels is None:
        chosen = [int(c) for c in np.argsort(-energy, kind="stable")[: max(top, 1)]]
    else:
        chosen = list(channels)
        bad = [c for c in chosen if not 0 <= c < len(kernels)]
        if bad or not chosen:
            raise ValueError(f"channels must be between 0 and {len(kernels) - 1}, got {list(channels)}")
    views = []
    for c in chosen:
        approx, err = best_rank(kernels[c], 1)
        views.append(ChannelKernel(c, float(energy[c]), kernels[c], approx, err))
    return TrainedKernels(design_of(gate), gate.k_size, trained, len(kernels), tuple(views))
