"""Where a model looks: LSKA's stage maps, and class activation maps of the detector.

Grad-CAM: Selvaraju et al., ICCV 2017, one map per detected box on the Detect input that produced it.
Eigen-CAM: Muhammad & Yeasin, IJCNN 2020 (via pytorch-grad-cam). Nothing here changes the caller's model, so a
shared model is safe: an eval-mode model is used as it is (its hooks act in the calling thread only, no parameter
gets a gradient), and only a model in training mode is copied (a private eval-mode copy, so its mode stays). No
per-call copy means no per-call garbage: a deep copy of a YOLO model is a reference cycle that only Python's
cyclic collector frees, and a series of requests piled up hundreds of MB of them.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_grad_cam.base_cam import BaseCAM
from torch import nn

from lska_demo.analysis.exclusive import gradient_pass
from lska_demo.benchmark.images import letterbox
from lska_demo.model.kernels import LargeKernelGate
from lska_demo.model.vocabulary import CAM_METHODS
from lska_demo.model.yolo import lska_layers


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


FLAT_TOLERANCE = 1e-6
"""A map whose values (before normalisation) span less than this fraction of their scale (the largest |value| of
the map, or for EigenCAM of the explained features) carries no information: report it, never draw it. Relative,
because an untrained network's deep features can be 1e-9 in size and still vary."""


def _relative_span(values: torch.Tensor | np.ndarray, scale: float) -> float:
    """(max - min) / scale, 0 for an all-zero scale: the variation that flatness is judged by."""
    span = float(values.max() - values.min())
    return span / scale if scale > 0 else 0.0


MAX_CAM_BOXES = 10
"""Grad-CAM explains at most this many boxes (the most confident): one backward pass each."""


@dataclass
class CAM:
    """A class activation map at the letterboxed input size (imgsz x imgsz), values in [0, 1].

    ``flat_reason`` is empty for a map worth drawing; otherwise it says in plain words why the map is flat
    (nothing detected, or no variation), ``heatmap`` is all zeros and the map must be reported, not drawn.
    ``layers`` are every layer the map explains (Grad-CAM: the Detect inputs that produced the boxes);
    ``layer`` is the first of them. ``peak`` is the largest value before normalisation (0 for a flat map).
    """

    heatmap: np.ndarray
    method: str
    layer: int
    detections: int
    note: str
    flat_reason: str = ""
    layers: tuple[int, ...] = ()
    peak: float = 0.0

    @property
    def flat(self) -> bool:
        return bool(self.flat_reason)


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
    """Eigen-CAM (Muhammad & Yeasin, IJCNN 2020) with a deterministic sign and no gradients.

    ``peak`` keeps the largest positive projection and ``spread`` its relative span (see ``FLAT_TOLERANCE``):
    grad-cam normalises the map, so flatness is judged here. It registers no hooks: ``explain`` takes the target
    layer's activation from the caller's own forward pass (grad-cam's hooks would act in every thread).
    """

    def __init__(self, model: nn.Module, target_layer: nn.Module) -> None:
        super().__init__(model, [], uses_gradients=False)  # no target layer here: no hooks
        self.target_layers = [target_layer]
        self.peak = 0.0
        self.spread = 0.0

    def explain(self, x: torch.Tensor, activation: torch.Tensor) -> np.ndarray:
        """The map of ``activation`` (the target layer's output for input ``x``), as grad-cam's ``__call__``
        makes it from the activation its hook records: per-layer CAM, scaled to ``x``'s size, aggregated."""
        self.activations_and_grads.activations = [activation.cpu().detach()]
        self.activations_and_grads.gradients = []
        try:
            return self.aggregate_multi_layers(self.compute_cam_per_layer(x, [], False))
        finally:
            self.activations_and_grads.clear()

    def get_cam_image(
        self,
        input_tensor: torch.Tensor,
        target_layer: nn.Module,
        targets: list | None,
        activations: np.ndarray,
        grads: np.ndarray | None,
        eigen_smooth: bool,
    ) -> np.ndarray:
        projection = _eigen_projection(activations)
        positive = np.maximum(projection, 0)
        self.peak = float(positive.max())
        self.spread = _relative_span(positive, float(np.abs(activations).max()))
        return projection


@dataclass(frozen=True)
class _Box:
    """One detection after NMS: its prediction column, pyramid level, class and score."""

    anchor: int
    level: int
    cls: int
    score: float


def _detections(prediction: torch.Tensor, level_sizes: list[int], conf: float, iou: float = 0.7) -> list[_Box]:
    """Boxes after class-aware NMS (Ultralytics' default IoU 0.7) among predictions above ``conf``, best first.

    Detect concatenates its levels (strides 8, 16, 32) in order, so a column index names the level it came from.
    """
    from torchvision.ops import batched_nms

    p = prediction[0].detach().T  # N x (4 + nc): cx, cy, w, h, class scores
    scores, classes = p[:, 4:].max(dim=1)
    candidates = torch.nonzero(scores > conf).flatten()
    if candidates.numel() == 0:
        return []
    cxcywh = p[candidates, :4]
    boxes = torch.cat([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], dim=1)
    kept = candidates[batched_nms(boxes, scores[candidates], classes[candidates], iou)]  # sorted by score
    bounds = np.cumsum(level_sizes)
    return [
        _Box(int(a), int(np.searchsorted(bounds, int(a), side="right")), int(classes[a]), float(scores[a]))
        for a in kept
    ]


def _private_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy with frozen weights: hooks, mode changes and backward passes stay private."""
    clone = copy.deepcopy(model).eval()
    for p in clone.parameters():
        p.requires_grad_(False)
    return clone


@contextmanager
def _analysable(model: nn.Module) -> Iterator[nn.Module]:
    """The model to explain: ``model`` itself in eval mode (nothing here changes it), else a private eval-mode copy,
    dropped on the way out (with its reference cycles collected, so its memory does not wait for the collector)."""
    if not model.training:
        yield model
        return
    clone = _private_copy(model)
    try:
        yield clone
    finally:
        del clone
        gc.collect()


def _forward_capturing(
    model: nn.Module, x: torch.Tensor, layer: int | None, leaves: bool = False
) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
    """The prediction, Detect's input maps (one per level) and, if asked, ``model.model[layer]``'s output.

    The hooks act in the calling thread only. With ``leaves`` (for Grad-CAM) no graph is recorded up to the maps
    whose gradients are wanted (``layer``'s output, or Detect's inputs): they become leaves that require grad and
    only the layers after them are recorded, so a backward pass keeps the head's activations, not the network's.
    """
    owner = threading.get_ident()
    detect = model.model[-1]
    captured: dict[str, Any] = {}

    def leaf(t: Any) -> Any:
        if not isinstance(t, torch.Tensor):
            return t
        torch.set_grad_enabled(True)  # thread-local; the no_grad block below restores the caller's mode
        return t.detach().requires_grad_(True)

    def before_detect(_module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if threading.get_ident() != owner:
            return None
        levels = [leaf(t) for t in args[0]] if leaves and layer is None else list(args[0])
        captured["levels"] = levels
        return (levels, *args[1:]) if leaves and layer is None else None

    def after_layer(_module: nn.Module, _args: tuple[Any, ...], out: Any) -> Any:
        if threading.get_ident() != owner:
            return None
        captured["layer"] = leaf(out) if leaves else out
        return captured["layer"] if leaves else None

    handles = [detect.register_forward_pre_hook(before_detect)]
    if layer is not None:
        handles.append(model.model[layer].register_forward_hook(after_layer))
    try:
        with torch.no_grad() if leaves else contextlib.nullcontext():
            out = model(x)
    finally:
        for handle in handles:
            handle.remove()
    prediction = out[0] if isinstance(out, tuple | list) else out
    return prediction, captured["levels"], captured["layer"] if layer is not None else None


def _grad_cam(score: torch.Tensor, activation: torch.Tensor, imgsz: int) -> torch.Tensor:
    """Grad-CAM of one score on one feature map: relu(sum_c mean(dscore/dA_c) * A_c), at imgsz x imgsz.

    A map the score does not depend on (a deeper level than the box's) has no gradient: its CAM is zero.
    """
    (grad,) = torch.autograd.grad(score, activation, retain_graph=True, allow_unused=True)
    if grad is None:
        return torch.zeros(imgsz, imgsz)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activation).sum(dim=1, keepdim=True))
    return F.interpolate(cam.detach(), size=(imgsz, imgsz), mode="bilinear", align_corners=False)[0, 0]


def _detection_grad_cam(
    model: nn.Module, x: torch.Tensor, layer: int | None, conf: float
) -> tuple[np.ndarray, list[_Box], tuple[int, ...], float]:
    """Per-box Grad-CAM: each of the best ``MAX_CAM_BOXES`` boxes on the Detect input of its own level (or on
    ``layer`` if given), each normalised to its own peak, combined by the maximum; and the raw peak.

    Why per box and level: the layer before Detect feeds only the stride-32 head, so a box found at stride 8
    or 16 has no gradient there, and a Grad-CAM of that one layer was exactly zero for most benchmark objects.
    """
    imgsz = x.shape[-1]
    with gradient_pass(), torch.enable_grad():
        prediction, levels, chosen = _forward_capturing(model, x, layer, leaves=True)
        boxes = _detections(prediction, [m.shape[2] * m.shape[3] for m in levels], conf)
        detect_inputs = model.model[-1].f
        combined, peak, used = torch.zeros(imgsz, imgsz), 0.0, []
        for box in boxes[:MAX_CAM_BOXES]:
            activation = levels[box.level] if chosen is None else chosen
            cam = _grad_cam(prediction[0, 4 + box.cls, box.anchor], activation, imgsz)
            if _relative_span(cam, float(cam.max())) > FLAT_TOLERANCE:
                combined = torch.maximum(combined, (cam - cam.min()) / (cam.max() - cam.min()))
                peak = max(peak, float(cam.max()))
                used.append(detect_inputs[box.level] if layer is None else layer)
    return combined.numpy().astype(np.float32), boxes, tuple(sorted(set(used))), peak


def _layer_index(model: nn.Module, layer: int | None, method: str) -> int | None:
    n_layers = len(model.model)
    if layer is None:
        return None if method == "grad" else n_layers - 2
    if not -n_layers <= layer < n_layers:
        raise ValueError(f"layer {layer} is out of range: the model has layers 0..{n_layers - 1}")
    return layer % n_layers


def _grad_flat_reason(detections: int, explained: bool, layer: int | None, conf: float) -> str:
    """Why a Grad-CAM is flat, in plain words; empty when at least one box was explained."""
    if detections == 0:
        return f"nothing was detected above confidence {conf}, so Grad-CAM has no score to explain"
    if explained:
        return ""
    if layer is None:
        return "Grad-CAM found no positive evidence for any detected box (every feature weighs against it)"
    return (
        f"no detected box has positive Grad-CAM evidence on layer {layer} (a box found at a finer stride "
        "does not depend on it at all): leave the layer unset to explain each box where it was found"
    )


def class_activation_map(
    model: nn.Module,
    image: np.ndarray,
    method: str = "eigen",
    layer: int | None = None,
    imgsz: int = 640,
    conf: float = 0.25,
) -> CAM:
    """An Eigen-CAM (no target; default layer: the one before Detect) or a Grad-CAM of the detected boxes
    (default: each box on the Detect input that produced it; ``layer`` forces one layer) for one RGB image.

    Deterministic: no randomness is involved and Eigen-CAM's SVD sign is fixed. A map with no information
    (Grad-CAM with nothing above ``conf``, or no variation) comes back with ``flat_reason`` set and a zero
    heatmap instead of raising. ``detections`` counts boxes after NMS at IoU 0.7.
    """
    if method not in CAM_METHODS:
        raise ValueError(f"unknown CAM method {method!r}; choose one of {list(CAM_METHODS)}")
    index = _layer_index(model, layer, method)
    with _analysable(model) as subject:
        x = letterbox(image, imgsz)[0].to(next(subject.parameters()).device)
        detect_inputs = tuple(subject.model[-1].f)
        if method == "grad":
            heatmap, boxes, used, peak = _detection_grad_cam(subject, x, index, conf)
            layers = used or ((index,) if index is not None else detect_inputs)
            reason = _grad_flat_reason(len(boxes), bool(used), index, conf)
            note = f"{reason}; EigenCAM, which needs no score, may still show a map" if reason else ""
            return CAM(heatmap, method, layers[0], len(boxes), note, reason, layers, peak)
        with torch.no_grad():  # one pass: the detections, and the activation EigenCAM explains
            prediction, levels, activation = _forward_capturing(subject, x, index)
            detections = len(_detections(prediction, [m.shape[2] * m.shape[3] for m in levels], conf))
        cam = _EigenCAM(_TensorOutput(subject), subject.model[index])
        heatmap = cam.explain(x, activation)[0]
        del prediction, levels, activation
    if cam.spread <= FLAT_TOLERANCE:
        reason = f"layer {index}'s features do not vary across the image, so EigenCAM has nothing to show"
        return CAM(np.zeros((imgsz, imgsz), np.float32), method, index, detections, reason, reason, (index,), 0.0)
    note = "" if detections else f"nothing detected above confidence {conf}; the map shows the dominant features"
    return CAM(np.asarray(heatmap, np.float32), method, index, detections, note, "", (index,), cam.peak)
