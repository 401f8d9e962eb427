"""One image in, detections out: letterbox, forward, Ultralytics' own NMS, boxes back in image pixels.

Kept apart from Ultralytics' ``predict()`` on purpose: it needs no predictor object (which carries state
between calls), so the same read-only model can serve several threads, and every step is visible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from ultralytics.utils.nms import non_max_suppression

from lska_demo.benchmark.images import Letterboxed, letterbox


@dataclass(frozen=True)
class Detection:
    """One box: class index, its name, the score, and (x1, y1, x2, y2) in the original image's pixels."""

    cls: int
    label: str
    score: float
    box: tuple[float, float, float, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cls": self.cls,
            "label": self.label,
            "score": round(self.score, 4),
            "box": [round(v, 1) for v in self.box],
        }


@dataclass(frozen=True)
class DetectionResult:
    detections: tuple[Detection, ...]
    inference_ms: float  # forward pass + NMS, without image decoding or letterboxing
    imgsz: int


def class_names(model: nn.Module) -> dict[int, str]:
    names = getattr(model, "names", None) or {}
    if isinstance(names, (list, tuple)):
        names = dict(enumerate(names))
    return {int(i): str(n) for i, n in names.items()}


def _is_end2end(model: nn.Module) -> bool:
    head = model.model[-1] if hasattr(model, "model") else None
    return bool(getattr(head, "end2end", False))


def detect(
    model: nn.Module,
    image: np.ndarray,
    conf: float = 0.25,
    iou: float = 0.7,
    imgsz: int = 640,
    max_det: int = 300,
    letterboxed: Letterboxed | None = None,
) -> DetectionResult:
    """Detections of an eval-mode DetectionModel on an HxWx3 uint8 RGB image.

    ``letterboxed`` is ``letterbox(image, imgsz)`` when the caller already has it (two models, one image).
    The caller must not run another forward pass of the same model at a different ``imgsz`` at the same
    time: Ultralytics' Detect head caches its anchors per input shape (the service holds a per-model lock).
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {image.shape}")
    height, width = image.shape[:2]
    tensor, scale, (left, top) = letterboxed or letterbox(image, imgsz)
    if tensor.shape[-2:] != (imgsz, imgsz):
        raise ValueError(f"the letterboxed input is {tuple(tensor.shape[-2:])}, not {imgsz}x{imgsz}")
    names = class_names(model)
    started = time.perf_counter()
    with torch.inference_mode():
        output = model(tensor)
        prediction = output[0] if isinstance(output, (list, tuple)) else output
        kept = non_max_suppression(
            prediction, conf_thres=conf, iou_thres=iou, max_det=max_det, end2end=_is_end2end(model)
        )[0]
    inference_ms = (time.perf_counter() - started) * 1000
    kept = kept.float().cpu().numpy()
    boxes = kept[:, :4].copy()
    boxes[:, [0, 2]] = ((boxes[:, [0, 2]] - left) / scale).clip(0, width)
    boxes[:, [1, 3]] = ((boxes[:, [1, 3]] - top) / scale).clip(0, height)
    detections = tuple(
        Detection(
            cls=int(c),
            label=names.get(int(c), str(int(c))),
            score=float(s),
            box=(float(x1), float(y1), float(x2), float(y2)),
        )
        for (x1, y1, x2, y2), s, c in zip(boxes, kept[:, 4], kept[:, 5], strict=True)
    )
    return DetectionResult(detections=detections, inference_ms=inference_ms, imgsz=imgsz)
