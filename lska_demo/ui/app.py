"""The page: the header, the shared controls and the YOLOv8 diagram, then one tab per question."""

from __future__ import annotations

import gradio as gr

from lska_demo.service import KERNEL_SIZES, ZOO, DemoService, ServiceOptions
from lska_demo.ui import attention, compare, cost, erf, teach, zoo
from lska_demo.ui.common import Controls, image_input
from lska_demo.vocabulary import BLOCK_LABELS, POINT_LABELS, choices

# The tabs in page order; each module's ``build(service, controls)`` lays out and wires its own tab.
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
CSS = """
.status-box {min-height: 3em}
footer {display: none !important}
"""
INTRO = """# LSKA Lens — Large Separable Kernel Attention inside YOLOv8
Lau, Po & Rehman, *Large Separable Kernel Attention*, ESWA 2024. Pick a kernel size and where LSKA goes; compare
detections with the plain YOLOv8n, look at receptive fields and attention, count the cost, and learn how 1-D kernels
reach a k×k field. Zoo models are trained on a procedural shape-vs-texture benchmark (4 classes) with a fair control."""


def _controls(service: DemoService, page: gr.Blocks) -> Controls:
    """The header: the variant and model choices, the diagram, the image and its examples."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            k = gr.Radio(list(KERNEL_SIZES), value=23, label="Kernel size k (receptive field k×k)")
            point = gr.Radio(choices(POINT_LABELS), value="sppf", label="Insertion point")
            block = gr.Radio(choices(BLOCK_LABELS), value="gate", label="Block kind")
            source = gr.Dropdown(service.source_choices(), value=ZOO, label="Models")
            with gr.Row():
                conf = gr.Slider(0.0, 1.0, value=0.25, step=0.01, label="Confidence threshold")
                iou = gr.Slider(0.0, 1.0, value=0.7, step=0.01, label="NMS IoU threshold")
        with gr.Column(scale=3, min_width=420):
            diagram = gr.HTML(service.diagram("sppf"), label="Where LSKA goes")
            with gr.Row(equal_height=False):
                image = image_input(
                    label="Image", sources=["upload", "clipboard"], height=260, elem_id="input-image", scale=1
                )
                with gr.Column(scale=1, min_width=240):
                    examples = [[path] for path in service.examples()]
                    gr.Examples(examples, inputs=[image], label="Examples: benchmark test images, then photos")
    return Controls(k, point, block, source, image, conf, iou, diagram, page)


def build_ui(service_options: ServiceOptions | None = None) -> gr.Blocks:
    """The whole app on one service (one model cache for every visitor)."""
    service = DemoService(service_options)
    with gr.Blocks(title="LSKA Lens", delete_cache=(1800, 3600)) as page:
        gr.Markdown(INTRO)
        controls = _controls(service, page)
        with gr.Tabs():
            for title, tab_id, build in TABS:
                with gr.Tab(title, id=tab_id):
                    build(service, controls)
    return page
