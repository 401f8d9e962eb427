"""Where a model looks: LSKA's stage maps, and class activation maps of the detector.

Grad-CAM: Selvaraju et al., ICCV 2017. Eigen-CAM: Muhammad & Yeasin, IJCNN 2020 (via pytorch-grad-cam).
Nothing here changes the caller's model: CAMs run on a private copy (grad-cam puts the model in eval
mode, hooks its layers and, for Grad-CAM, back-propagates), so a model shared between threads is safe.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.base_cam import BaseCAM
from torch import nn

from lska_demo.images import letterbox
from lska_demo.kernels import LargeKernelGate
from lska_demo.vocabulary import CAM_METHODS
from lska_demo.yolo import lska_layers


def _normalise(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _channel_map(t: torch.Tensor) -> np.ndarray:
    """Mean |activation| over channels, min-max normalised to [0, 1], as a 2-D float array."""
    return _normalise(t[0].abs().mean(dim=0).double().numpy())


class _GateInput(Exception):
    """Raised by the hook with the gate's input: the rest of the network is not needed."""

    def __init__(self, x: torch.Tensor) -> None:
        super().__init__("gate input captured")
        self.x = x


def _pick_gate(model: nn.Module, gate: str | None) -> tuple[str, LargeKernelGate]:
    gates = lska_layers(model)
    if not gates:
        raise ValueError("this model has no LSKA layer: stage maps need an LSKA variant (the baseline has none)")
    if gate is None:
        return gates[0]
    named = dict(gates)
    if gate not in named:
        raise ValueError(f"no LSKA gate named {gate!r}; this model has {list(named)}")
    return gate, named[gate]


def _gate_input(model: nn.Module, gate: nn.Module, x: torch.Tensor) -> torch.Tensor:
    owner = threading.get_ident()

    def hook(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        if threading.get_ident() == owner:  # leave other threads' forwards of a shared model alone
            raise _GateInput(args[0])

    handle = gate.register_forward_pre_hook(hook)
    try:
        model(x)
    except _GateInput as captured:  # the expected way out
        return captured.x
    finally:
        handle.remove()
    raise ValueError("the LSKA gate did not run in the forward pass")


def stage_maps(
    model: nn.Module, image: np.ndarray, imgsz: int = 640, gate: str | None = None
) -> list[tuple[str, np.ndarray]]:
    """The maps inside one LSKA gate (the first, or ``gate`` by qualified name) for one image.

    Returns ("input", ...), one entry per stage of ``LargeKernelGate.stages`` (for LSKA: conv0h, conv0v,
    conv_spatial_h, conv_spatial_v, conv1 = attn) and ("output", x * attn); each is the mean |value| over
    channels, normalised to [0, 1], at the gate's feature resolution.
    """
    _, unit = _pick_gate(model, gate)
    x = letterbox(image, imgsz)[0].to(next(model.parameters()).device)
    with torch.no_grad():
        feature = _gate_input(model, unit, x)
        stages = unit.stages(feature)
        output = feature * stages[-1][1]
    return (
        [("input", _channel_map(feature))]
        + [(n, _channel_map(t)) for n, t in stages]
        + [("output", _channel_map(output))]
    )


def gate_effect(model: nn.Module, images: list[np.ndarray], imgsz: int = 640) -> dict[str, float]:
    """How much each LSKA gate changes its input: mean over images of ||x * attn - x|| / ||x||.

    0 is the identity (a fresh graft); a gate that reweights features scores well above it. The zoo's
    report uses it to tell a graft that learned something from one that is still the identity.
    """
    gates = lska_layers(model)
    if not gates or not images:
        raise ValueError("gate_effect needs an LSKA variant and at least one image")
    sums = dict.fromkeys((name for name, _ in gates), 0.0)
    owner = threading.get_ident()

    def make_hook(name: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]:
        def hook(_module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            if threading.get_ident() == owner:
                x = args[0].double()
                sums[name] += float((out.double() - x).norm() / x.norm().clamp_min(1e-12))

        return hook

    handles = [gate.register_forward_hook(make_hook(name)) for name, gate in gates]
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            for image in images:
                model(letterbox(image, imgsz)[0].to(device))
    finally:
        for handle in handles:
            handle.remove()
    return {name: total / len(images) for name, total in sums.items()}


@dataclass
class CAM:
    """A class activation map at the letterboxed input size (imgsz x imgsz), values in [0, 1]."""

    heatmap: np.ndarray
    method: str
    layer: int
    detections: int
    note: str


class _TensorOutput(nn.Module):
    """grad-cam needs a tensor: a YOLO model in eval mode returns (Tensor[B, 4 + nc, N], extras)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        return out[0] if isinstance(out, tuple | list) else out


def _eigen_projection(activations: np.ndarray) -> np.ndarray:
    """Each location's activations projected on their first principal direction, sign fixed so that its dominant
    extreme is positive (the rule grad-cam ships as Seg-Eigen-CAM's Eq. 13), so runs never flip."""
    maps = []
    for a in np.nan_to_num(activations):
        flat = a.reshape(a.shape[0], -1).T
        flat = flat - flat.mean(axis=0)
        _, _, vt = np.linalg.svd(flat, full_matrices=False)  # the full U of an 80x80 map would be 300 MB
        projection = (flat @ vt[0]).reshape(a.shape[1:])
        maps.append(-projection if abs(projection.min()) > abs(projection.max()) else projection)
    return np.float32(maps)


class _EigenCAM(BaseCAM):
    """Eigen-CAM (Muhammad & Yeasin, IJCNN 2020) with a deterministic sign and no gradients."""

    def __init__(self, model: nn.Module, target_layers: list[nn.Module]) -> None:
        super().__init__(model, target_layers, uses_gradients=False)

    def get_cam_image(
        self,
        input_tensor: torch.Tensor,
        target_layer: nn.Module,
        targets: list | None,
        activations: np.ndarray,
        grads: np.ndarray | None,
        eigen_smooth: bool,
    ) -> np.ndarray:
        return _eigen_projection(activations)


class _DetectionScore:
    """Grad-CAM target: the sum of the best class score of every prediction above ``conf``."""

    def __init__(self, conf: float) -> None:
        self.conf = conf

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        scores = output[4:].max(dim=0).values
        return scores[scores > self.conf].sum()  # a 0-dim tensor even when empty, so backward never fails


def _count_detections(prediction: torch.Tensor, conf: float, iou: float = 0.7) -> int:
    """Boxes after class-aware NMS (Ultralytics' default IoU 0.7) among predictions above ``conf``."""
    from torchvision.ops import batched_nms

    p = prediction[0].T  # N x (4 + nc): cx, cy, w, h, class scores
    scores, classes = p[:, 4:].max(dim=1)
    keep = scores > conf
    if not bool(keep.any()):
        return 0
    cxcywh = p[keep, :4]
    boxes = torch.cat([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], dim=1)
    return int(batched_nms(boxes, scores[keep], classes[keep], iou).numel())


def _private_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy with frozen weights: hooks, mode changes and backward passes stay private."""
    clone = copy.deepcopy(model).eval()
    for p in clone.parameters():
        p.requires_grad_(False)
    return clone


def class_activation_map(
    model: nn.Module,
    image: np.ndarray,
    method: str = "eigen",
    layer: int | None = None,
    imgsz: int = 640,
    conf: float = 0.25,
) -> CAM:
    """An Eigen-CAM (no target needed) or Grad-CAM (target: summed best class scores above ``conf``)
    of ``model.model[layer]`` (default: the layer before Detect) for one RGB image.

    Deterministic: no randomness is involved and Eigen-CAM's SVD sign is fixed. With nothing above
    ``conf``, Grad-CAM has no target and returns a zero map with a note instead of raising.
    ``detections`` counts boxes after NMS at IoU 0.7.
    """
    if method not in CAM_METHODS:
        raise ValueError(f"unknown CAM method {method!r}; choose one of {list(CAM_METHODS)}")
    n_layers = len(model.model)
    layer = n_layers - 2 if layer is None else layer
    if not -n_layers <= layer < n_layers:
        raise ValueError(f"layer {layer} is out of range: the model has layers 0..{n_layers - 1}")
    index = layer % n_layers
    clone = _private_copy(model)
    wrapped = _TensorOutput(clone)
    x = letterbox(image, imgsz)[0].to(next(clone.parameters()).device)
    with torch.no_grad():
        detections = _count_detections(wrapped(x), conf)
    if method == "grad" and detections == 0:
        note = f"nothing detected above confidence {conf}: Grad-CAM has no score to explain (try EigenCAM)"
        return CAM(np.zeros((imgsz, imgsz), np.float32), method, index, 0, note)
    target_layers = [clone.model[index]]
    cam = _EigenCAM(wrapped, target_layers) if method == "eigen" else GradCAM(wrapped, target_layers)
    targets = None if method == "eigen" else [_DetectionScore(conf)]
    try:
        with torch.enable_grad():
            # Grad-CAM's activations need a graph: the weights are frozen, so the input carries it.
            heatmap = cam(x.clone().requires_grad_(method == "grad"), targets=targets)[0]
    finally:
        cam.activations_and_grads.release()  # not grad-cam's __exit__, which swallows IndexError
    note = "" if detections else f"nothing detected above confidence {conf}; the map shows the dominant features"
    return CAM(np.asarray(heatmap, np.float32), method, index, detections, note)
