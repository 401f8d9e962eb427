"""Everything behind the web app, importable and testable without Gradio.

Inputs are validated here (a ValueError with a message a person can act on); images are decoded only by
``images.load_image``. Models come from a bounded, thread-safe cache and are used read-only; each holds a
lock because Ultralytics' Detect head caches anchors per input shape and CAM/ERF hooks are per model.

Model sources:
- ``zoo``: the shipped benchmark models (4 shape classes); the baseline is the fine-tuned control.
- ``yolov8n.pt``: Ultralytics' COCO-pretrained weights; the LSKA side is an identity-initialised graft.
- ``checkpoint:<name>``: an operator's checkpoint given on the command line, treated like ``yolov8n.pt``.
A side with no trained weights is a randomly initialised model: cost, ERF and attention still work on it,
but it never shows detections.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from lska_demo.cache import LoadedModel, ModelCache
from lska_demo.detect import detect
from lska_demo.images import Letterboxed, letterbox, load_image
from lska_demo.kernels import PAPER_KERNEL_SIZES
from lska_demo.render import draw_detections
from lska_demo.runtime import WEIGHTS_DIR
from lska_demo.teaching import pipelines_html, python_snippet, teaching_text, weights_table
from lska_demo.yolo import BLOCKS, INSERTION_POINTS, SCALES, VariantSpec, build_model, export_yaml, graft, spec_of

ZOO = "zoo"
PRETRAINED = "yolov8n.pt"
CHECKPOINT_PREFIX = "checkpoint:"
MAX_ERF_IMAGES = 16
CAM_METHODS = ("eigen", "grad")
ZOO_IMGSZ = 256  # the zoo is trained and evaluated at 256 px (the benchmark's image size)
PRETRAINED_IMGSZ = 640

Progress = Callable[[float, str], None]
ImageInput = str | Path | bytes | np.ndarray


# --- validation ---------------------------------------------------------------------------------------------


def _whole(value: Any) -> int | None:
    """An int from 640, 640.0 or '640'; None for anything else (bools, fractions, words)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def check_k(k: Any) -> int:
    """Gradio and HTTP clients send numbers as int, float or text: accept 23, 23.0 and '23', nothing else."""
    value = _whole(k)
    if value not in PAPER_KERNEL_SIZES:
        sizes = ", ".join(map(str, PAPER_KERNEL_SIZES))
        raise ValueError(f"kernel size must be one of the paper's sizes {sizes}; got {k!r}")
    return value


def check_point(point: Any) -> str:
    if point not in INSERTION_POINTS:
        raise ValueError(f"insertion point must be one of {', '.join(INSERTION_POINTS)}; got {point!r}")
    return point


def check_block(block: Any) -> str:
    if block not in BLOCKS:
        raise ValueError(f"block kind must be 'gate' (bare LSKA) or 'van' (VAN's attention unit); got {block!r}")
    return block


def check_fraction(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number between 0 and 1; got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1; got {value!r}")
    return number


def check_imgsz(imgsz: Any) -> int:
    size = _whole(imgsz)
    if size is None or size % 32 or not 64 <= size <= 1280:
        raise ValueError(f"image size must be a multiple of 32 between 64 and 1280 (YOLOv8's stride); got {imgsz!r}")
    return size


def check_count(n: Any) -> int:
    count = _whole(n)
    if count is None or not 1 <= count <= MAX_ERF_IMAGES:
        raise ValueError(f"number of images must be a whole number between 1 and {MAX_ERF_IMAGES}; got {n!r}")
    return count


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "imgsz": self.imgsz,
            "baseline": self.baseline.to_dict(),
            "variant": self.variant.to_dict(),
            "note": self.note,
        }


@dataclass
class ErfResult:
    figure: np.ndarray
    ratios: list[dict[str, Any]]
    layer: str
    layers: dict[str, int]
    n_images: int
    imgsz: int
    note: str
    baseline: dict[str, Any]
    variant: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "layers": self.layers,
            "n_images": self.n_images,
            "imgsz": self.imgsz,
            "ratios": self.ratios,
            "note": self.note,
        }


@dataclass
class AttentionResult:
    stages: np.ndarray | None
    baseline_cam: np.ndarray
    variant_cam: np.ndarray
    note: str
    cams: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"note": self.note, "cams": self.cams, "has_stage_maps": self.stages is not None}


@dataclass
class CostResult:
    summary: list[dict[str, Any]]
    layers: list[dict[str, Any]]
    lska: list[dict[str, Any]]
    latency: dict[str, Any] | None
    imgsz: int
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "imgsz": self.imgsz,
            "summary": self.summary,
            "layers": self.layers,
            "lska": self.lska,
            "latency": self.latency,
            "note": self.note,
        }


@dataclass
class TeachResult:
    pipelines_html: str
    weights_table: list[dict[str, Any]]
    kernels_figure: np.ndarray
    cost_figure: np.ndarray
    rank1_figure: np.ndarray
    rank1_error: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"weights_table": self.weights_table, "rank1_error": self.rank1_error, "text": self.text}


# --- the service --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceOptions:
    weights_dir: Path = WEIGHTS_DIR
    checkpoint: Path | None = None  # the operator's --weights: trusted because the operator chose it
    max_cache: int = 6


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


class DemoService:
    def __init__(self, options: ServiceOptions | None = None) -> None:
        self.options = options or ServiceOptions()
        self.cache = ModelCache(self.options.max_cache)

    # sources -----------------------------------------------------------------------------------------------

    @property
    def sources(self) -> list[str]:
        names = [ZOO, PRETRAINED]
        if self.options.checkpoint is not None:
            names.append(CHECKPOINT_PREFIX + Path(self.options.checkpoint).name)
        return names

    def check_source(self, source: Any) -> str:
        if source not in self.sources:
            raise ValueError(f"model source must be one of {', '.join(self.sources)}; got {source!r}")
        return source

    def _manifest(self) -> Any:
        from lska_demo.zoo import Manifest

        return Manifest.load(self.options.weights_dir)

    def _zoo_side(self, spec: VariantSpec) -> LoadedModel:
        """A shipped zoo model, or a random one that says so. The key holds the file's hash, so models the zoo
        job finishes while the app runs appear without a restart."""
        from lska_demo.zoo import NC, load_zoo_model

        spec = replace(spec, nc=NC)
        entry = self._manifest().find(spec, seed=0)
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
            return LoadedModel(model, found["id"], True, status, _zoo_imgsz(found), entry=found)

        return self.cache.get(key, load)

    def _operator_baseline(self, source: str) -> LoadedModel:
        """yolov8n.pt or the operator's checkpoint; offline without the file: a random COCO-shaped model."""
        from lska_demo.zoo import ZooError, load_checkpoint_model, load_pretrained

        def load() -> LoadedModel:
            try:
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

    def pair(self, source: str, k: int, point: str, block: str) -> tuple[LoadedModel, LoadedModel]:
        """The baseline and the LSKA variant of a source, from the cache."""
        spec = VariantSpec(k=k, point=point, block=block)
        if source == ZOO:
            return self._zoo_side(plain(spec)), self._zoo_side(spec)
        base = self._operator_baseline(source)
        return base, self._operator_variant(source, base, spec)

    def _validated(self, k: Any, point: Any, block: Any, source: Any) -> tuple[int, str, str, str]:
        return check_k(k), check_point(point), check_block(block), self.check_source(source)

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
    ) -> CompareResult:
        """Detections of the baseline and the LSKA variant on one image, each with its time and status."""
        k, point, block, source = self._validated(k, point, block, source)
        conf, iou = check_fraction("confidence threshold", conf), check_fraction("IoU threshold", iou)
        picture = load_image(_require_image(image))
        _report(progress, 0.1, "loading models")
        base, variant = self.pair(source, k, point, block)
        sides: list[SideResult] = []
        letterboxed: dict[int, Letterboxed] = {}
        for i, side in enumerate((base, variant)):
            _report(progress, 0.3 + 0.35 * i, f"detecting with {side.name}")
            sides.append(_detect_side(side, picture, conf, iou, letterboxed))
        return CompareResult(sides[0], sides[1], base.imgsz, _compare_note(source, sides[0], sides[1]))

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
    ) -> ErfResult:
        """Effective receptive fields of the baseline and the variant at the same layer, on one colour scale."""
        from lska_demo.analysis.erf import erf_layers, model_erf

        k, point, block, source = self._validated(k, point, block, source)
        n = check_count(n)
        images = [i for i in (images or []) if i is not None]
        if len(images) > MAX_ERF_IMAGES:
            raise ValueError(f"at most {MAX_ERF_IMAGES} images for the receptive field; got {len(images)}")
        spec = VariantSpec(k=k, point=point, block=block)
        layers = erf_layers(spec)
        if layer_name not in layers:
            raise ValueError(f"layer must be one of {', '.join(layers)}; got {layer_name!r}")
        pictures = [load_image(i) for i in images[:n]] if images else benchmark_images(n)
        from lska_demo import plots

        base, variant = self.pair(source, k, point, block)
        base_layers = erf_layers(spec.baseline())
        base_index = base_layers.get(layer_name, _baseline_layer(spec, layers[layer_name]))
        maps = {}
        for i, (side, index) in enumerate(((base, base_index), (variant, layers[layer_name]))):

            def step(done: int, total: int, i: int = i, side: LoadedModel = side) -> None:
                _report(progress, (i + done / max(total, 1)) / 2, f"ERF of {side.name}: image {done}/{total}")

            with side.use() as model:
                maps[i] = model_erf(model, index, pictures, side.imgsz, progress=step)
        titles = (f"baseline · layer {base_index}", f"LSKA k={k} at {point} · layer {layers[layer_name]}")
        figure = plots.erf_pair(maps[0], maps[1], titles)
        thresholds = sorted(set(maps[0].ratios) | set(maps[1].ratios))
        ratios = [
            {"threshold": t, "baseline": maps[0].ratios.get(t), "variant": maps[1].ratios.get(t)} for t in thresholds
        ]
        note = (
            f"{len(pictures)} image(s) at {base.imgsz} px, layer '{layer_name}'. Area ratio at t: the smallest centred "
            "square holding a fraction t of the gradient mass, as a share of the image; larger means a wider "
            "effective receptive field. A missing ratio means no square reached t."
        )
        if not (base.trained and variant.trained):
            note += " At least one side is randomly initialised: its ERF shows the architecture, not what it learned."
        return ErfResult(
            figure, ratios, layer_name, layers, len(pictures), base.imgsz, note, maps[0].to_dict(), maps[1].to_dict()
        )

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
    ) -> AttentionResult:
        """LSKA's stage maps in the variant, and a class activation map of each side."""
        k, point, block, source = self._validated(k, point, block, source)
        if method not in CAM_METHODS:
            raise ValueError(f"CAM method must be 'eigen' (EigenCAM) or 'grad' (Grad-CAM); got {method!r}")
        picture = load_image(_require_image(image))
        from lska_demo import plots
        from lska_demo.analysis.attention import class_activation_map, stage_maps

        base, variant = self.pair(source, k, point, block)
        _report(progress, 0.1, "LSKA stage maps")
        with variant.use() as model:
            stages = stage_maps(model, picture, variant.imgsz)
        stages_figure = plots.stage_maps_figure(stages, picture)
        cams, overlays = {}, {}
        for i, (role, side) in enumerate((("baseline", base), ("variant", variant))):
            _report(progress, 0.35 + 0.3 * i, f"{method} CAM of {side.name}")
            with side.use() as model:
                cam = class_activation_map(model, picture, method=method, imgsz=side.imgsz)
            overlays[role] = plots.cam_overlay(picture, cam)
            cams[role] = {"model": side.name, "method": cam.method, "layer": cam.layer, "note": cam.note}
        notes = [f"{role.capitalize()} ({c['model']}): {c['note']}." for role, c in cams.items() if c.get("note")]
        if not variant.trained:
            notes.insert(
                0, "The variant is randomly initialised: its stage maps show the kernels' shapes, not learning."
            )
        elif source != ZOO:
            notes.insert(
                0, "Identity graft: LSKA's 1x1 conv is zero with bias 1, so the gate passes features unchanged."
            )
        return AttentionResult(stages_figure, overlays["baseline"], overlays["variant"], "\n\n".join(notes), cams)

    # cost --------------------------------------------------------------------------------------------------

    def _architecture(self, spec: VariantSpec) -> LoadedModel:
        """Random-weight COCO-shaped models: cost depends on the architecture only."""
        return self.cache.get(
            ("architecture", spec), lambda: LoadedModel(build_model(spec), spec.name, False, "architecture", 640)
        )

    def cost(
        self,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        imgsz: Any = 640,
        latency: bool = False,
        progress: Progress | None = None,
    ) -> CostResult:
        """Parameters, GFLOPs and per-layer deltas of YOLOv8n (80 classes) vs the variant; latency on request."""
        from lska_demo.analysis.cost import compare_cost, forward_runner, measure_latency

        k, point, block = check_k(k), check_point(point), check_block(block)
        imgsz = check_imgsz(imgsz)
        spec = VariantSpec(k=k, point=point, block=block)
        _report(progress, 0.1, "counting parameters and FLOPs")
        base, variant = self._architecture(plain(spec)), self._architecture(spec)
        with base.use() as b, variant.use() as v:  # always baseline first: one lock order, no deadlock
            report = compare_cost(b, v, imgsz)
            timing = None
            if latency:
                _report(progress, 0.4, "timing forward passes (CPU, batch 1)")
                timing = measure_latency(
                    {"baseline": forward_runner(b, imgsz), "variant": forward_runner(v, imgsz)}, warmup=2, repeats=10
                )
        summary = []
        for role, name in (("baseline", "YOLOv8n"), ("variant", f"YOLOv8n + LSKA k={k} at {point}")):
            row = {"model": name, "params": report[role]["params"], "GFLOPs": round(report[role]["gflops"], 3)}
            if timing:
                row["latency median ms"] = round(timing[role]["median_ms"], 1)
                row["latency IQR ms"] = round(timing[role]["iqr_ms"], 1)
            summary.append(row)
        delta = report["delta"]
        summary.append(
            {
                "model": "difference",
                "params": f"{delta['params']:+d} ({delta['params_pct']:+.2f} %)",
                "GFLOPs": f"{delta['gflops']:+.3f} ({delta['gflops_pct']:+.2f} %)",
                **({"latency median ms": f"x{timing['ratio']:.3f}", "latency IQR ms": ""} if timing else {}),
            }
        )
        note = (
            f"YOLOv8n, 80 classes, {imgsz}x{imgsz} input. FLOPs count multiply-adds x 2 and include every tap of a "
            "kernel wider than its feature map (padding), which is what the hardware runs."
        )
        if timing:
            note += " Latency: median of 10 CPU forward passes after 2 warm-ups, on whatever else this machine runs."
        return CostResult(summary, rounded(report["layers"]), rounded(report["lska"]), timing, imgsz, note)

    # teach -------------------------------------------------------------------------------------------------

    def teach(self, k: Any = 23) -> TeachResult:
        """The four designs as pipelines, their equivalent kernels, weights vs k, and LKA's rank-1 view."""
        k = check_k(k)
        from lska_demo import plots
        from lska_demo.analysis.cost import design_costs
        from lska_demo.analysis.kernel_views import equivalent_kernels, rank1

        kernels = equivalent_kernels(k, dim=1, seed=0)
        approx, err = rank1(np.asarray(kernels["lka"]))
        rows = design_costs(dim=256, size=20, ks=PAPER_KERNEL_SIZES)  # YOLOv8n's P5 at 640 px
        return TeachResult(
            pipelines_html=pipelines_html(k),
            weights_table=weights_table(k),
            kernels_figure=plots.kernels_figure(kernels, k),
            cost_figure=plots.cost_vs_k_figure(rows),
            rank1_figure=plots.rank1_figure(np.asarray(kernels["lka"]), approx, err),
            rank1_error=float(err),
            text=teaching_text(k, float(err)),
        )

    # export and zoo ----------------------------------------------------------------------------------------

    def export(
        self, k: Any = 23, point: Any = "sppf", block: Any = "gate", scale: Any = "n", nc: Any = 80
    ) -> tuple[str, str]:
        """The model YAML of the variant and a Python snippet that trains it (from scratch, or as a graft)."""
        k, point, block = check_k(k), check_point(point), check_block(block)
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
        try:
            classes = int(nc)
        except (TypeError, ValueError):
            raise ValueError(f"number of classes must be a whole number; got {nc!r}") from None
        if classes != float(nc) or not 1 <= classes <= 10_000:
            raise ValueError(f"number of classes must be between 1 and 10000; got {nc!r}")
        spec = VariantSpec(k=k, point=point, block=block, scale=scale, nc=classes)
        return export_yaml(spec), python_snippet(spec)

    def zoo_table(self) -> list[dict[str, Any]]:
        """Every model in the manifest, with its architecture and held-out metrics."""
        return [_zoo_row(entry) for entry in self._manifest().models]

    def zoo_pair(self, k: Any = 23, point: Any = "sppf", block: Any = "gate") -> list[dict[str, Any]]:
        """The control and the LSKA entry of the zoo for this choice (missing ones say so)."""
        from lska_demo.zoo import NC

        k, point, block = check_k(k), check_point(point), check_block(block)
        manifest = self._manifest()
        rows = []
        for role, spec in (("baseline (control)", VariantSpec(nc=NC)), ("LSKA", VariantSpec(k, point, block, nc=NC))):
            entry = manifest.find(spec, seed=0, shipped=False)
            rows.append({"role": role, **(_zoo_row(entry) if entry else {"model": spec.name, "status": "not trained"})})
        return rows


# --- helpers ------------------------------------------------------------------------------------------------


def plain(spec: VariantSpec) -> VariantSpec:
    """The baseline of ``spec`` in canonical form. ``spec.baseline()`` keeps point and block, which a baseline
    ignores but ``VariantSpec`` equality does not, so it would miss the zoo's control and split the cache."""
    return VariantSpec(scale=spec.scale, nc=spec.nc)


def rounded(rows: list[dict[str, Any]], digits: int = 4) -> list[dict[str, Any]]:
    """Floats cut to ``digits`` decimals for tables (the JSON of the service keeps full precision)."""
    return [{key: round(v, digits) if isinstance(v, float) else v for key, v in row.items()} for row in rows]


def _require_image(image: Any) -> Any:
    if image is None or (isinstance(image, (str, bytes)) and not image):
        raise ValueError("no image: upload one or pick an example")
    return image


def _zoo_imgsz(entry: dict[str, Any]) -> int:
    return int((entry.get("recipe") or {}).get("imgsz", ZOO_IMGSZ))


def _detect_side(
    side: LoadedModel, picture: np.ndarray, conf: float, iou: float, letterboxed: dict[int, Letterboxed]
) -> SideResult:
    """One side's detections; ``letterboxed`` holds the picture's letterboxed inputs by size, shared by both."""
    metrics = (side.entry or {}).get("metrics")
    if not side.trained:
        return SideResult(side.name, False, side.status, metrics=metrics)
    if side.imgsz not in letterboxed:
        letterboxed[side.imgsz] = letterbox(picture, side.imgsz)
    with side.use() as model:
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


def _compare_note(source: str, base: SideResult, variant: SideResult) -> str:
    if source == ZOO and base.trained and variant.trained:
        return (
            "Both models were fine-tuned from the same scratch baseline with the same recipe and seed; only LSKA "
            "differs. One image is an anecdote: the zoo's test-set metrics are the evidence."
        )
    if source != ZOO and variant.trained:
        return "The LSKA side is an identity-initialised graft: its detections equal the baseline's by construction."
    return "At least one side has no trained weights: it shows no detections, only its status."


def _baseline_layer(spec: VariantSpec, variant_index: int) -> int:
    """The baseline layer at the same place as a variant layer (rows inserted for LSKA shift indices)."""
    from lska_demo.yolo import variant_yaml

    _, index_map = variant_yaml(spec)
    inverse = {new: old for old, new in index_map.items()}
    candidates = [old for new, old in inverse.items() if new <= variant_index]
    return max(candidates) if candidates else variant_index


def benchmark_images(n: int) -> list[np.ndarray]:
    """The first ``n`` held-out benchmark images, generated (deterministic, no files needed)."""
    from lska_demo.data import BenchmarkConfig, render_image

    return [np.asarray(render_image(BenchmarkConfig(), "test", i)[0]) for i in range(n)]


def _zoo_row(entry: dict[str, Any]) -> dict[str, Any]:
    spec = entry.get("spec") or {}
    metrics = entry.get("metrics") or {}
    return {
        "model": entry["id"],
        "mode": entry.get("mode"),
        "k": spec.get("k"),
        "point": spec.get("point") if spec.get("k") else None,
        "block": spec.get("block") if spec.get("k") else None,
        "seed": entry.get("seed"),
        "mAP50": None if metrics.get("mAP50") is None else round(metrics["mAP50"], 4),
        "mAP50-95": None if metrics.get("mAP50-95") is None else round(metrics["mAP50-95"], 4),
        "shipped": bool(entry.get("file")),
        "train s": entry.get("train_seconds"),
    }


# --- a default instance, so `service.compare(...)` works without building anything -------------------------

_default: DemoService | None = None
_default_lock = threading.Lock()


def default_service() -> DemoService:
    global _default
    with _default_lock:
        if _default is None:
            _default = DemoService()
        return _default


def compare(*args: Any, **kwargs: Any) -> CompareResult:
    return default_service().compare(*args, **kwargs)


def erf(*args: Any, **kwargs: Any) -> ErfResult:
    return default_service().erf(*args, **kwargs)


def attention(*args: Any, **kwargs: Any) -> AttentionResult:
    return default_service().attention(*args, **kwargs)


def cost(*args: Any, **kwargs: Any) -> CostResult:
    return default_service().cost(*args, **kwargs)


def teach(k: Any = 23) -> TeachResult:
    return default_service().teach(k)


def export(*args: Any, **kwargs: Any) -> tuple[str, str]:
    return default_service().export(*args, **kwargs)


def zoo_table() -> list[dict[str, Any]]:
    return default_service().zoo_table()
