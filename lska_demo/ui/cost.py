"""The Cost tab: parameters, GFLOPs and (on request) latency of YOLOv8n and the variant, per layer."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lska_demo.service import DemoService
from lska_demo.ui.common import HEAVY, PROGRESS, Controls, friendly, reporter, table

INPUT_SIZES = [256, 320, 480, 640, 960, 1280]


def build(service: DemoService, controls: Controls) -> None:
    @friendly
    def run_cost(
        k: int, point: str, block: str, imgsz: int, latency: bool, progress: gr.Progress = PROGRESS
    ) -> tuple[Any, ...]:
        result = service.cost(k, point, block, imgsz, latency, reporter(progress))
        return table(result.summary), table(result.layers), table(result.lska), result.note

    with gr.Row():
        imgsz = gr.Dropdown(INPUT_SIZES, value=640, label="Input size")
        latency = gr.Checkbox(value=False, label="Measure latency (about 10 s)")
        button = gr.Button("Count", variant="primary")
    summary = gr.Dataframe(label="Parameters, GFLOPs, latency", elem_id="cost-summary")
    note = gr.Markdown()
    lska = gr.Dataframe(label="Each LSKA unit")
    layers = gr.Dataframe(label="Per-layer delta", max_height=360)

    button.click(run_cost, [*controls.variant, imgsz, latency], [summary, layers, lska, note], api_name="cost", **HEAVY)
