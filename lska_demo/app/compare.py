"""The Compare tab: the baseline's and the variant's detections on one image, and whether the pair is fair."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lska_demo.analysis.detect import detect
from lska_demo.app import notes
from lska_demo.app.common import ImageInput, Progress, report
from lska_demo.app.inputs import VariantChoice, check_fraction, require_image
from lska_demo.app.sources import ZOO, ModelSources, Readiness, gate_name
from lska_demo.benchmark.domain import PRETRAINED_ADVICE, DomainNote, domain_note
from lska_demo.benchmark.images import Letterboxed, letterbox, load_image
from lska_demo.core.cache import LoadedModel
from lska_demo.present.draw import draw_detections


@dataclass
class SideResult:
    """One side of the comparison. ``image`` is None where the model is untrained: no detections to show."""

    name: str
    trained: bool
    status: str
    image: np.ndarray | None = None
    detections: list[dict[str, Any]] = field(default_factory=list)
    inference_ms: float | None = None
    metrics: dict[str, Any] | None = None
    empty_reason: str = ""  # why a trained side found nothing, for the visitor
    role: str = ""  # "Baseline", "Control" (the pointwise gate of the adapter regime), "LSKA"...
    caption: str = ""  # the model shown, in words: "Control: YOLOv8n + 1×1 pointwise gate at neck (adapter)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trained": self.trained,
            "status": self.status,
            "detections": self.detections if self.trained else None,
            "inference_ms": None if self.inference_ms is None else round(self.inference_ms, 2),
            "metrics": self.metrics,
        }


@dataclass
class CompareResult:
    baseline: SideResult
    variant: SideResult
    imgsz: int
    note: str = ""
    domain: DomainNote | None = None  # does the image look like the zoo's benchmark (None: not asked)

    def to_dict(self) -> dict[str, Any]:
        domain = (
            None if self.domain is None else {"is_benchmark": self.domain.is_benchmark, "reason": self.domain.reason}
        )
        return {
            "imgsz": self.imgsz,
            "baseline": self.baseline.to_dict(),
            "variant": self.variant.to_dict(),
            "note": self.note,
            "domain": domain,
        }


@dataclass(frozen=True)
class PairStatus:
    """Trained or not, for both sides of a choice, known before any model loads; ``banner`` is the warning a
    visitor must not miss when the two sides differ (or are both untrained), empty when both are trained."""

    baseline: Readiness
    variant: Readiness
    banner: str


class CompareService:
    """Answers the Compare tab, and the page's questions about the chosen pair and image."""

    def __init__(self, models: ModelSources) -> None:
        self.models = models

    def status(self, choice: VariantChoice, source: str) -> PairStatus:
        """Whether each side of this choice is trained, from the manifest alone (cheap: no model loads)."""
        base, variant = self.models.readiness(source, choice.spec())
        return PairStatus(base, variant, notes.pair_banner(base.trained, variant.trained, gate_name(choice.design)))

    def image_domain(self, image: ImageInput) -> DomainNote:
        """Whether the image looks like a benchmark image, and what a visitor should know if it does not."""
        return self.domain(load_image(require_image(image)))

    def domain(self, picture: np.ndarray) -> DomainNote:
        """``domain_note`` of a picture; its advice names the COCO-pretrained source only where it is offered."""
        note = domain_note(picture)
        if note.is_benchmark or not self.models.pretrained.available:
            return note
        return replace(note, advice=f"{note.advice} {PRETRAINED_ADVICE}")

    def run(
        self, image: ImageInput, choice: VariantChoice, source: str, conf: Any, iou: Any, progress: Progress | None
    ) -> CompareResult:
        """Detections of the baseline and the variant on one image, each with its time and status."""
        conf, iou = check_fraction("confidence threshold", conf), check_fraction("IoU threshold", iou)
        picture = load_image(require_image(image))
        report(progress, 0.1, "loading models")
        base, variant = self.models.pair(source, choice.spec())
        readiness = self.models.readiness(source, choice.spec())  # the manifest only: each side's words
        domain = self.domain(picture) if source == ZOO else None
        sides: list[SideResult] = []
        letterboxed: dict[int, Letterboxed] = {}
        for i, side in enumerate((base, variant)):
            report(progress, 0.3 + 0.35 * i, f"detecting with {side.name}")
            sides.append(_detect_side(side, picture, conf, iou, letterboxed))
            sides[-1].empty_reason = notes.empty_reason(side.trained, bool(sides[-1].detections), conf, domain)
            sides[-1].role, sides[-1].caption = readiness[i].role, readiness[i].caption
        note = notes.compare_note(source, base, variant, domain, choice.spec())
        return CompareResult(sides[0], sides[1], base.imgsz, note, domain)


def _detect_side(
    side: LoadedModel, picture: np.ndarray, conf: float, iou: float, letterboxed: dict[int, Letterboxed]
) -> SideResult:
    """One side's detections; ``letterboxed`` holds the picture's letterboxed inputs by size, shared by both."""
    metrics = (side.entry or {}).get("metrics")
    if not side.trained:
        return SideResult(side.name, False, side.status, metrics=metrics)
    if side.imgsz not in letterboxed:
        letterboxed[side.imgsz] = letterbox(picture, side.imgsz)
    with side.use_fused() as model:  # BatchNorm folded, as Ultralytics' predict runs it
        result = detect(model, picture, conf=conf, iou=iou, imgsz=side.imgsz, letterboxed=letterboxed[side.imgsz])
    return SideResult(
        name=side.name,
        trained=True,
        status=side.status,
        image=draw_detections(picture, result),
        detections=[d.to_dict() for d in result.detections],
        inference_ms=result.inference_ms,
        metrics=metrics,
    )
