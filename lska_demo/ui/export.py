"""The export box: the model YAML of the chosen variant, how to train it, its transfer check, and ONNX."""

from __future__ import annotations

import gradio as gr

from lska_demo.app.fairness import click_kwargs, guarded
from lska_demo.app.service import DemoService
from lska_demo.model.vocabulary import SCALE_LABELS
from lska_demo.ui.common import PROGRESS, Controls, friendly, reporter, stale_on


def build(service: DemoService, controls: Controls) -> None:
    """The YAML, the snippet and the transfer check (``export`` then ``transfer``), and the checked ONNX
    download of the variant (``onnx``, heavy: Ultralytics' exporter and a parity run in ONNX Runtime)."""

    @friendly
    def run_export(k: int, point: str, block: str, scale: str, nc: int, design: str = "lska") -> tuple[str, str]:
        return service.export(k, point, block, scale, nc, design)

    @friendly
    def run_transfer(k: int, point: str, block: str, scale: str, nc: int, design: str = "lska") -> str:
        return service.transfer_check(k, point, block, scale, nc, design)

    @friendly
    def run_onnx(
        k: int, point: str, block: str, design: str = "lska", progress: gr.Progress = PROGRESS
    ) -> tuple[str, str]:
        result = service.export_onnx(k, point, block, reporter(progress), design=design)
        return str(result.path), result.note()

    gr.Markdown("### Use it: the model YAML, how to train it, and ONNX")
    with gr.Row():
        scale = gr.Dropdown(list(SCALE_LABELS), value="n", label="YOLOv8 scale")
        nc = gr.Number(value=80, precision=0, minimum=1, maximum=10000, label="Classes")
        button = gr.Button("Export")
        onnx_button = gr.Button("Export ONNX")
    with gr.Row():
        yaml_box = gr.Code(language="yaml", label="Model YAML", interactive=False, elem_id="export-yaml")
        transfer_box = gr.Markdown(label="Transfer check", elem_classes="status-box", elem_id="export-transfer")
    snippet_box = gr.Code(language="python", label="Train it", interactive=False, elem_id="export-snippet")
    with gr.Row():
        onnx_file = gr.File(label="ONNX model (zoo weights of this variant when trained)", interactive=False)
        onnx_note = gr.Markdown(elem_classes="status-box", elem_id="export-onnx-note")
    inputs = [*controls.variant, scale, nc, controls.design]
    # Like every other panel: a result made for other settings is cleared, and its note says so. The transfer
    # check is rewritten by every Export, the ONNX note by every Export ONNX (``stale_on``'s notes).
    stale_on(inputs, [yaml_box, snippet_box], transfer_box, "Export")
    stale_on([*controls.variant, controls.design], [onnx_file], onnx_note, "Export ONNX")
    button.click(
        guarded("export", run_export), inputs, [yaml_box, snippet_box], api_name="export", **click_kwargs("export")
    ).then(guarded("transfer", run_transfer), inputs, [transfer_box], api_name="transfer", **click_kwargs("transfer"))
    onnx_button.click(
        guarded("onnx", run_onnx),
        [*controls.variant, controls.design],
        [onnx_file, onnx_note],
        api_name="onnx",
        **click_kwargs("onnx"),
    )
