"""The Cost tab: parameters, GFLOPs and (on request) latency of YOLOv8n and the variant, per layer."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lska_demo.app.fairness import click_kwargs, guarded
from lska_demo.app.service import DemoService
from lska_demo.ui.common import PROGRESS, Controls, friendly, reporter, stale_on, summary_widths, table

# 0: the size the chosen models run at (the zoo: 256 px; yolov8n.pt: 640 px).
INPUT_SIZES: list[tuple[str, int]] = [("models' size", 0)] + [
    (f"{size} px", size) for size in (256, 320, 480, 640, 960, 1280)
]


def measures_latency(k: Any, point: Any, block: Any, imgsz: Any, latency: Any, *rest: Any) -> bool:
    """Whether a cost call is heavy work: only when it times forward passes (exactly True; the service
    refuses anything else)."""
    return latency is True


def build(service: DemoService, controls: Controls) -> None:
    @friendly
    def run_cost(
        k: int,
        point: str,
        block: str,
        imgsz: int,
        latency: bool,
        source: str | None = None,
        design: str = "lska",
        progress: gr.Progress = PROGRESS,
    ) -> tuple[Any, ...]:
        chosen = source or service.sources[0]
        result = service.cost(k, point, block, imgsz, latency, reporter(progress), source=chosen, design=design)
        return table(result.summary), table(result.layers), table(result.lska), result.note, result.label

    gr.Markdown(
        "Counts for the models chosen above, with their classes, at the size they run at (or the size you pick). "
        "On a narrow screen, wide tables scroll sideways inside their frame."
    )
    with gr.Row():
        imgsz = gr.Dropdown(INPUT_SIZES, value=0, label="Input size")
        latency = gr.Checkbox(value=False, label="Measure latency (about 10 s)")
        button = gr.Button("Count", variant="primary")
    summary = gr.Dataframe(
        label="Parameters, GFLOPs, latency",
        elem_id="cost-summary",
        wrap=True,
        interactive=False,
        column_widths=summary_widths(3),
    )
    note = gr.Markdown()
    lska = gr.Dataframe(label="Each LSKA unit", elem_id="cost-lska", wrap=True, interactive=False)
    with gr.Accordion("Per-layer cost of the variant beside the model it is compared with (Δ = change)", open=False):
        layers = gr.Dataframe(
            label="Per-layer cost", max_height=360, elem_id="cost-layers", wrap=True, interactive=False
        )

    stale_on([*controls.variant, controls.design, controls.source], [summary, layers, lska], note, "Count")
    label = gr.State("")  # what the numbers are of: kept out of the API's outputs, shown as the table's label
    button.click(
        guarded("cost", run_cost, heavy_if=measures_latency),
        [*controls.variant, imgsz, latency, controls.source, controls.design],
        [summary, layers, lska, note, label],
        api_name="cost",
        **click_kwargs("cost"),
    ).then(  # the label, and widths for the columns shown (latency adds two), outside the API's outputs
        lambda text, timed: gr.Dataframe(
            label=f"Parameters, GFLOPs, latency {text}", column_widths=summary_widths(5 if timed is True else 3)
        ),
        [label, latency],
        summary,
        api_visibility="private",
        queue=False,
    )
