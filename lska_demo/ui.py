"""The Gradio app: controls, the YOLOv8 diagram, and one tab per question. Nothing imports this module.

Every handler is a thin adapter around ``service.DemoService``; service errors become ``gr.Error`` messages
(never a stack trace), and the server stays up. Uploads reach ``images.load_image`` as raw files: Gradio
itself never decodes them (see ``raw_upload``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import os
from collections.abc import Callable
from typing import Any

from lska_demo.runtime import CACHE_DIR

# Example files are copied into this cache at start; keep it with the project's other caches, not in the cwd.
os.environ.setdefault("GRADIO_EXAMPLES_CACHE", str(CACHE_DIR / "gradio" / "examples"))

import gradio as gr
import pandas as pd
from gradio.data_classes import FileData

from lska_demo.images import MAX_FILE_BYTES, example_images
from lska_demo.kernels import PAPER_KERNEL_SIZES
from lska_demo.render import yolo_diagram
from lska_demo.service import (
    CHECKPOINT_PREFIX,
    MAX_ERF_IMAGES,
    PRETRAINED,
    ZOO,
    CompareResult,
    DemoService,
    ServiceOptions,
    SideResult,
    rounded,
)
from lska_demo.inputs import check_block, check_k, check_point
from lska_demo.zoo import ZooError

log = logging.getLogger(__name__)
# Gradio recognises a handler that reports progress by this default and passes a fresh tracker on every call.
PROGRESS = gr.Progress()

POINT_LABELS = {
    "residual": "residual — in every backbone C2f bottleneck",
    "sppf": "sppf — between the last backbone C2f and SPPF",
    "neck": "neck — after each of the neck's four C2f",
    "head": "head — on P3, P4, P5 right before Detect",
}
BLOCK_LABELS = {"gate": "bare LSKA gate (as YOLO tutorials insert it)", "van": "VAN attention block around LSKA"}
DETECTION_COLUMNS = ["label", "score", "x1", "y1", "x2", "y2"]
# Gradio 6.31 ships Source Sans Pro SemiBold (600) as a 55-glyph subset, so bold text mixes in fallback glyphs
# ("LSKᴀ"); loading Regular and Bold only makes the browser use the complete Bold face for 600.
THEME = gr.themes.Default(
    font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"]
)
CSS = """
.status-box {min-height: 3em}
footer {display: none !important}
"""
INTRO = """# LSKA Lens — Large Separable Kernel Attention inside YOLOv8
Lau, Po & Rehman, *Large Separable Kernel Attention*, ESWA 2024. Pick a kernel size and where LSKA goes; compare
detections with the plain YOLOv8n, look at receptive fields and attention, count the cost, and learn how 1-D kernels
reach a k×k field. Zoo models are trained on a procedural shape-vs-texture benchmark (4 classes) with a fair control."""


def raw_upload(payload: FileData | None) -> str | bytes | None:
    """An image upload as the raw file path (or the bytes of a base64 payload), never decoded here.

    Gradio 6's ``gr.Image(type="filepath")`` opens every upload with PIL before the handler runs (and with
    an ``image_mode`` converts it, decoding every pixel): a decompression bomb would be decoded by Gradio and
    a non-image would fail inside Gradio with a message nobody can act on. ``images.load_image`` alone
    decodes, with its size caps and plain-language errors.
    """
    if payload is None:
        return None
    if payload.url and payload.url.startswith("data:"):
        encoded = payload.url.partition(",")[2]
        if len(encoded) > MAX_FILE_BYTES * 4 // 3 + 4:
            raise gr.Error(f"the image is larger than {MAX_FILE_BYTES // 2**20} MB")
        try:
            return base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError) as err:
            raise gr.Error("the uploaded data is not valid base64") from err
    if payload.path is None:
        raise gr.Error("no image was uploaded")
    return str(payload.path)


def image_input(**kwargs: Any) -> gr.Image:
    """The stock image widget whose upload reaches the handler through ``raw_upload``.

    The override is set on the instance: a ``gr.Image`` subclass would make Gradio write a .pyi stub
    next to this module at import time.
    """
    image = gr.Image(type="filepath", **kwargs)
    image.preprocess = raw_upload  # type: ignore[method-assign]
    return image


def _friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Service errors become gr.Error with their message; anything unexpected is logged and reported briefly."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ValueError, ZooError) as err:  # ImageError is a ValueError
            raise gr.Error(str(err), title="Cannot do that") from err
        except Exception as err:
            log.exception("handler %s failed", fn.__name__)
            raise gr.Error(
                f"Something went wrong inside the app ({type(err).__name__}); it is logged on the server.",
                title="Internal error",
            ) from err

    return wrapper


def _progress(progress: gr.Progress) -> Callable[[float, str], None]:
    return lambda fraction, message: progress(fraction, desc=message)


def _table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if columns is not None and frame.empty:
        frame = pd.DataFrame(columns=columns)
    return frame.astype(object).where(frame.notna(), "—")  # no NaN: "not available" reads better


def _side_markdown(side: SideResult, imgsz: int) -> str:
    lines = [f"**{side.name}**", side.status]
    if side.trained and side.inference_ms is not None:
        lines.append(f"{len(side.detections)} detection(s), {side.inference_ms:.0f} ms (forward + NMS) at {imgsz} px.")
    if side.metrics:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in side.metrics.items() if isinstance(v, float))
        lines.append(f"Zoo test metrics: {shown}.")
    return "\n\n".join(lines)


def _detections_table(side: SideResult) -> pd.DataFrame:
    columns = ["label", "score", "x1", "y1", "x2", "y2"]
    rows = [
        {"label": d["label"], "score": d["score"], **dict(zip(columns[2:], d["box"], strict=True))}
        for d in side.detections
    ]
    return _table(rows, columns)


def _source_choices(service: DemoService) -> list[tuple[str, str]]:
    labels = {ZOO: "benchmark zoo (4 shapes, trained)", PRETRAINED: "yolov8n.pt (COCO) + identity LSKA graft"}
    return [
        (labels.get(s, f"operator checkpoint {s.removeprefix(CHECKPOINT_PREFIX)} + identity LSKA graft"), s)
        for s in service.sources
    ]


def _erf_layer_names(k: Any, point: str, block: str) -> list[str]:
    from lska_demo.analysis.erf import erf_layers
    from lska_demo.yolo import VariantSpec

    return list(erf_layers(VariantSpec(k=check_k(k), point=check_point(point), block=check_block(block))))


def build_ui(service_options: ServiceOptions | None = None) -> gr.Blocks:
    service = DemoService(service_options)
    examples = [[str(p)] for p in example_images().values()]

    # --- handlers: thin, named, each with its api_name below ------------------------------------------

    @_friendly
    def on_point(k: int, point: str, block: str) -> tuple[str, Any]:
        names = _erf_layer_names(k, point, block)
        return yolo_diagram(point), gr.Dropdown(choices=names, value=names[0])

    @_friendly
    def run_compare(
        image: Any,
        k: int,
        point: str,
        block: str,
        source: str,
        conf: float,
        iou: float,
        progress: gr.Progress = PROGRESS,
    ) -> tuple[Any, ...]:
        result: CompareResult = service.compare(image, k, point, block, source, conf, iou, _progress(progress))
        b, v = result.baseline, result.variant
        return (
            b.image,
            v.image,
            _side_markdown(b, result.imgsz),
            _side_markdown(v, result.imgsz),
            _detections_table(b),
            _detections_table(v),
            result.note,
            result.to_dict(),
        )

    @_friendly
    def run_erf(
        files: list[str] | None,
        k: int,
        point: str,
        block: str,
        source: str,
        n: int,
        layer: str,
        progress: gr.Progress = PROGRESS,
    ) -> tuple[Any, ...]:
        result = service.erf(files or None, k, point, block, source, n, layer, _progress(progress))
        return result.figure, _table(rounded(result.ratios)), result.note

    @_friendly
    def run_attention(
        image: Any, k: int, point: str, block: str, source: str, method: str, progress: gr.Progress = PROGRESS
    ) -> tuple[Any, ...]:
        result = service.attention(image, k, point, block, source, method, _progress(progress))
        return result.stages, result.baseline_cam, result.variant_cam, result.note

    @_friendly
    def run_cost(
        k: int, point: str, block: str, imgsz: int, latency: bool, progress: gr.Progress = PROGRESS
    ) -> tuple[Any, ...]:
        result = service.cost(k, point, block, imgsz, latency, _progress(progress))
        return _table(result.summary), _table(result.layers), _table(result.lska), result.note

    def show_panels(raw: dict[str, Any] | None) -> tuple[Any, Any]:
        """No detections panel for an untrained side: its status says why (kept out of the API's outputs)."""
        trained = [bool((raw or {}).get(role, {}).get("trained")) for role in ("baseline", "variant")]
        return gr.Column(visible=trained[0]), gr.Column(visible=trained[1])

    @_friendly
    def brief_cost(k: int, point: str, block: str) -> pd.DataFrame:
        return _table(service.cost(k, point, block, 640, False).summary)

    @_friendly
    def run_teach(k: int, progress: gr.Progress = PROGRESS) -> tuple[Any, ...]:
        progress(0.2, desc="drawing kernels")
        result = service.teach(k)
        return (
            result.pipelines_html,
            result.text,
            result.kernels_figure,
            result.rank1_figure,
            result.cost_figure,
            _table(result.weights_table),
        )

    @_friendly
    def run_export(k: int, point: str, block: str, scale: str, nc: int) -> tuple[str, str]:
        return service.export(k, point, block, scale, nc)

    @_friendly
    def run_zoo(k: int, point: str, block: str) -> tuple[Any, ...]:
        rows = service.zoo_table()
        note = "" if rows else "The manifest lists no models yet: the zoo is still training, or was never built."
        return _table(service.zoo_pair(k, point, block)), _table(rows, ["model"]), note

    # --- layout -----------------------------------------------------------------------------------------

    with gr.Blocks(title="LSKA Lens", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                k = gr.Radio(list(PAPER_KERNEL_SIZES), value=23, label="Kernel size k (receptive field k×k)")
                point = gr.Radio(
                    [(label, name) for name, label in POINT_LABELS.items()], value="sppf", label="Insertion point"
                )
                block = gr.Radio(
                    [(label, name) for name, label in BLOCK_LABELS.items()], value="gate", label="Block kind"
                )
                source = gr.Dropdown(_source_choices(service), value=ZOO, label="Models")
                with gr.Row():
                    conf = gr.Slider(0.0, 1.0, value=0.25, step=0.01, label="Confidence threshold")
                    iou = gr.Slider(0.0, 1.0, value=0.7, step=0.01, label="NMS IoU threshold")
            with gr.Column(scale=3, min_width=420):
                diagram = gr.HTML(yolo_diagram("sppf"), label="Where LSKA goes")
                with gr.Row(equal_height=False):
                    image = image_input(
                        label="Image", sources=["upload", "clipboard"], height=260, elem_id="input-image", scale=1
                    )
                    with gr.Column(scale=1, min_width=240):
                        gr.Examples(examples, inputs=[image], label="Examples: benchmark test images, then photos")

        with gr.Tabs():
            with gr.Tab("Compare", id="compare"):
                compare_btn = gr.Button("Compare baseline and LSKA", variant="primary", elem_id="compare-btn")
                with gr.Row(equal_height=False):
                    with gr.Column():
                        base_md = gr.Markdown("**Baseline YOLOv8n**", elem_classes="status-box")
                        with gr.Column(elem_id="baseline-panel") as base_panel:  # hidden for an untrained model
                            base_img = gr.Image(label="Baseline YOLOv8n", format="jpeg", elem_id="baseline-out")
                            base_tab = gr.Dataframe(
                                headers=DETECTION_COLUMNS, label="Baseline detections", max_height=240
                            )
                    with gr.Column():
                        var_md = gr.Markdown("**YOLOv8n + LSKA**", elem_classes="status-box")
                        with gr.Column(elem_id="variant-panel") as var_panel:
                            var_img = gr.Image(label="YOLOv8n + LSKA", format="jpeg", elem_id="variant-out")
                            var_tab = gr.Dataframe(headers=DETECTION_COLUMNS, label="LSKA detections", max_height=240)
                compare_note = gr.Markdown()
                cost_brief = gr.Dataframe(
                    headers=["model", "params", "GFLOPs"], label="Cost at 640 px (80 classes)", elem_id="cost-brief"
                )
                with gr.Accordion("Raw result (JSON)", open=False):
                    compare_json = gr.JSON()
            with gr.Tab("Receptive field", id="erf"):
                gr.Markdown(
                    "Effective receptive field (Ding et al., RepLKNet 2022): the gradient of the centre activation "
                    "of a layer with respect to the input, averaged over images. Both maps share one colour scale. "
                    "Leave the files empty to use held-out benchmark images."
                )
                with gr.Row():
                    erf_files = gr.File(
                        file_count="multiple", file_types=["image"], label=f"Images (optional, up to {MAX_ERF_IMAGES})"
                    )
                    with gr.Column():
                        erf_n = gr.Slider(1, MAX_ERF_IMAGES, value=4, step=1, label="Number of images")
                        erf_layer = gr.Dropdown(
                            _erf_layer_names(23, "sppf", "gate"), value="insertion point", label="Layer"
                        )
                        erf_btn = gr.Button("Compute receptive fields", variant="primary")
                erf_fig = gr.Image(show_label=False, label="Baseline vs LSKA", format="png")
                erf_ratios = gr.Dataframe(label="Area ratios (larger = wider field)")
                erf_note = gr.Markdown()
            with gr.Tab("Attention", id="attention"):
                with gr.Row():
                    method = gr.Radio(
                        [("EigenCAM (no gradients)", "eigen"), ("Grad-CAM", "grad")], value="eigen", label="CAM method"
                    )
                    att_btn = gr.Button("Show attention", variant="primary")
                stages_fig = gr.Image(
                    show_label=False, label="LSKA stages in the variant (input, each conv, attention)", format="png"
                )
                with gr.Row():
                    base_cam = gr.Image(label="Baseline CAM", format="jpeg")
                    var_cam = gr.Image(label="LSKA CAM", format="jpeg")
                att_note = gr.Markdown()
            with gr.Tab("Cost", id="cost"):
                with gr.Row():
                    cost_imgsz = gr.Dropdown([256, 320, 480, 640, 960, 1280], value=640, label="Input size")
                    cost_latency = gr.Checkbox(value=False, label="Measure latency (about 10 s)")
                    cost_btn = gr.Button("Count", variant="primary")
                cost_summary = gr.Dataframe(label="Parameters, GFLOPs, latency", elem_id="cost-summary")
                cost_note = gr.Markdown()
                cost_lska = gr.Dataframe(label="Each LSKA unit")
                cost_layers = gr.Dataframe(label="Per-layer delta", max_height=360)
            with gr.Tab("Zoo", id="zoo"):
                zoo_btn = gr.Button("Refresh from the manifest")
                zoo_pair = gr.Dataframe(label="The two models being compared (control and LSKA)")
                zoo_note = gr.Markdown()
                zoo_all = gr.Dataframe(label="Every model in weights/manifest.json", max_height=420)
            with gr.Tab("Teach", id="teach"):
                teach_btn = gr.Button("Explain this k", variant="primary")
                pipelines = gr.HTML()
                teach_text = gr.Markdown()
                kernels_fig = gr.Image(show_label=False, label="Equivalent k×k kernel of each design", format="png")
                rank1_fig = gr.Image(
                    show_label=False, label="LKA's kernel and its best rank-1 (separable) approximation", format="png"
                )
                cost_k_fig = gr.Image(
                    show_label=False, label="Cost vs k at YOLOv8n's P5 (256 channels, 20×20)", format="png"
                )
                weights_tab = gr.Dataframe(label="Spatial weights per channel")
                gr.Markdown("### Use it: the model YAML and how to train it")
                with gr.Row():
                    scale = gr.Dropdown(["n", "s", "m", "l", "x"], value="n", label="YOLOv8 scale")
                    nc = gr.Number(value=80, precision=0, minimum=1, maximum=10000, label="Classes")
                    export_btn = gr.Button("Export")
                with gr.Row():
                    yaml_box = gr.Code(language="yaml", label="Model YAML")
                    snippet_box = gr.Code(language="python", label="Train it")

        # --- events -------------------------------------------------------------------------------------
        controls = [k, point, block]
        heavy = {"concurrency_id": "models"}  # one shared limit for all model work (default_concurrency_limit)
        point.change(on_point, controls, [diagram, erf_layer], api_name="diagram")
        compare_btn.click(
            run_compare,
            [image, k, point, block, source, conf, iou],
            [base_img, var_img, base_md, var_md, base_tab, var_tab, compare_note, compare_json],
            api_name="compare",
            **heavy,
        ).success(show_panels, [compare_json], [base_panel, var_panel], api_visibility="private", queue=False).success(
            brief_cost,
            controls,
            [cost_brief],
            api_visibility="private",
            **heavy,
        )
        erf_btn.click(
            run_erf,
            [erf_files, *controls, source, erf_n, erf_layer],
            [erf_fig, erf_ratios, erf_note],
            api_name="erf",
            **heavy,
        )
        att_btn.click(
            run_attention,
            [image, *controls, source, method],
            [stages_fig, base_cam, var_cam, att_note],
            api_name="attention",
            **heavy,
        )
        cost_btn.click(
            run_cost,
            [*controls, cost_imgsz, cost_latency],
            [cost_summary, cost_layers, cost_lska, cost_note],
            api_name="cost",
            **heavy,
        )
        teach_btn.click(
            run_teach,
            [k],
            [pipelines, teach_text, kernels_fig, rank1_fig, cost_k_fig, weights_tab],
            api_name="teach",
            **heavy,
        )
        export_btn.click(run_export, [*controls, scale, nc], [yaml_box, snippet_box], api_name="export")
        zoo_btn.click(run_zoo, controls, [zoo_pair, zoo_all, zoo_note], api_name="zoo")
        demo.load(run_zoo, controls, [zoo_pair, zoo_all, zoo_note], api_visibility="private")
    return demo
