"""The Attention tab: LSKA's stage maps in the variant, and a class activation map of each side."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lska_demo.app.fairness import click_kwargs, guarded
from lska_demo.app.service import AttentionResult, DemoService
from lska_demo.model.vocabulary import CAM_METHODS, choices
from lska_demo.ui.common import PROGRESS, Controls, friendly, reporter, stale_on

EXPLANATION = (
    "Uses the image uploaded above (or, without one, the first benchmark image). **Stage maps**: what each "
    "convolution inside the variant's LSKA unit produces. **Class activation maps**: where each network's "
    "features point to its detections."
)


def captions(result: AttentionResult) -> dict[str, str]:
    """The words under each figure: its caption, or why there is no map (kept out of the API's outputs)."""
    return {"warning": result.warning, **result.captions}


def show_captions(words: dict[str, str] | None) -> tuple[Any, ...]:
    """The captions into their Markdown boxes; a CAM with no map is hidden, its reason stays."""
    words = words or {}
    return (
        words.get("warning", ""),
        words.get("stages", ""),
        words.get("baseline", ""),
        words.get("variant", ""),
        _cam_image(words, "baseline", "Baseline CAM"),
        _cam_image(words, "variant", "LSKA CAM"),
    )


def _cam_image(words: dict[str, str], role: str, default_label: str) -> Any:
    """A side's CAM picture, named by its role ("Control CAM"); hidden when it has no map."""
    shown = not words.get(role, "").startswith("No map")
    return gr.Image(visible=shown, label=words.get(f"{role}_label", default_label))


def build(service: DemoService, controls: Controls) -> None:
    @friendly
    def run_attention(
        image: Any,
        k: int,
        point: str,
        block: str,
        source: str,
        method: str,
        design: str = "lska",
        progress: gr.Progress = PROGRESS,
    ) -> tuple[Any, ...]:
        result = service.attention(image, k, point, block, source, method, reporter(progress), design=design)
        note = "\n\n".join(part for part in result.note.split("\n\n") if part != result.warning)
        return result.stages, result.baseline_cam, result.variant_cam, note, captions(result)

    gr.Markdown(EXPLANATION)
    with gr.Row():
        method = gr.Radio(choices(CAM_METHODS), value="eigen", label="CAM method")
        button = gr.Button("Show attention", variant="primary")
    warning = gr.Markdown()
    stages = gr.Image(
        show_label=False,
        label="LSKA stages in the variant (input, each conv, attention)",
        format="png",
        interactive=False,
    )
    stage_caption = gr.Markdown(elem_id="attention-stage-caption")
    with gr.Row():
        with gr.Column():
            base_cam = gr.Image(label="Baseline CAM", format="jpeg", interactive=False)
            base_caption = gr.Markdown()
        with gr.Column():
            var_cam = gr.Image(label="LSKA CAM", format="jpeg", interactive=False)
            var_caption = gr.Markdown()
    note = gr.Markdown()
    words = gr.State({})

    stale_on(controls.choice, [stages, base_cam, var_cam], note, "Show attention")
    button.click(
        guarded("attention", run_attention),
        [controls.image, *controls.variant, controls.source, method, controls.design],
        [stages, base_cam, var_cam, note, words],
        api_name="attention",
        **click_kwargs("attention"),
    ).then(
        show_captions,
        words,
        [warning, stage_caption, base_caption, var_caption, base_cam, var_cam],
        api_visibility="private",
        queue=False,
    )
