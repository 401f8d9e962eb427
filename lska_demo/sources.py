"""Which models answer a question: the baseline and the LSKA variant of a model source, from the cache.

Model sources:
- ``zoo``: the shipped benchmark models (4 shape classes); the baseline is the fine-tuned control.
- ``yolov8n.pt``: Ultralytics' COCO-pretrained weights; the LSKA side is an identity-initialised graft.
- ``checkpoint:<name>``: an operator's checkpoint given on the command line, treated like ``yolov8n.pt``.
A side with no trained weights is a randomly initialised model: cost, ERF and attention still work on it,
but it never shows detections. Architecture-only models (random weights, 80 classes) answer the cost question.

Models are used read-only; each holds a lock because Ultralytics' Detect head caches anchors per input shape
and CAM/ERF hooks are per model.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lska_demo.cache import LoadedModel, ModelCache
from lska_demo.inputs import check_choice
from lska_demo.online import SourceAvailability, pretrained_availability
from lska_demo.runtime import WEIGHTS_DIR
from lska_demo.yolo import VariantSpec, build_model, graft, spec_of

ZOO = "zoo"
PRETRAINED = "yolov8n.pt"
CHECKPOINT_PREFIX = "checkpoint:"
ZOO_IMGSZ = 256  # the zoo is trained and evaluated at 256 px (the benchmark's image size)
PRETRAINED_IMGSZ = 640
SOURCE_LABELS = {ZOO: "benchmark zoo (4 shapes, trained)", PRETRAINED: "yolov8n.pt (COCO) + identity LSKA graft"}
UNAVAILABLE_LABEL = "yolov8n.pt (COCO): unavailable on this server"
UNTRAINED_EFFECT = "a randomly initialised network: no detections; cost, receptive field and attention still work"
LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    """Whether one side of a comparison has trained weights, and a sentence saying which or why not."""

    trained: bool
    text: str


@dataclass(frozen=True)
class ServiceOptions:
    weights_dir: Path = WEIGHTS_DIR
    checkpoint: Path | None = None  # the operator's --weights: trusted because the operator chose it
    max_cache: int = 6


def source_label(source: str) -> str:
    """How a model source reads in a list of choices."""
    if source in SOURCE_LABELS:
        return SOURCE_LABELS[source]
    return f"operator checkpoint {source.removeprefix(CHECKPOINT_PREFIX)} + identity LSKA graft"


class ModelSources:
    """The models behind every question, loaded on first use and kept in one bounded cache."""

    def __init__(self, options: ServiceOptions) -> None:
        self.options = options
        self.cache = ModelCache(options.max_cache)

    @property
    def names(self) -> list[str]:
        names = [ZOO, PRETRAINED]
        if self.options.checkpoint is not None:
            names.append(CHECKPOINT_PREFIX + Path(self.options.checkpoint).name)
        return names

    def check(self, source: Any) -> str:
        return check_choice("model source", source, self.names)

    @functools.cached_property
    def pretrained(self) -> SourceAvailability:
        """Whether ``yolov8n.pt`` can load here, asked once (a network probe of a few seconds at most); the
        operator's detail (paths, settings) goes to the log, visitors read ``visitor_reason`` only."""
        availability = pretrained_availability(PRETRAINED, folder=self.options.weights_dir)
        LOG.log(logging.INFO if availability.available else logging.WARNING, "%s", availability.operator_detail)
        return availability

    def label(self, source: str) -> str:
        """How a source reads in the list of choices; an unavailable ``yolov8n.pt`` says so."""
        if source == PRETRAINED and not self.pretrained.available:
            return UNAVAILABLE_LABEL
        return source_label(source)

    def readiness(self, source: str, spec: VariantSpec) -> tuple[Readiness, Readiness]:
        """Trained or not, for the baseline and the variant, from the manifest and the start-up probe: no model
        is loaded, so the page can say it before any button is pressed."""
        if source == ZOO:
            from lska_demo.zoo import NC

            manifest = self.manifest()

            def side(wanted: VariantSpec, role: str) -> Readiness:
                entry = manifest.find(replace(wanted, nc=NC), seed=0)
                if entry is None:
                    return Readiness(
                        False, f"Untrained: the zoo has no trained {role} {wanted.name}, so this is {UNTRAINED_EFFECT}."
                    )
                return Readiness(True, f"Trained: zoo model {entry['id']}.")

            return side(spec.baseline(), "control"), side(spec, "LSKA model")
        if source == PRETRAINED and not self.pretrained.available:
            untrained = Readiness(
                False, f"Untrained: {PRETRAINED}: {self.pretrained.visitor_reason} So this side is {UNTRAINED_EFFECT}."
            )
            return untrained, untrained
        name = PRETRAINED if source == PRETRAINED else source.removeprefix(CHECKPOINT_PREFIX)
        return (
            Readiness(True, f"Trained: {name} as published, no LSKA."),
            Readiness(
                True,
                f"Trained {name} with an identity-initialised LSKA graft: it predicts exactly what the "
                "baseline predicts until it is fine-tuned.",
            ),
        )

    def manifest(self) -> Any:
        from lska_demo.zoo import Manifest

        return Manifest.load(self.options.weights_dir)

    def pair(self, source: str, spec: VariantSpec) -> tuple[LoadedModel, LoadedModel]:
        """The baseline and the LSKA variant ``spec`` of a source."""
        if source == ZOO:
            return self.zoo_side(spec.baseline()), self.zoo_side(spec)
        base = self._operator_baseline(source)
        return base, self._operator_variant(source, base, spec)

    def architecture(self, spec: VariantSpec) -> LoadedModel:
        """A random-weight model of ``spec``: cost depends on the architecture only."""
        return self.cache.get(
            ("architecture", spec), lambda: LoadedModel(build_model(spec), spec.name, False, "architecture", 640)
        )

    def zoo_side(self, spec: VariantSpec) -> LoadedModel:
        """A shipped zoo model, or a random one that says so. The key holds the file's hash, so models the zoo
        job finishes while the app runs appear without a restart."""
        from lska_demo.zoo import NC, load_zoo_model

        spec = replace(spec, nc=NC)
        entry = self.manifest().find(spec, seed=0)
        key = (ZOO, spec, entry["sha256"] if entry else None)

        def load() -> LoadedModel:
            if entry is None:
                what = "the fine-tuned baseline (control) yolov8n-s0" if spec.is_baseline else spec.name
                status = (
                    f"Untrained: the zoo has no trained weights for {what} yet, so this is a randomly initialised "
                    "model. No detections are shown; cost, receptive field and attention still are."
                )
                return LoadedModel(build_model(spec), spec.name, False, status, ZOO_IMGSZ)
            model, found = load_zoo_model(spec, seed=0, folder=self.options.weights_dir)
            role = "the control: the baseline fine-tuned with the grafts' recipe" if spec.is_baseline else "LSKA graft"
            status = f"Trained: zoo model {found['id']}, {role}."
            imgsz = int((found.get("recipe") or {}).get("imgsz", ZOO_IMGSZ))
            return LoadedModel(model, found["id"], True, status, imgsz, entry=found)

        return self.cache.get(key, load)

    def _operator_baseline(self, source: str) -> LoadedModel:
        """yolov8n.pt or the operator's checkpoint; offline without the file: a random COCO-shaped model."""
        from lska_demo.zoo import ZooError, load_checkpoint_model, load_pretrained

        def load() -> LoadedModel:
            try:
                if source == PRETRAINED and not self.pretrained.available:
                    raise ZooError(f"{PRETRAINED}: {self.pretrained.visitor_reason}")
                if source == PRETRAINED:
                    model = load_pretrained(PRETRAINED, folder=self.options.weights_dir)
                else:
                    model = load_checkpoint_model(self.options.checkpoint)
            except ZooError as err:
                status = f"Untrained: {err} Showing a randomly initialised YOLOv8n (80 classes): no detections."
                return LoadedModel(build_model(VariantSpec(nc=80)), "yolov8n (random)", False, status, PRETRAINED_IMGSZ)
            name = PRETRAINED if source == PRETRAINED else Path(self.options.checkpoint).name
            imgsz = int((getattr(model, "args", None) or {}).get("imgsz", PRETRAINED_IMGSZ) or PRETRAINED_IMGSZ)
            return LoadedModel(model, name, True, f"Trained: {name} as published, no LSKA.", imgsz)

        return self.cache.get((source, "baseline"), load)

    def _operator_variant(self, source: str, base: LoadedModel, spec: VariantSpec) -> LoadedModel:
        def load() -> LoadedModel:
            variant_spec = spec_of(base.model, k=spec.k, point=spec.point, block=spec.block)
            if not base.trained:
                status = (
                    f"Untrained: no {source} weights to graft onto, so {variant_spec.name} is randomly initialised. "
                    "No detections are shown."
                )
                return LoadedModel(build_model(variant_spec), variant_spec.name, False, status, base.imgsz)
            model = graft(base.model, variant_spec)  # a new model: the cached baseline is only read
            status = (
                f"Identity-initialised graft of {base.name}: LSKA k={spec.k} at '{spec.point}' starts as the identity, "
                "so this model predicts exactly what the baseline predicts until it is fine-tuned "
                f"(python -m lska_demo train --mode graft --base {base.name} --data your.yaml --k {spec.k} "
                f"--point {spec.point})."
            )
            return LoadedModel(model.eval(), f"{variant_spec.name} (graft)", True, status, base.imgsz)

        return self.cache.get((source, spec, base.trained), load)
