"""The Compare tab: detections of the baseline and the LSKA variant side by side, and what each costs."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from lska_demo.service import CompareResult, DemoService, SideResult
from lska_demo.ui.common import HEAVY, PROGRESS, Controls, friendly, reporter, table

DETECTION_COLUMNS = ["label", "score", "x1", "y1", "x2", "y2"]


def side_markdown(side: SideResult, imgsz: int) -> str:
    lines = [f"**{side.name}**", side.status]
    if side.trained and side.inference_ms is not None:
        lines.append(f"{len(side.detections)} detection(s), {side.inference_ms:.0f} ms (forward + NMS) at {imgsz} px.")
    if side.metrics:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in side.metrics.items() if isinstance(v, float))
        lines.append(f"Zoo test metrics: {shown}.")
    return "\n\n".join(lines)


def detections_table(side: SideResult) -> pd.DataFrame:
    rows = [
        {"label": d["label"], "score": d["score"], **dict(zip(DETECTION_COLUMNS[2:], d["box"], strict=True))}
        for d in side.detections
    ]
    return table(rows, DETECTION_COLUMNS)


def show_panels(raw: dict[str, Any] | None) -> tuple[Any, Any]:
    """No detections panel for an untrained side: its status says why (kept out of the API's outputs)."""
    trained = [bool((raw or {}).get(role, {}).get("trained")) for role in ("baseline", "variant")]
    return gr.Column(visible=trained[0]), gr.Column(visible=trained[1])


def _side(label: str, role: str, panel_id: str, image_id: str) -> tuple[Any, ...]:
    """One side's status, and its panel (hidden for an untrained model) with the drawn image and a table."""
    status = gr.Markdown(f"**{label}**", elem_classes="status-box")
    with gr.Column(elem_id=panel_id) as panel:
        image = gr.Image(label=label, format="jpeg", elem_id=image_id)
        detections = gr.Dataframe(headers=DETECTION_COLUMNS, label=f"{role} detections", max_height=240)
    return status, panel, image, detections


def build(service: DemoService, controls: Controls) -> None:
    @friendly
    def run_compare(
        image: Any,
        k: int,
        point: str,
        block: str,
        source: str,
        conf: float,
        iou: float,
        progress: gr.Progress = PROGRESS,
    ) -> tuple[Any, ...]:
        result: CompareResult = service.compare(image, k, point, block, source, conf, iou, reporter(progress))
        b, v = result.baseline, result.variant
        return (
            b.image,
            v.image,
            side_markdown(b, result.imgsz),
            side_markdown(v, result.imgsz),
            detections_table(b),
            detections_table(v),
            result.note,
            result.to_dict(),
        )

    @friendly
    def brief_cost(k: int, point: str, block: str, source: str) -> Any:
        result = service.cost(k, point, block, None, False, source=source)  # the size and classes they run at
        return gr.Dataframe(value=table(result.summary), label=f"Cost {result.label}")

    button = gr.Button("Compare baseline and LSKA", variant="primary", elem_id="compare-btn")
    with gr.Row(equal_height=False):
        with gr.Column():
            base_md, base_panel, base_img, base_tab = _side(
                "Baseline YOLOv8n", "Baseline", "baseline-panel", "baseline-out"
            )
        with gr.Column():
            var_md, var_panel, var_img, var_tab = _side("YOLOv8n + LSKA", "LSKA", "variant-panel", "variant-out")
    note = gr.Markdown()
    cost_brief = gr.Dataframe(
        headers=["model", "params", "GFLOPs"], label="Cost of the two models", elem_id="cost-brief"
    )
    with gr.Accordion("Raw result (JSON)", open=False):
        raw = gr.JSON()

    c = controls
    button.click(
        run_compare,
        [c.image, *c.variant, c.source, c.conf, c.iou],
        [base_img, var_img, base_md, var_md, base_tab, var_tab, note, raw],
        api_name="compare",
        **HEAVY,
    ).success(show_panels, [raw], [base_panel, var_panel], api_visibility="private", queue=False).success(
        brief_cost, [*c.variant, c.source], [cost_brief], api_visibility="private", **HEAVY
    )
