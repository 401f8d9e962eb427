"""Effective receptive fields, by RepLKNet's method (Ding et al., "Scaling Up Your Kernels to 31x31", CVPR 2022).

The ERF of a unit is the map of input pixels whose change moves it: take the centre pixel of a feature
map, ``s = relu(out[:, :, H//2, W//2]).sum()``, differentiate w.r.t. the input, keep ``relu(grad)``, sum
over channels and average over images. The picture is ``log10(map + 1) / max``; area ratios measure
how far the contribution spreads (a larger ratio is a wider ERF).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from lska_demo.analysis.exclusive import gradient_pass
from lska_demo.benchmark.images import letterbox
from lska_demo.model.kernels import LargeKernelGate, build_design
from lska_demo.model.yolo import VariantSpec, variant_yaml

THRESHOLDS: tuple[float, ...] = (0.2, 0.3, 0.5, 0.99)


@dataclass
class ERF:
    """An effective receptive field. ``ratios`` are computed on ``heatmap``, as RepLKNet does."""

    contribution: np.ndarray  # HxW: relu(grad) summed over channels, averaged over images
    heatmap: np.ndarray  # log10(contribution + 1) / max, in [0, 1]
    ratios: dict[float, float | None]
    images: int

    def to_dict(self) -> dict[str, object]:
        return {
            "ratios": {str(t): r for t, r in self.ratios.items()},
            "shape": list(self.contribution.shape),
            "images": self.images,
        }


def area_ratios(contribution: np.ndarray, thresholds: Sequence[float] = THRESHOLDS) -> dict[float, float | None]:
    """For each t, the smallest centred square (odd side, centre H//2, W//2, inside the map) whose sum
    exceeds t of the map's total, as side^2 / (H * W); None where no square passes or the map sums to 0.

    RepLKNet's ``get_rectangle`` tries sides 3 .. H - 2 and returns None otherwise (its caller then crashes
    on unpacking); here sides run from 1 to the largest centred square that fits, and None is a value.
    """
    h, w = contribution.shape
    total = float(contribution.sum())
    cy, cx = h // 2, w // 2
    largest = min(cy, cx, h - 1 - cy, w - 1 - cx)  # half-side of the biggest centred square that fits
    sums = [float(contribution[cy - i : cy + i + 1, cx - i : cx + i + 1].sum()) for i in range(largest + 1)]
    ratios: dict[float, float | None] = {}
    for t in thresholds:
        passing = [i for i, s in enumerate(sums) if total > 0 and s / total > t]
        ratios[t] = None if not passing else (2 * passing[0] + 1) ** 2 / (h * w)
    return ratios


def _erf(contribution: np.ndarray, images: int) -> ERF:
    scaled = np.log10(contribution + 1.0)  # magnitudes differ by orders: RepLKNet takes the log
    peak = float(scaled.max())
    heatmap = scaled / peak if peak > 0 else np.zeros_like(scaled)
    return ERF(contribution=contribution, heatmap=heatmap, ratios=area_ratios(heatmap), images=images)


def _centre_score(out: torch.Tensor) -> torch.Tensor:
    h, w = out.shape[-2:]
    return torch.relu(out[:, :, h // 2, w // 2]).sum()


def _contribution(grad: torch.Tensor) -> np.ndarray:
    """relu(grad), summed over channels and over the batch."""
    return torch.relu(grad).sum(dim=(0, 1)).double().numpy()


def module_erf(
    design: str, k: int, dim: int = 8, size: int = 96, module: nn.Module | None = None, seed: int = 0
) -> ERF:
    """The ERF of one large-kernel design (random weights from ``seed``, or ``module`` as given).

    For a gate, the ERF is taken of its attention path ``gate.attention(x)``, not of ``x * attn``: the
    gate's product routes a gradient through ``x`` itself, which only adds the centre pixel (the identity
    path) and says nothing of the kernel; what spreads is the kernel. Any other module is called as is.
    The input is seeded uniform noise in [0, 1) (image-like), 1 x dim x size x size.
    """
    with torch.random.fork_rng(devices=[]):  # seeded without disturbing the caller's random state
        torch.manual_seed(seed)
        if module is None:
            module = build_design(design, dim, k)
        x = torch.rand(1, dim, size, size)
    x.requires_grad_(True)
    forward = module.attention if isinstance(module, LargeKernelGate) else module
    with gradient_pass(), torch.enable_grad():
        (grad,) = torch.autograd.grad(_centre_score(forward(x)), x)
    return _erf(_contribution(grad), images=1)


class _Captured(Exception):
    """Raised by the hook once the chosen layer has run: the rest of the network is not needed."""


def _inference_copy(model: nn.Module) -> nn.Module:
    """A private eval-mode copy with Conv+BN folded (Ultralytics' ``fuse``): the same maths in eval mode
    (BatchNorm is then an affine map), about 15 % faster per image and much cheaper on a cold first call.
    In eval mode images do not interact within a batch. The caller's model and its mode are left alone."""
    work = copy.deepcopy(model).eval()
    if hasattr(work, "fuse"):
        work.fuse(verbose=False)
    return work


def _layer_output(model: nn.Module, layer: int, x: torch.Tensor) -> torch.Tensor:
    """The output of ``model.model[layer]``, captured by a forward hook; the forward stops right there.

    ``model`` is the caller's private copy (``_inference_copy``): no other thread runs it, so the hook needs
    no guard."""
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: object, output: object) -> None:
        if not isinstance(output, torch.Tensor):
            raise ValueError(f"layer {layer} outputs {type(output).__name__}, not a feature map; pick another layer")
        captured.append(output)
        raise _Captured

    handle = model.model[layer].register_forward_hook(hook)
    try:
        model(x)
    except _Captured:  # the expected way out: the layer's output is in hand
        return captured[0]
    finally:
        handle.remove()
    raise ValueError(f"layer {layer} did not run in the forward pass")


def model_erf(
    model: nn.Module,
    layer: int,
    images: Sequence[np.ndarray],
    imgsz: int = 640,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 4,
) -> ERF:
    """The ERF of the centre unit of ``model.model[layer]``, averaged over ``images`` (RGB uint8 arrays).

    Images are letterboxed to imgsz and run in batches: in eval mode images do not interact, so one
    backward of the summed centre scores gives the sum of the per-image gradients. ``progress(done, total)``
    is called after each batch. Parameter gradients are never computed (autograd.grad w.r.t. the input).
    """
    if not images:
        raise ValueError("model_erf needs at least one image")
    n_layers = len(model.model)
    if not -n_layers <= layer < n_layers:
        raise ValueError(f"layer {layer} is out of range: the model has layers 0..{n_layers - 1}")
    layer %= n_layers
    total: np.ndarray | None = None
    tensors = [letterbox(image, imgsz)[0] for image in images]
    model = _inference_copy(model)
    with gradient_pass(), torch.enable_grad():
        for start in range(0, len(tensors), batch):
            # channels-last lets oneDNN pick faster conv kernels on CPU (same fp32 maths, ~1.3x here)
            x = torch.cat(tensors[start : start + batch]).contiguous(memory_format=torch.channels_last)
            x.requires_grad_(True)
            (grad,) = torch.autograd.grad(_centre_score(_layer_output(model, layer, x)), x)
            part = _contribution(grad)
            total = part if total is None else total + part
            if progress is not None:
                progress(min(start + batch, len(tensors)), len(tensors))
    assert total is not None
    return _erf(total / len(tensors), images=len(tensors))


class LayerPair(NamedTuple):
    """One place in the network, as a layer index of the baseline and of the variant (gate rows shift indices)."""

    baseline: int
    variant: int


def erf_layers(spec: VariantSpec) -> dict[str, LayerPair]:
    """Layers worth an ERF for a variant: its (first) inserted gate row and the end of the backbone (SPPF), each
    with the baseline's layer at the same place: the layer the gate reads from, and the baseline's SPPF.

    The inserted rows are the variant's rows that no baseline row maps to, so this holds for every gate (the
    four designs, the pointwise control, VAN's block), not only for rows named LSKA. For residual gates the
    insertion point is the last backbone C2fLSKA (no index moves). A baseline spec maps both sides to the
    baseline's layers at the default insertion point.
    """
    probe = spec if spec.k is not None else replace(spec, k=23)  # as LSKA: the positions do not depend on k
    table, index_map = variant_yaml(probe)
    rows = table["backbone"] + table["head"]
    modules = [row[2] for row in rows]
    sppf = modules.index("SPPF")
    if probe.point == "residual":
        point = max(i for i, m in enumerate(modules[: len(table["backbone"])]) if m == "C2fLSKA")
        source = point
    else:
        point = min(set(range(len(rows))) - set(index_map.values()))  # the first inserted row
        source = point - 1  # the row an inserted unit reads from
    back = {new: old for old, new in index_map.items()}
    pairs = {"insertion point": LayerPair(back[source], point), "end of backbone": LayerPair(back[sppf], sppf)}
    if spec.k is None:
        return {name: LayerPair(pair.baseline, pair.baseline) for name, pair in pairs.items()}
    return pairs


@dataclass
class ErfComparison:
    """The ERFs of a baseline and its variant at the same place, on the same images."""

    layer: str
    layers: LayerPair
    baseline: ERF
    variant: ERF

    def ratio_rows(self) -> list[dict[str, float | None]]:
        """One row per threshold: the area ratio of each side (None where no square reached it)."""
        thresholds = sorted(set(self.baseline.ratios) | set(self.variant.ratios))
        return [
            {"threshold": t, "baseline": self.baseline.ratios.get(t), "variant": self.variant.ratios.get(t)}
            for t in thresholds
        ]


def compare_erf(
    baseline: nn.Module,
    variant: nn.Module,
    spec: VariantSpec,
    layer: str,
    images: Sequence[np.ndarray],
    imgsz: int = 640,
    progress: Callable[[str, int, int], None] | None = None,
    batch: int = 4,
) -> ErfComparison:
    """The ERF of ``baseline`` and of ``variant`` (built from ``spec``) at the place named ``layer`` (a key of
    ``erf_layers(spec)``). ``progress(role, done, total)`` follows each side's batches."""
    pairs = erf_layers(spec)
    if layer not in pairs:
        raise ValueError(f"layer must be one of {', '.join(pairs)}; got {layer!r}")
    maps = {}
    for role, model, index in (
        ("baseline", baseline, pairs[layer].baseline),
        ("variant", variant, pairs[layer].variant),
    ):

        def step(done: int, total: int, role: str = role) -> None:
            if progress is not None:
                progress(role, done, total)

        maps[role] = model_erf(model, index, images, imgsz, progress=step, batch=batch)
    return ErfComparison(layer, pairs[layer], maps["baseline"], maps["variant"])
