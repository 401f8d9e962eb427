"""The Attention tab: LSKA's stage maps in the variant, and a class activation map of each side."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lska_demo.service import DemoService
from lska_demo.ui.common import HEAVY, PROGRESS, Controls, friendly, reporter
from lska_demo.vocabulary import CAM_METHODS, choices


def build(service: DemoService, controls: Controls) -> None:
    @friendly
    def run_attention(
        image: Any, k: int, point: str, block: str, source: str, method: str, progress: gr.Progress = PROGRESS
    ) -> tuple[Any, ...]:
        result = service.attention(image, k, point, block, source, method, reporter(progress))
        return result.stages, result.baseline_cam, result.variant_cam, result.note

    with gr.Row():
        method = gr.Radio(choices(CAM_METHODS), value="eigen", label="CAM method")
        button = gr.Button("Show attention", variant="primary")
    stages = gr.Image(show_label=False, label="LSKA stages in the variant (input, each conv, attention)", format="png")
    with gr.Row():
        base_cam = gr.Image(label="Baseline CAM", format="jpeg")
        var_cam = gr.Image(label="LSKA CAM", format="jpeg")
    note = gr.Markdown()

    button.click(
        run_attention,
        [controls.image, *controls.variant, controls.source, method],
        [stages, base_cam, var_cam, note],
        api_name="attention",
        **HEAVY,
    )
