"""The Compare tab: detections of the baseline and the LSKA variant side by side, and what each costs."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from lska_demo.app.fairness import click_kwargs, guarded
from lska_demo.app.service import CompareResult, DemoService, PairStatus, Readiness, SideResult
from lska_demo.ui.common import (
    PROGRESS,
    Controls,
    banner_html,
    follow,
    friendly,
    reporter,
    stale_on,
    summary_widths,
    table,
)

DETECTION_COLUMNS = ["label", "score", "x1", "y1", "x2", "y2"]


def side_markdown(side: SideResult, imgsz: int, role: str = "") -> str:
    """One side's heading (the model shown in words, else its role, then its name), status, timing, why it is
    empty, and metrics."""
    heading = side.caption or role
    lines = [f"**{heading}** · {side.name}" if heading else f"**{side.name}**", side.status]
    if side.trained and side.inference_ms is not None:
        lines.append(f"{len(side.detections)} detection(s), {side.inference_ms:.0f} ms (forward + NMS) at {imgsz} px.")
    if side.empty_reason:
        lines.append(f"**No detections.** {side.empty_reason}")
    if not side.trained:
        lines.append("**No detections are drawn for an untrained model.**")
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


def _side(side: Readiness, panel_id: str, image_id: str) -> tuple[Any, ...]:
    """One side's status, the drawn image and a table, labelled with the model the choice shows (``side``);
    the panel stays for an untrained side (its status says why it is empty), so both sides keep the same
    layout. Outputs only: no upload prompt, no editable cells."""
    status = gr.Markdown(f"**{side.caption}**", elem_classes="status-box")
    with gr.Column(elem_id=panel_id):
        image = gr.Image(label=side.caption, format="jpeg", elem_id=image_id, height=380, interactive=False)
        detections = gr.Dataframe(
            headers=DETECTION_COLUMNS, label=f"{side.role} detections", max_height=240, interactive=False
        )
    return status, image, detections


def side_labels(status: PairStatus) -> tuple[Any, ...]:
    """The two pictures' and the two tables' labels for a choice: the models it shows (the pointwise control
    for an adapter, the fine-tuned baseline for a full graft)."""
    sides = (status.baseline, status.variant)
    return (
        *(gr.Image(label=side.caption) for side in sides),
        *(gr.Dataframe(label=f"{side.role} detections") for side in sides),
    )


def _wire_banner(service: DemoService, controls: Controls, banner: gr.HTML, labelled: list[Any]) -> None:
    """The mixed-training warning above the results and the sides' labels (``labelled``: both pictures, then
    both tables), following the choice before any button is pressed."""

    def show(k: int, point: str, block: str, source: str, design: str) -> tuple[Any, ...]:
        try:
            status = service.status(k, point, block, source, design)
        except ValueError:  # an invalid choice is reported by the status box and by Compare itself
            return "", *(gr.skip() for _ in labelled)
        return banner_html(status), *side_labels(status)

    c = controls
    inputs = [*c.variant, c.source, c.design]
    follow(c, show, inputs, [banner, *labelled], queue=False, show_progress="hidden")


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
        design: str = "lska",
        progress: gr.Progress = PROGRESS,
    ) -> tuple[Any, ...]:
        result: CompareResult = service.compare(
            image, k, point, block, source, conf, iou, reporter(progress), design=design
        )
        b, v = result.baseline, result.variant
        return (
            b.image,
            v.image,
            side_markdown(b, result.imgsz, "Baseline"),
            side_markdown(v, result.imgsz, "LSKA"),
            detections_table(b),
            detections_table(v),
            result.note,
            result.to_dict(),
        )

    @friendly
    def brief_cost(k: int, point: str, block: str, source: str, design: str) -> Any:
        # the size and classes they run at
        result = service.cost(k, point, block, None, False, source=source, design=design)
        return gr.Dataframe(value=table(result.summary), label=f"Cost {result.label}")

    banner = gr.HTML(elem_id="compare-banner")
    note = gr.Markdown(elem_id="compare-note")  # above the pictures: what to conclude comes first
    first = service.status()  # the page's default choice, until the load event labels the sides again
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            base_md, base_img, base_tab = _side(first.baseline, "baseline-panel", "baseline-out")
        with gr.Column(min_width=300):
            var_md, var_img, var_tab = _side(first.variant, "variant-panel", "variant-out")
    cost_brief = gr.Dataframe(
        headers=["model", "params", "GFLOPs"],
        label="Cost of the two models",
        elem_id="cost-brief",
        interactive=False,
        wrap=True,
        column_widths=summary_widths(3),
    )
    with gr.Accordion("Raw result (JSON)", open=False):
        raw = gr.JSON()

    c = controls
    _wire_banner(service, c, banner, [base_img, var_img, base_tab, var_tab])
    stale_on(
        [*c.choice, c.conf, c.iou],
        [base_img, var_img, base_md, var_md, base_tab, var_tab, raw, cost_brief],
        note,
        "Compare baseline and LSKA",
    )
    c.compare_button.click(
        guarded("compare", run_compare),
        [c.image, *c.variant, c.source, c.conf, c.iou, c.design],
        [base_img, var_img, base_md, var_md, base_tab, var_tab, note, raw],
        api_name="compare",
        scroll_to_output=True,
        **click_kwargs("compare"),
    ).success(
        guarded("cost", brief_cost),
        [*c.variant, c.source, c.design],
        [cost_brief],
        api_visibility="private",
        **click_kwargs("cost"),
    )
