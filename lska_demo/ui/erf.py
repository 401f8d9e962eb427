"""The Receptive field tab: the effective receptive fields of the baseline and the variant at one place."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lska_demo.app.fairness import click_kwargs, guarded
from lska_demo.app.service import ERF_COLUMNS, MAX_ERF_IMAGES, REACH_COLUMNS, REACH_SIZES, DemoService
from lska_demo.ui.common import PROGRESS, Controls, friendly, reporter, stale_on, table

EXPLANATION = (
    "**Effective receptive field** (Ding et al., RepLKNet 2022): how much each input pixel moves the centre "
    "cell of a layer (the gradient), averaged over images; both maps share one colour scale. It uses the files "
    "below if any, else the image uploaded above, else held-out benchmark images."
)


REACH_TITLE = "Where can a larger k widen the field?"
REACH_LEAD = (
    "The field above is measured at one map. A k×k kernel wider than that map reads padding with its outer taps "
    "and cannot reach further. For the insertion point chosen above and the image size you pick: the map the "
    "gate sits on (the gate the field above is measured at), how much of each k's kernel reads padding there, "
    "and the gate's own receptive field on that map (the zoo's trained gate of each k where it has one)."
)
REACH_BUTTON = "Measure every k at this point"


def _reach_panel(service: DemoService, controls: Controls) -> None:
    """The "where can a larger k widen the field?" panel: one table row per paper k, and one plain sentence."""

    @friendly
    def run_reach(
        point: str, block: str, imgsz: int, design: str = "lska", progress: gr.Progress = PROGRESS
    ) -> tuple[Any, ...]:
        result = service.erf_reach(point, block, imgsz, reporter(progress), design=design)
        return result.sentence, table(result.rows)

    with gr.Accordion(REACH_TITLE, open=True, elem_id="erf-reach-panel"):
        gr.Markdown(REACH_LEAD)
        with gr.Row():
            size = gr.Radio(list(REACH_SIZES), value=REACH_SIZES[0], label="Image size (px)", elem_id="erf-reach-size")
            button = gr.Button(REACH_BUTTON, elem_id="erf-reach-button")
        note = gr.Markdown(elem_id="erf-reach-note")
        rows = gr.Dataframe(
            headers=REACH_COLUMNS,
            wrap=True,
            interactive=False,
            elem_id="erf-reach",
            label="Each paper k at this point",
            column_widths=[40, 70, 80, 110, 370],  # px: the numbers fit a phone; the weights scroll sideways
        )
    inputs = [controls.point, controls.block, size, controls.design]
    stale_on(inputs, [rows], note, REACH_BUTTON)
    button.click(guarded("erf", run_reach), inputs, [note, rows], api_name="erf_reach", **click_kwargs("erf"))


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
        upload: Any = None,
        design: str = "lska",
        progress: gr.Progress = PROGRESS,
    ) -> tuple[Any, ...]:
        result = service.erf(
            files or None, k, point, block, source, n, layer, reporter(progress), upload=upload, design=design
        )
        shown = "\n\n".join(part for part in result.note.split("\n\n") if part != result.warning)
        return result.figure, table(result.table), shown, result.warning

    @friendly
    def on_point(k: int, point: str, block: str, design: str = "lska") -> tuple[str, Any]:
        names = service.layer_names(k, point, block, design)
        return service.diagram(point), gr.Dropdown(choices=names, value=names[0])

    gr.Markdown(EXPLANATION)
    with gr.Row():
        files = gr.File(file_count="multiple", file_types=["image"], label=f"Images (optional, up to {MAX_ERF_IMAGES})")
        with gr.Column():
            n = gr.Slider(1, MAX_ERF_IMAGES, value=4, step=1, label="Number of benchmark images (when none is given)")
            layer = gr.Dropdown(
                service.layer_names(),
                value="insertion point",
                label="Layer",
                info="insertion point: where LSKA reads its input; end of backbone: SPPF's output",
            )
            button = gr.Button("Compute receptive fields", variant="primary")
    warning = gr.Markdown(elem_id="erf-warning")
    figure = gr.Image(show_label=False, label="Baseline vs LSKA", format="png", elem_id="erf-figure", interactive=False)
    note = gr.Markdown(elem_id="erf-note")
    ratios = gr.Dataframe(
        headers=ERF_COLUMNS,
        label="Area holding each share of the gradient (larger = wider field)",
        wrap=True,
        interactive=False,
    )
    warning_text = gr.State("")
    _reach_panel(service, controls)

    # The layers on offer depend on the insertion point, so this tab follows it; the header's diagram rides
    # along on the same event (one API call, "diagram", answers both).
    controls.changed.then(
        guarded("diagram", on_point),
        [*controls.variant, controls.design],
        [controls.diagram, layer],
        api_name="diagram",
        trigger_mode="always_last",
        **click_kwargs("diagram"),
    )
    stale_on(controls.choice, [figure, ratios], note, "Compute receptive fields")
    button.click(
        guarded("erf", run_erf),
        [files, *controls.variant, controls.source, n, layer, controls.image, controls.design],
        [figure, ratios, note, warning_text],
        api_name="erf",
        **click_kwargs("erf"),
    ).then(lambda text: text, warning_text, warning, api_visibility="private", queue=False)
