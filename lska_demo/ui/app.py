"""The page: a three-step "start here" (image, variant, Compare), the YOLOv8 diagram, then one tab per question."""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from lska_demo.app.service import KERNEL_SIZES, ZOO, DemoService, ServiceOptions
from lska_demo.model.vocabulary import BLOCK_LABELS, DESIGN_LABELS, GLOSSARY, POINT_LABELS, choices
from lska_demo.ui import attention, compare, cost, erf, teach, zoo
from lska_demo.ui.cache_files import write_outputs_atomically
from lska_demo.ui.common import Controls, domain_html, follow, image_input, settings_changed, status_html
from lska_demo.ui.fields import explain_input_errors, pass_values_through

# The tabs in page order; each module's ``build(service, controls)`` lays out and wires its own tab, and may
# return a function that wires the tab's ``select`` event once the tab exists.
TABS = (
    ("Compare", "compare", compare.build),
    ("Receptive field", "erf", erf.build),
    ("Attention", "attention", attention.build),
    ("Cost", "cost", cost.build),
    ("Zoo", "zoo", zoo.build),
    ("Teach", "teach", teach.build),
)
# Gradio 6.31 ships Source Sans Pro SemiBold (600) as a 55-glyph subset, so bold text mixes in fallback glyphs
# ("LSKᴀ"); loading Regular and Bold only makes the browser use the complete Bold face for 600.
THEME = gr.themes.Default(
    font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"]
)
# Compact header so the three steps fit a 1366x768 screen; on a phone the diagram keeps a legible size and
# scrolls sideways inside its own box instead of shrinking the whole page.
CSS = """
footer {display: none !important}
.status-box {min-height: 6em}
#intro h2 {margin: 0 0 2px 0} #intro p {margin: 0}
.step h3 {margin: 0 !important}
.pair-status .side {padding: 4px 8px; border-radius: 6px; margin: 2px 0; font-size: 0.92em}
.pair-status .trained {background: #e8f5e9; color: #1b5e20}
.pair-status .untrained {background: #fff3e0; color: #8a3c00}
.banner {background: #b71c1c; color: #fff; padding: 10px 14px; border-radius: 8px; font-weight: 700}
.domain-note {background: #fff8e1; border: 2px solid #f9a825; color: #4e3b00; padding: 8px 12px; border-radius: 8px;
  font-size: 0.92em}
.domain-note .why {font-size: 0.85em; margin-top: 4px; opacity: 0.85}
#diagram .yolo-diagram {overflow-x: auto}
#diagram .yolo-diagram svg {min-width: 700px}
#compare-btn {font-size: 1.15em; min-height: 3em}
.gradio-container {overflow-x: hidden}
#domain-note:has(.prose:empty) {display: none}
@media (max-width: 640px) {
  .gradio-container {padding: 0 6px !important}
  #cost-summary td, #cost-summary th, #cost-brief td, #cost-brief th {
    font-size: 12px !important; padding: 2px !important}
  #cost-summary .cell-wrap, #cost-brief .cell-wrap {padding: 4px !important}
  #examples-benchmark .gallery-item .container, #examples-photo .gallery-item .container {
    width: 64px !important; height: 64px !important}
}
"""
INTRO = """## LSKA Lens — Large Separable Kernel Attention inside YOLOv8
Does LSKA (Lau, Po & Rehman, ESWA 2024), a large k×k attention built from cheap 1-D kernels, help a small detector?
Follow steps 1–3; the tabs below look inside."""
EXAMPLE_CAPTIONS = {
    "benchmark": "Benchmark images: the four shapes the zoo was trained on",
    "photo": "Photos: NOT what the zoo knows (its labels on them mean nothing)",
}
PHOTO_CAPTION_ONLINE = "Photos: NOT what the zoo knows; choose the yolov8n.pt source for them"
SOURCE_INFO = "zoo: trained here on 4 synthetic shapes; yolov8n.pt: Ultralytics' 80 everyday objects"
SOURCE_INFO_OFFLINE = (
    "zoo: trained here on 4 synthetic shapes. Ultralytics' COCO-pretrained yolov8n.pt is not offered: this "
    "server cannot download it"
)


def glossary_markdown() -> str:
    return "\n".join(f"- **{term}**: {meaning}" for term, meaning in GLOSSARY.items())


def _step_image(service: DemoService) -> tuple[gr.Image, gr.HTML]:
    """Step 1: the image, its domain note, and the examples in two captioned groups."""
    gr.Markdown("### 1 · Pick an example or upload", elem_classes="step")
    image = image_input(label="Image", sources=["upload", "clipboard"], height=190, elem_id="input-image")
    domain = gr.HTML(elem_id="domain-note", padding=False, container=False)
    captions = EXAMPLE_CAPTIONS | ({"photo": PHOTO_CAPTION_ONLINE} if service.pretrained_available() else {})
    for group, paths in service.example_groups().items():
        if paths:
            gr.Examples([[p] for p in paths], inputs=[image], label=captions[group], elem_id=f"examples-{group}")
    return image, domain


def _step_variant(service: DemoService) -> tuple[Any, ...]:
    """Step 2: kernel size, insertion point, block, gate design and model source, with what each word means."""
    gr.Markdown("### 2 · Pick k and where LSKA goes", elem_classes="step")
    k = gr.Radio(
        list(KERNEL_SIZES),
        value=23,
        label="Kernel size k",
        info="LSKA's attention reaches k×k pixels of a map, from four 1-D kernels",
    )
    point = gr.Radio(
        choices(POINT_LABELS),
        value="sppf",
        label="Insertion point",
        info="C2f: YOLOv8's main block; SPPF: pooling at the backbone's end; P3–P5: maps at 1/8–1/32 size",
    )
    block = gr.Radio(
        choices(BLOCK_LABELS), value="gate", label="Block kind", info="gate: features × LSKA's map; VAN: with shortcut"
    )
    design = gr.Dropdown(
        choices(DESIGN_LABELS),
        value="lska",
        label="Gate design",
        info="the paper's four designs; the zoo trains LKA and the trivial ones at k=23 SPPF only",
    )
    source = gr.Dropdown(
        service.source_choices(),
        value=ZOO,
        label="Models",
        info=SOURCE_INFO if service.pretrained_available() else SOURCE_INFO_OFFLINE,
    )
    return k, point, block, design, source


def _step_run(service: DemoService) -> tuple[gr.Button, gr.HTML, gr.Slider, gr.Slider]:
    """Step 3: the primary button, whether each side is trained, the detection thresholds and the glossary."""
    gr.Markdown("### 3 · Press Compare", elem_classes="step")
    button = gr.Button("Compare baseline and LSKA", variant="primary", elem_id="compare-btn", size="lg")
    status = gr.HTML(status_html(service.status()), elem_id="pair-status", padding=False, container=False)
    gr.Markdown("The two models' detections appear below, in the Compare tab; the other tabs show why they differ.")
    with gr.Accordion("Detection thresholds", open=False):
        conf = gr.Slider(0.0, 1.0, value=0.25, step=0.01, label="Confidence threshold", info=GLOSSARY["confidence"])
        iou = gr.Slider(0.0, 1.0, value=0.7, step=0.01, label="NMS IoU threshold", info=GLOSSARY["NMS IoU"])
    with gr.Accordion("Glossary: C2f, SPPF, P3–P5, VAN, gate, NMS IoU, ERF, GFLOPs", open=False):
        gr.Markdown(glossary_markdown())
    return button, status, conf, iou


def _controls(service: DemoService, page: gr.Blocks) -> tuple[Controls, gr.HTML, gr.HTML]:
    """The three steps side by side (stacked on a phone), then the diagram; returns the status and domain boxes."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            image, domain = _step_image(service)
        with gr.Column(scale=1, min_width=300):
            k, point, block, design, source = _step_variant(service)
        with gr.Column(scale=1, min_width=300):
            button, status, conf, iou = _step_run(service)
    with gr.Accordion("Where LSKA goes: YOLOv8 with the chosen insertion point", open=True):
        diagram = gr.HTML(service.diagram("sppf"), elem_id="diagram")
    changed = settings_changed([k, point, block, source, design])
    return Controls(k, point, block, source, image, conf, iou, diagram, page, button, design, changed), status, domain


def _wire_status(service: DemoService, controls: Controls, status: gr.HTML) -> None:
    """Trained or not, for both sides, as soon as the choice changes (the manifest only: no model loads)."""

    def show(k: int, point: str, block: str, source: str, design: str) -> str:
        try:
            return status_html(service.status(k, point, block, source, design))
        except ValueError as err:
            return html_error(str(err))

    c = controls
    follow(c, show, [*c.variant, c.source, c.design], [status], queue=False, show_progress="hidden")


def _wire_domain(service: DemoService, controls: Controls, domain: gr.HTML) -> None:
    """The in-place note under the image: shown as soon as an image that is not a benchmark image arrives."""

    def note(image: Any) -> str:
        if image is None:
            return ""
        try:
            return domain_html(service.image_domain(image))
        except ValueError as err:  # a bad upload: said here; Compare reports it again as a pop-up
            return html_error(str(err))

    controls.image.change(note, [controls.image], [domain], api_visibility="private", show_progress="hidden")


def html_error(message: str) -> str:
    return f'<div class="domain-note">{html.escape(message)}</div>'


def build_ui(service_options: ServiceOptions | None = None) -> gr.Blocks:
    """The whole app on one service (one model cache for every visitor)."""
    write_outputs_atomically()  # concurrent visitors with the same picture never download a half-written file
    service = DemoService(service_options)
    with gr.Blocks(title="LSKA Lens", delete_cache=(1800, 3600)) as page:
        gr.Markdown(INTRO, elem_id="intro")
        controls, status, domain = _controls(service, page)
        with gr.Tabs(overflow_behavior="wrap", elem_id="tabs") as tabs:
            for title, tab_id, build in TABS:
                with gr.Tab(title, id=tab_id) as tab:
                    wire_select = build(service, controls)
                if wire_select is not None:  # a tab that fills itself when first opened (the Zoo)
                    wire_select(tab)
        _wire_status(service, controls, status)
        _wire_domain(service, controls, domain)
        controls.compare_button.click(
            lambda: gr.Tabs(selected="compare"), None, tabs, api_visibility="private", queue=False
        )
    pass_values_through(page)  # the app's checks judge raw values (ui.fields)
    explain_input_errors(page)  # inputs Gradio refuses get the app's own message (ui.fields)
    return page
