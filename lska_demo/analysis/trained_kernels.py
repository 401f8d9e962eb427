"""The equivalent kernels a gate of a loaded model really learned, beside a random init, and how separable they are.

LSKA's and LSKA-trivial's kernels are outer products by construction (rank-1 error ~ 0); LKA's are not.
Whether the weights are trained is the caller's knowledge (a zoo checkpoint, or a random stand-in), so it
is passed in and carried to the figure, which labels random weights as such. Beside each trained kernel
stands the same channel of a fresh draw of PyTorch's default init (what the kernels started from, in
distribution), and a Kolmogorov-Smirnov test says whether the weights can still be told from that init.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lska_demo.analysis.cascade import design_of
from lska_demo.analysis.playground import best_rank
from lska_demo.core.stats import MIN_TAPS_FOR_INIT_TEST
from lska_demo.core.stats import init_p_value as init_p
from lska_demo.model.kernels import GATES, LargeKernelGate, equivalent_kernel


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
    init: np.ndarray  # the same channel of a fresh draw of the default init


@dataclass(frozen=True)
class TrainedKernels:
    design: str
    k: int
    trained: bool
    channels: int  # the gate's channel count
    kernels: tuple[ChannelKernel, ...]
    init_p: float | None  # the largest KS p-value of the gate's kernels against a random init (None: too small)
    kernel_change: float | None = None  # recorded at training: relative L2 change from the real init


def init_p_value(gate: LargeKernelGate) -> float | None:
    """The largest p-value (``core.stats.init_p_value``) over the gate's depthwise convs with enough taps to test:
    near 1 for kernels that never moved, tiny for trained ones; None where every kernel is too small."""
    p_values = [
        init_p(conv.weight.detach().cpu().numpy())
        for conv in gate.depthwise_convs()
        if conv.weight.shape[2] * conv.weight.shape[3] >= MIN_TAPS_FOR_INIT_TEST
    ]
    return max(p_values) if p_values else None


def fresh_init(gate: LargeKernelGate, seed: int = 0) -> np.ndarray:
    """The equivalent kernels of a gate of the same design, channels and k, freshly initialised (seeded)."""
    design = next(name for name, cls in GATES.items() if type(gate) is cls)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = GATES[design](gate.dim, gate.k_size)
    return equivalent_kernel(fresh).double().numpy()


def trained_kernels(
    module: nn.Module,
    trained: bool,
    channels: Sequence[int] | None = None,
    top: int = 4,
    kernel_change: float | None = None,
) -> TrainedKernels:
    """The equivalent kernels of ``module``'s gate for the chosen channels, or the ``top`` most energetic ones.

    Args:
        module: a gate or a VAN block (e.g. a value of ``gates_in(model)``).
        trained: whether the weights are trained (the figure says "random weights" otherwise).
        channels: channel indices to show; None picks the ``top`` with the largest kernel norm.
        top: how many channels to pick when ``channels`` is None.
        kernel_change: the relative change from the init recorded when the model was trained, if known.
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
    init = fresh_init(gate)
    views = []
    for c in chosen:
        approx, err = best_rank(kernels[c], 1)
        views.append(ChannelKernel(c, float(energy[c]), kernels[c], approx, err, init[c]))
    return TrainedKernels(
        design_of(gate), gate.k_size, trained, len(kernels), tuple(views), init_p_value(gate), kernel_change
    )
