"""The Receptive field tab: the effective receptive fields of the baseline and the variant at one place."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lska_demo.service import MAX_ERF_IMAGES, DemoService, rounded
from lska_demo.ui.common import HEAVY, PROGRESS, Controls, friendly, reporter, table

EXPLANATION = (
    "Effective receptive field (Ding et al., RepLKNet 2022): the gradient of the centre activation of a layer "
    "with respect to the input, averaged over images. Both maps share one colour scale. Leave the files empty "
    "to use held-out benchmark images."
)


def build(service: DemoService, controls: Controls) -> None:
    @friendly
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
        result = service.erf(files or None, k, point, block, source, n, layer, reporter(progress))
        return result.figure, table(rounded(result.ratios)), result.note

    @friendly
    def on_point(k: int, point: str, block: str) -> tuple[str, Any]:
        names = service.layer_names(k, point, block)
        return service.diagram(point), gr.Dropdown(choices=names, value=names[0])

    gr.Markdown(EXPLANATION)
    with gr.Row():
        files = gr.File(file_count="multiple", file_types=["image"], label=f"Images (optional, up to {MAX_ERF_IMAGES})")
        with gr.Column():
            n = gr.Slider(1, MAX_ERF_IMAGES, value=4, step=1, label="Number of images")
            layer = gr.Dropdown(service.layer_names(), value="insertion point", label="Layer")
            button = gr.Button("Compute receptive fields", variant="primary")
    figure = gr.Image(show_label=False, label="Baseline vs LSKA", format="png")
    ratios = gr.Dataframe(label="Area ratios (larger = wider field)")
    note = gr.Markdown()

    # The layers on offer depend on the insertion point, so this tab follows it; the header's diagram rides
    # along on the same event (one API call, "diagram", answers both).
    controls.point.change(on_point, controls.variant, [controls.diagram, layer], api_name="diagram")
    button.click(
        run_erf,
        [files, *controls.variant, controls.source, n, layer],
        [figure, ratios, note],
        api_name="erf",
        **HEAVY,
    )
