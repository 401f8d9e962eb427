"""The front door behind the web app, importable and testable without Gradio: one method per question.

Each method checks what a visitor sent (``inputs``: a ValueError with a message a person can act on), takes
its models from ``sources``, asks the analysis engine, and returns data with a note a person can read.
Images are decoded only by ``images.load_image``. The UI imports this module and nothing below it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lska_demo.analysis.detect import detect
from lska_demo.app.inputs import (
    MAX_ERF_IMAGES,
    check_choice,
    check_classes,
    check_count,
    check_design,
    check_flag,
    check_fraction,
    check_images,
    check_imgsz,
    check_k,
    check_method,
    check_point,
    check_scale,
    check_step,
    check_variant,
    require_image,
)
from lska_demo.app.sources import PRETRAINED, ZOO, ModelSources, Readiness, ServiceOptions
from lska_demo.benchmark.domain import DomainNote, domain_note
from lska_demo.benchmark.images import MAX_FILE_BYTES, Letterboxed, example_images, letterbox, load_image
from lska_demo.core.cache import LoadedModel, ModelCache
from lska_demo.deploy.export_box import OnnxExport
from lska_demo.model.kernels import PAPER_KERNEL_SIZES
from lska_demo.model.yolo import VariantSpec, export_yaml
from lska_demo.present.draw import draw_detections, yolo_diagram
from lska_demo.present.teach.text import pipelines_html, python_snippet, teaching_text, weights_table
from lska_demo.present.teach.views import TeachView, TrainedView
from lska_demo.zoo.manifest import ZooError

# What the UI shows as "cannot do that" (the visitor can act on it); anything else is an internal error.
VISITOR_ERRORS: tuple[type[Exception], ...] = (ValueError, ZooError)  # ImageError is a ValueError
KERNEL_SIZES = PAPER_KERNEL_SIZES
__all__ = [  # what the UI and the CLI may use, the re-exported limits and names included
    "KERNEL_SIZES",
    "MAX_ERF_IMAGES",
    "MAX_FILE_BYTES",
    "PRETRAINED",
    "VISITOR_ERRORS",
    "ZOO",
    "AttentionResult",
    "CompareResult",
    "CostResult",
    "DemoService",
    "DomainNote",
    "ErfResult",
    "OnnxExport",
    "PairStatus",
    "Readiness",
    "ServiceOptions",
    "SideResult",
    "TeachResult",
    "TeachView",
    "TrainedView",
    "benchmark_images",
    "rounded",
    "warm_up",
]

Progress = Callable[[float, str], None]
ImageInput = str | Path | bytes | np.ndarray


# --- results ------------------------------------------------------------------------------------------------


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


@dataclass
class ErfResult:
    figure: np.ndarray
    ratios: list[dict[str, Any]]
    layer: str
    layers: dict[str, tuple[int, int]]  # name -> (baseline index, variant index)
    n_images: int
    imgsz: int
    note: str
    warning: str = ""  # non-empty when a side is untrained: show it first, where it cannot be missed
    caption: str = ""  # what the figure shows and what to conclude, one line
    table: list[dict[str, Any]] = field(default_factory=list)  # the ratios with readable columns


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


@dataclass
class CostResult:
    summary: list[dict[str, Any]]
    layers: list[dict[str, Any]]
    lska: list[dict[str, Any]]
    latency: dict[str, Any] | None
    imgsz: int
    note: str
    nc: int = 80
    label: str = ""  # "at 256 px, 4 classes (the zoo's models)": what the numbers are of


@dataclass
class ZooVerdicts:
    """The zoo's results judged from the manifest: one row per (regime, architecture) with its paired
    comparison to the control of its regime (``report.verdict_rows``), and the Δ chart with intervals."""

    rows: list[dict[str, Any]]
    figure: np.ndarray


@dataclass
class TeachResult:
    """The Teach tab's views that depend on k alone."""

    pipelines_html: str
    weights_table: list[dict[str, Any]]
    text: str
    dilation: TeachView
    erf: TeachView
    cost: TeachView


# --- the service --------------------------------------------------------------------------------------------


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


class DemoService:
    def __init__(self, options: ServiceOptions | None = None) -> None:
        self.options = options or ServiceOptions()
        self.models = ModelSources(self.options)

    # what the controls offer -------------------------------------------------------------------------------

    @property
    def sources(self) -> list[str]:
        return self.models.names

    @property
    def cache(self) -> ModelCache:
        """The one bounded cache every model of this service lives in."""
        return self.models.cache

    def source_choices(self) -> list[tuple[str, str]]:
        """(label, name) of every model source; an unavailable ``yolov8n.pt`` is labelled so."""
        return [(self.models.label(s), s) for s in self.sources]

    def pretrained_available(self) -> bool:
        """Whether the ``yolov8n.pt`` source can load on this server (asked once, at start)."""
        return self.models.pretrained.available

    def source_reason(self, source: Any) -> str:
        """One sentence about a source for a visitor (never a path or a setting)."""
        return self.models.pretrained.visitor_reason if self.models.check(source) == PRETRAINED else ""

    def examples(self) -> list[str]:
        """The example images' paths: benchmark test images, then photos."""
        return [str(p) for p in example_images().values()]

    def example_groups(self) -> dict[str, list[str]]:
        """The example images split into "benchmark" (what the zoo was trained on) and "photo"."""
        groups: dict[str, list[str]] = {"benchmark": [], "photo": []}
        for name, path in example_images().items():
            groups["benchmark" if name.startswith("benchmark") else "photo"].append(str(path))
        return groups

    def status(
        self, k: Any = 23, point: Any = "sppf", block: Any = "gate", source: Any = ZOO, design: Any = "lska"
    ) -> PairStatus:
        """Whether each side of this choice is trained, from the manifest alone (cheap: no model loads)."""
        spec, source = _variant(k, point, block, design), self.models.check(source)
        base, variant = self.models.readiness(source, spec)
        return PairStatus(base, variant, _pair_banner(base.trained, variant.trained))

    def image_domain(self, image: ImageInput) -> DomainNote:
        """Whether the image looks like a benchmark image, and what a visitor should know if it does not."""
        return domain_note(load_image(require_image(image)))

    def layer_names(self, k: Any = 23, point: Any = "sppf", block: Any = "gate", design: Any = "lska") -> list[str]:
        """The layers the receptive field can be computed at, for this variant."""
        from lska_demo.analysis.erf import erf_layers

        return list(erf_layers(_variant(k, point, block, design)))

    def diagram(self, point: Any) -> str:
        """The YOLOv8 diagram (SVG in HTML) with the chosen insertion point marked."""
        return yolo_diagram(check_point(point))

    def pair(
        self, source: str, k: int, point: str, block: str, design: str = "lska"
    ) -> tuple[LoadedModel, LoadedModel]:
        """The baseline (the control of the variant's regime, for the zoo) and the variant of a source, cached."""
        return self.models.pair(self.models.check(source), _variant(k, point, block, design))

    # compare -----------------------------------------------------------------------------------------------

    def compare(
        self,
        image: ImageInput,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        source: Any = ZOO,
        conf: Any = 0.25,
        iou: Any = 0.7,
        progress: Progress | None = None,
        design: Any = "lska",
    ) -> CompareResult:
        """Detections of the baseline and the LSKA variant on one image, each with its time and status."""
        spec, source = _variant(k, point, block, design), self.models.check(source)
        conf, iou = check_fraction("confidence threshold", conf), check_fraction("IoU threshold", iou)
        picture = load_image(require_image(image))
        _report(progress, 0.1, "loading models")
        base, variant = self.models.pair(source, spec)
        domain = domain_note(picture) if source == ZOO else None
        sides: list[SideResult] = []
        letterboxed: dict[int, Letterboxed] = {}
        for i, side in enumerate((base, variant)):
            _report(progress, 0.3 + 0.35 * i, f"detecting with {side.name}")
            sides.append(_detect_side(side, picture, conf, iou, letterboxed))
            sides[-1].empty_reason = _empty_reason(sides[-1], conf, domain)
        note = _compare_note(source, sides[0], sides[1], domain)
        return CompareResult(sides[0], sides[1], base.imgsz, note, domain)

    # receptive field ---------------------------------------------------------------------------------------

    def erf(
        self,
        images: list[ImageInput] | None = None,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        source: Any = ZOO,
        n: Any = 8,
        layer_name: str = "insertion point",
        progress: Progress | None = None,
        upload: ImageInput | None = None,
        design: Any = "lska",
    ) -> ErfResult:
        """Effective receptive fields of the baseline and the variant at the same layer, on one colour scale.

        The images: ``images`` (files) if any, else ``upload`` (the page's image) if given, else ``n``
        benchmark images; the note says which. ``warning`` is set when a side is untrained.
        """
        from lska_demo.analysis.erf import compare_erf, erf_layers
        from lska_demo.present import explain, plots

        spec, source = _variant(k, point, block, design), self.models.check(source)
        n, images = check_count(n), check_images(images)
        layers = erf_layers(spec)
        layer_name = check_choice("layer", layer_name, list(layers))
        if images:
            pictures = [load_image(i) for i in images[:n]]
        else:
            pictures = [load_image(upload)] if upload is not None else benchmark_images(n)
        base, variant = self.models.pair(source, spec)
        names = {"baseline": base.name, "variant": variant.name}

        def step(role: str, done: int, total: int) -> None:
            start = 0 if role == "baseline" else 1
            _report(progress, (start + done / max(total, 1)) / 2, f"ERF of {names[role]}: image {done}/{total}")

        with base.use() as b, variant.use() as v:  # always baseline first: one lock order, no deadlock
            comparison = compare_erf(b, v, spec, layer_name, pictures, base.imgsz, progress=step)
        index, rows = comparison.layers, comparison.ratio_rows()
        titles = (
            f"baseline {base.name} · layer {index.baseline}",
            f"LSKA k={spec.k} at {spec.point} · layer {index.variant}",
        )
        figure = plots.erf_pair(comparison.baseline, comparison.variant, titles)
        warning = explain.untrained_warning(
            {"baseline": (base.name, base.trained), "LSKA": (variant.name, variant.trained)}, "receptive field"
        )
        caption = explain.erf_caption(rows)
        details = [
            explain.images_used(len(images[:n]) if images else 0, upload is not None, len(pictures)),
            f"At {base.imgsz} px, layer '{layer_name}'. Area: the smallest centred square holding that share of "
            "the gradient, as a share of the image (larger = wider field).",
        ]
        if base.trained and variant.trained and explain.ratios_alike(rows):
            details.append(explain.why_alike(spec, index.variant, base.imgsz))
        note = "\n\n".join(part for part in (warning, caption, *details) if part)
        pairs = {name: tuple(pair) for name, pair in layers.items()}
        table = explain.ratio_table(rows)
        return ErfResult(figure, rows, layer_name, pairs, len(pictures), base.imgsz, note, warning, caption, table)

    # attention ---------------------------------------------------------------------------------------------

    def attention(
        self,
        image: ImageInput,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        source: Any = ZOO,
        method: Any = "eigen",
        progress: Progress | None = None,
        design: Any = "lska",
    ) -> AttentionResult:
        """LSKA's stage maps in the variant (panels titled in words), and a class activation map of each side.

        Without an image, the first benchmark image is used and the note says so. A flat CAM comes back as
        None with its reason as the caption, never as a flat picture.
        """
        spec, source = _variant(k, point, block, design), self.models.check(source)
        method = check_method(method)
        picture = load_image(image) if image is not None else benchmark_images(1)[0]
        from lska_demo.analysis.attention import class_activation_map, stage_maps
        from lska_demo.model.describe import stage_title
        from lska_demo.model.yolo import lska_layers
        from lska_demo.present import explain, plots

        base, variant = self.models.pair(source, spec)
        _report(progress, 0.1, "LSKA stage maps")
        with variant.use() as model:
            stages = stage_maps(model, picture, variant.imgsz)
            units = lska_layers(model)
            titles = [stage_title(name, getattr(units[0][1], name, None)) for name, _ in stages]
        which = "" if len(units) == 1 else f" Shown: the first of {len(units)} LSKA units ({units[0][0]})."
        captions = {"stages": explain.STAGE_CAPTION + which}
        cams, overlays = {}, {}
        for i, (role, side) in enumerate((("baseline", base), ("variant", variant))):
            _report(progress, 0.35 + 0.3 * i, f"{method} CAM of {side.name}")
            with side.use() as model:
                cam = class_activation_map(model, picture, method=method, imgsz=side.imgsz)
            overlays[role] = None if cam.flat else plots.cam_overlay(picture, cam)
            caption = explain.cam_caption(cam.method, cam.layer, cam.detections)
            captions[role] = f"No map: {cam.flat_reason}." if cam.flat else caption
            cams[role] = {"model": side.name, "method": cam.method, "layer": cam.layer, "note": cam.note}
            cams[role]["flat_reason"] = cam.flat_reason
        warning = explain.untrained_warning(
            {"baseline": (base.name, base.trained), "LSKA": (variant.name, variant.trained)}, "attention"
        )
        notes = [warning] if warning else []
        if image is None:
            notes.append("No image was uploaded above: showing the first held-out benchmark image.")
        if variant.trained and source != ZOO:
            notes.append("Identity graft: LSKA's 1x1 conv is zero with bias 1, so the gate passes features unchanged.")
        notes += [f"{role.capitalize()} ({c['model']}): {c['note']}." for role, c in cams.items() if c.get("note")]
        return AttentionResult(
            plots.stage_maps_figure(stages, picture, titles),
            overlays["baseline"],
            overlays["variant"],
            "\n\n".join(notes),
            cams,
            captions,
            warning,
        )

    # cost --------------------------------------------------------------------------------------------------

    def cost(
        self,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        imgsz: Any = None,
        latency: bool = False,
        progress: Progress | None = None,
        source: Any = ZOO,
        design: Any = "lska",
    ) -> CostResult:
        """Parameters, GFLOPs and per-layer deltas of the source's YOLOv8n vs the variant; latency on request.

        The models are built with the source's classes (the zoo: 4; yolov8n.pt: 80) and counted at ``imgsz``,
        by default (None or 0) the size the source's models run at (the zoo: 256 px; yolov8n.pt: 640 px).
        ``label`` says which; the tables have readable columns and layer names in words.
        """
        from lska_demo.analysis.cost import cost_comparison
        from lska_demo.present import explain

        nc, native, who = self._source_shape(self.models.check(source), _variant(k, point, block, design))
        spec = _variant(k, point, block, design, nc=nc)
        imgsz = native if imgsz is None or (imgsz == 0 and not isinstance(imgsz, bool)) else check_imgsz(imgsz)
        latency = check_flag("measure latency", latency)
        _report(progress, 0.1, "counting parameters and FLOPs" + (" and timing forward passes" if latency else ""))
        base, variant = self.models.architecture(spec.baseline()), self.models.architecture(spec)
        with base.use() as b, variant.use() as v:  # always baseline first: one lock order, no deadlock
            report = cost_comparison(b, v, imgsz, latency_repeats=10 if latency else 0, warmup=2)
        timing = report.get("latency")
        own = f"as {who} run" if imgsz == native else f"{who} run at {native} px"
        label = f"at {imgsz} px input, {nc} classes ({own})"
        note = (
            f"YOLOv8n with {nc} classes, {imgsz}x{imgsz} input ({who} run at {native} px). FLOPs count "
            "multiply-adds x 2 and include every tap of a kernel wider than its feature map (padding), which is "
            f"what the hardware runs. {explain.KERNEL_EXPLANATION}"
        )
        if timing:
            note += " Latency: median of 10 CPU forward passes after 2 warm-ups, on whatever else this machine runs."
        return CostResult(
            _cost_summary(report, spec),
            explain.layer_table(report["layers"], spec),
            explain.lska_table(report["lska"], spec),
            timing,
            imgsz,
            note,
            nc,
            label,
        )

    def _source_shape(self, source: str, spec: VariantSpec) -> tuple[int, int, str]:
        """(classes, input size, who) of a source's models; the zoo's are known without loading anything."""
        if source == ZOO:
            from lska_demo.app.sources import ZOO_IMGSZ
            from lska_demo.zoo.plan import NC

            return NC, ZOO_IMGSZ, "the zoo's models"
        base, _ = self.models.pair(source, spec)
        return int(base.model.yaml["nc"]), base.imgsz, f"the {source} models"

    # teach -------------------------------------------------------------------------------------------------

    def teach(self, k: Any = 23) -> TeachResult:
        """Everything of the Teach tab that depends on k alone: the designs as pipelines, their weights, the
        worked text, what dilation reads, the ERF against k and the cost against k."""
        from lska_demo.present.teach import views

        k = check_k(k)
        return TeachResult(
            pipelines_html=pipelines_html(k),
            weights_table=weights_table(k),
            text=teaching_text(k, views.rank_of(views.TEXT_TARGET, k)),
            dilation=views.dilation_view(k),
            erf=views.erf_view(k),
            cost=views.cost_view(k),
        )

    def teach_cascade(self, k: Any = 23, source: Any = "impulse", step: Any = 0) -> TeachView:
        """The four designs' cascades after ``step`` depthwise convs of an impulse or a small pattern."""
        from lska_demo.present.teach import views

        k, source = check_k(k), check_choice("input", source, list(views.CASCADE_INPUTS))
        return views.cascade_view(k, source, check_step(step, views.cascade_steps()))

    def teach_gates(self, k: Any = 23, point: Any = "sppf", block: Any = "gate") -> list[tuple[str, str]]:
        """(label, name) of every large-kernel gate of the zoo model of this variant (neck 4, residual 6)."""
        from lska_demo.analysis.trained_kernels import gates_in
        from lska_demo.present.teach.views import gate_label

        side = self.models.zoo_side(VariantSpec(*check_variant(k, point, block)))
        with side.use() as model:
            return [(gate_label(name), name) for name in gates_in(model)]

    def teach_trained(self, k: Any = 23, point: Any = "sppf", block: Any = "gate", gate: Any = None) -> TrainedView:
        """The most energetic channels of one gate of the zoo model (the first gate when ``gate`` is None);
        random weights, labelled as such, where the zoo has no trained model of this variant."""
        from lska_demo.analysis.trained_kernels import gates_in
        from lska_demo.present.teach import views

        side = self.models.zoo_side(VariantSpec(*check_variant(k, point, block)))
        with side.use() as model:
            gates = gates_in(model)
            name = next(iter(gates)) if gate is None else check_choice("gate", gate, list(gates))
            return views.trained_view(gates[name], side.trained, f"{side.name}, {views.gate_label(name)}")

    def teach_playground(self, k: Any = 23, name: Any = "ring") -> tuple[TeachView, TeachView]:
        """A pattern filtered by each design, and whether separable kernels can draw it as a kernel."""
        from lska_demo.present.teach import views

        k, name = check_k(k), check_choice("pattern", name, list(views.PATTERNS))
        return views.playground_view(k, name), views.rank_figure_view(k, name)

    @staticmethod
    def teach_choices() -> dict[str, Any]:
        """What the Teach tab's pickers offer: cascade inputs, playground patterns, the step-through's last step."""
        from lska_demo.present.teach import views

        return {"inputs": list(views.CASCADE_INPUTS), "patterns": list(views.PATTERNS), "steps": views.cascade_steps()}

    # export and zoo ----------------------------------------------------------------------------------------

    def export(
        self,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        scale: Any = "n",
        nc: Any = 80,
        design: Any = "lska",
    ) -> tuple[str, str]:
        """The model YAML of the variant and a Python snippet that trains it (from scratch, or as a graft)."""
        spec = _variant(k, point, block, design, scale=check_scale(scale), nc=check_classes(nc))
        return export_yaml(spec), python_snippet(spec)

    def transfer_check(
        self,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        scale: Any = "n",
        nc: Any = 80,
        design: Any = "lska",
    ) -> str:
        """The transfer check of the exported YAML as Markdown: inserted channels, shifted indices, rewritten
        ``from`` entries, GFLOPs, and the share of pretrained tensors a plain YAML edit vs the graft loads."""
        from lska_demo.deploy.export_box import transfer_markdown

        spec = _variant(k, point, block, design, scale=check_scale(scale), nc=check_classes(nc))
        return transfer_markdown(spec)

    def export_onnx(
        self,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        progress: Progress | None = None,
        design: Any = "lska",
    ) -> OnnxExport:
        """The variant as a checked ONNX file: the zoo's weights when trained, else the untrained architecture
        (the result's note says which, with the max abs difference to PyTorch in ONNX Runtime)."""
        from lska_demo.deploy.export_box import onnx_export
        from lska_demo.zoo.plan import NC

        spec = _variant(k, point, block, design, nc=NC)
        _report(progress, 0.1, f"exporting {spec.name} to ONNX and checking it against PyTorch")
        return onnx_export(spec, Path(self.options.weights_dir))

    def zoo_verdicts(self) -> ZooVerdicts:
        """Every variant's Δ mAP50-95 against the control of its regime, paired by seed, with its verdict."""
        from lska_demo.present import plots
        from lska_demo.zoo.report import verdict_rows

        rows = verdict_rows(self.models.manifest())
        return ZooVerdicts(rows, plots.delta_figure(rows))

    def zoo_table(self) -> list[dict[str, Any]]:
        """Every model in the manifest, with its architecture and held-out metrics."""
        return [_zoo_row(entry) for entry in self.models.manifest().models]

    def zoo_pair(
        self, k: Any = 23, point: Any = "sppf", block: Any = "gate", design: Any = "lska"
    ) -> list[dict[str, Any]]:
        """The variant's zoo entry (full graft preferred, else adapter) and the control of its regime, with the
        regime named (missing ones say so)."""
        from lska_demo.zoo.manifest import control_spec, regime_of
        from lska_demo.zoo.plan import NC

        spec = _variant(k, point, block, design, nc=NC)
        manifest = self.models.manifest()
        variant = manifest.trained(spec, shipped=False)
        regime = regime_of(variant) if variant else "finetune"
        control = control_spec(regime, spec)
        rows = []
        for role, wanted, entry in (
            ("control", control, manifest.find(control, shipped=False, regime=regime)),
            ("variant", spec, variant),
        ):
            found = _zoo_row(entry) if entry else {"model": wanted.name, "regime": regime, "status": "not trained"}
            rows.append({"role": role, **found})
        return rows


# --- helpers ------------------------------------------------------------------------------------------------


def _variant(k: Any, point: Any, block: Any, design: Any, **extra: Any) -> VariantSpec:
    """The variant a visitor chose; a combination the spec refuses (VAN's block with LKA) says why."""
    return VariantSpec(*check_variant(k, point, block), design=check_design(design), **extra)


def warm_up() -> None:
    """Pay the one-time costs now (the app runs this in the background at start): the FLOP counter's
    start-up, and the Teach tab's views that depend on k alone, which every visitor shares."""
    from lska_demo.analysis.cost import warm_up as count_once
    from lska_demo.present.teach import views as teach_views

    count_once()
    teach_views.warm_up()


def rounded(rows: list[dict[str, Any]], digits: int = 4) -> list[dict[str, Any]]:
    """Floats cut to ``digits`` decimals for tables (the JSON of the service keeps full precision)."""
    return [{key: round(v, digits) if isinstance(v, float) else v for key, v in row.items()} for row in rows]


def benchmark_images(n: int) -> list[np.ndarray]:
    """The first ``n`` held-out benchmark images, generated (deterministic, no files needed)."""
    from lska_demo.benchmark.data import BenchmarkConfig, render_image

    return [np.asarray(render_image(BenchmarkConfig(), "test", i)[0]) for i in range(n)]


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


def _pair_banner(base_trained: bool, variant_trained: bool) -> str:
    """The warning for a pair whose sides differ in training, or that has no trained side at all."""
    if base_trained and variant_trained:
        return ""
    if not (base_trained or variant_trained):
        return (
            "Neither side is trained: both are randomly initialised networks. No detections; receptive fields and "
            "attention show the architectures, not anything learned."
        )
    untrained = "LSKA side" if base_trained else "baseline"
    return (
        f"Not a fair comparison: the {untrained} is untrained (random weights) while the other side is trained. "
        "Differences between them come from training, not from LSKA. Pick a choice marked trained on both sides "
        "(the Zoo tab lists them)."
    )


def _empty_reason(side: SideResult, conf: float, domain: DomainNote | None) -> str:
    """Why a trained side found nothing; empty where it found something or is untrained."""
    if not side.trained or side.detections:
        return ""
    reason = f"Nothing scored above the confidence threshold ({conf:.2f})."
    if domain is not None and not domain.is_benchmark:
        return f"{reason} The zoo's models know only four synthetic shapes, so on this image that means nothing."
    if domain is not None:
        return f"{reason} Lower the threshold to see the model's weaker guesses."
    return f"{reason} This model knows the 80 COCO classes; lower the threshold to see weaker guesses."


def _compare_note(source: str, base: SideResult, variant: SideResult, domain: DomainNote | None) -> str:
    lines = (
        [] if domain is None or domain.is_benchmark else [f"**⚠ Outside what the zoo was trained on.** {domain.advice}"]
    )
    if source == ZOO and base.trained and variant.trained:
        lines.append(
            "Both models were fine-tuned from the same scratch baseline with the same recipe and seed; only LSKA "
            "differs. One image is an anecdote: the zoo's test-set metrics are the evidence."
        )
    elif source != ZOO and variant.trained:
        lines.append(
            "The LSKA side is an identity-initialised graft: its detections equal the baseline's by construction."
        )
    elif base.trained or variant.trained:
        untrained = "LSKA side" if base.trained else "baseline"
        lines.append(
            f"The {untrained} has no trained weights, so it shows no detections: this pair compares training, not LSKA."
        )
    else:
        lines.append(_pair_banner(False, False))
    return "\n\n".join(lines)


def _cost_summary(report: dict[str, Any], spec: VariantSpec) -> list[dict[str, Any]]:
    """The summary table of a cost comparison: one row per model, then their difference."""
    timing = report.get("latency")
    summary = []
    gate = "LSKA" if spec.design == "lska" else spec.design.replace("_", "-").upper()  # "LKA", "LSKA-TRIVIAL"
    for role, name in (("baseline", "YOLOv8n"), ("variant", f"YOLOv8n + {gate} k={spec.k} at {spec.point}")):
        row = {"model": name, "params": report[role]["params"], "GFLOPs": round(report[role]["gflops"], 4)}
        if timing:
            row["latency median ms"] = round(timing[role]["median_ms"], 1)
            row["latency IQR ms"] = round(timing[role]["iqr_ms"], 1)
        summary.append(row)
    delta = report["delta"]
    summary.append(
        {
            "model": "difference",
            "params": f"{delta['params']:+d} ({delta['params_pct']:+.2f} %)",
            "GFLOPs": f"{delta['gflops']:+.4f} ({delta['gflops_pct']:+.2f} %)",
            **({"latency median ms": f"x{timing['ratio']:.3f}", "latency IQR ms": ""} if timing else {}),
        }
    )
    return summary


def _zoo_row(entry: dict[str, Any]) -> dict[str, Any]:
    from lska_demo.zoo.manifest import regime_of

    spec = entry.get("spec") or {}
    metrics = entry.get("metrics") or {}
    return {
        "model": entry["id"],
        "mode": entry.get("mode"),
        "k": spec.get("k"),
        "point": spec.get("point") if spec.get("k") else None,
        "block": spec.get("block") if spec.get("k") else None,
        "design": spec.get("design", "lska") if spec.get("k") else None,
        "regime": regime_of(entry),
        "seed": entry.get("seed"),
        "mAP50": None if metrics.get("mAP50") is None else round(metrics["mAP50"], 4),
        "mAP50-95": None if metrics.get("mAP50-95") is None else round(metrics["mAP50-95"], 4),
        "shipped": bool(entry.get("file")),
        "train s": entry.get("train_seconds"),
    }
