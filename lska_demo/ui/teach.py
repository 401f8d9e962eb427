"""The Teach tab: how 1-D kernels reach a k×k field, what each design costs, and the YAML to use LSKA."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lska_demo.service import DemoService
from lska_demo.ui import export
from lska_demo.ui.common import HEAVY, PROGRESS, Controls, friendly, stale_on, table


def build(service: DemoService, controls: Controls) -> None:
    @friendly
    def run_teach(k: int, progress: gr.Progress = PROGRESS) -> tuple[Any, ...]:
        progress(0.2, desc="drawing kernels")
        result = service.teach(k)
        return (
            result.pipelines_html,
            result.text,
            result.kernels_figure,
            result.rank1_figure,
            result.cost_figure,
            table(result.weights_table),
        )

    button = gr.Button("Explain this k", variant="primary")
    pipelines = gr.HTML()
    text = gr.Markdown()
    kernels = gr.Image(show_label=False, label="Equivalent k×k kernel of each design", format="png")
    rank1 = gr.Image(show_label=False, label="LKA's kernel and its best rank-1 (separable) approximation", format="png")
    cost_k = gr.Image(show_label=False, label="Cost vs k at YOLOv8n's P5 (256 channels, 20×20)", format="png")
    weights = gr.Dataframe(label="Spatial weights per channel")
    stale_on([controls.k], [pipelines, kernels, rank1, cost_k, weights], text, "Explain this k")
    button.click(run_teach, [controls.k], [pipelines, text, kernels, rank1, cost_k, weights], api_name="teach", **HEAVY)
    export.build(service, controls)  # the export box sits under the teaching part, in its own module
