"""The attention tab: LSKA's stage maps in the variant, and a class activation map of each side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lska_demo.app import notes
from lska_demo.app.common import ImageInput, Progress, benchmark_images, report
from lska_demo.app.inputs import VariantChoice, check_method
from lska_demo.app.sources import ZOO, ModelSources
from lska_demo.benchmark.images import load_image


@dataclass
class AttentionResult:
    """``baseline_cam``/``variant_cam`` are None where the map is flat: ``captions`` then say why in words."""

    stages: np.ndarray | None
    baseline_cam: np.ndarray | None
    variant_cam: np.ndarray | None
    note: str
    cams: dict[str, dict[str, Any]]
    captions: dict[str, str] = field(default_factory=dict)  # "stages", "baseline", "variant"
    warning: str = ""


class AttentionService:
    """Answers the attention tab (the engine is imported on first use: it is not needed to start)."""

    def __init__(self, models: ModelSources) -> None:
        self.models = models

    def run(
        self, image: ImageInput | None, choice: VariantChoice, source: str, method: Any, progress: Progress | None
    ) -> AttentionResult:
        """LSKA's stage maps in the variant (panels titled in words), and a class activation map of each side.

        Without an image, the first benchmark image is used and the note says so. A flat CAM comes back as
        None with its reason as the caption, never as a flat picture.
        """
        method = check_method(method)
        picture = load_image(image) if image is not None else benchmark_images(1)[0]
        from lska_demo.analysis.attention import class_activation_map, stage_maps
        from lska_demo.model.describe import stage_title
        from lska_demo.model.yolo import lska_layers
        from lska_demo.present import plots

        base, variant = self.models.pair(source, choice.spec())
        report(progress, 0.1, "LSKA stage maps")
        with variant.use() as model:
            stages = stage_maps(model, picture, variant.imgsz)
            units = lska_layers(model)
            titles = [stage_title(name, getattr(units[0][1], name, None)) for name, _ in stages]
        captions = {"stages": notes.stage_caption(units)}
        readiness = self.models.readiness(source, choice.spec())
        for role, side in zip(("baseline", "variant"), readiness, strict=True):
            captions[f"{role}_label"] = f"{side.role} CAM"  # "Control CAM" beside a pointwise gate, "LKA CAM"...
        cams, overlays = {}, {}
        for i, (role, side) in enumerate((("baseline", base), ("variant", variant))):
            report(progress, 0.35 + 0.3 * i, f"{method} CAM of {side.name}")
            with side.use() as model:
                cam = class_activation_map(model, picture, method=method, imgsz=side.imgsz)
            overlays[role] = None if cam.flat else plots.cam_overlay(picture, cam)
            captions[role] = notes.cam_caption(cam)
            cams[role] = {"model": side.name, "method": cam.method, "layer": cam.layer, "note": cam.note}
            cams[role]["flat_reason"] = cam.flat_reason
        warning = notes.untrained_warning(base, variant, "attention", (readiness[0].role, readiness[1].role))
        identity_graft = variant.trained and source != ZOO
        return AttentionResult(
            plots.stage_maps_figure(stages, picture, titles),
            overlays["baseline"],
            overlays["variant"],
            notes.attention_note(warning, image is not None, identity_graft, cams),
            cams,
            captions,
            warning,
        )
