"""The Zoo tab: how the zoo's models were trained, what each one is compared with, and the verdicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr
import pandas as pd

from lska_demo.app.fairness import click_kwargs, guarded
from lska_demo.app.service import DemoService
from lska_demo.ui.common import Controls, follow, friendly, table

REGIMES = """\
**How the zoo's models were trained, and what each is compared with** (every comparison is within one regime,
same recipe, paired by seed):

- **Fine-tune graft** (the headline experiment): the gate is inserted into the trained baseline as the identity,
  then the *whole* network is fine-tuned. Its control is the baseline fine-tuned the same way without a gate
  (`yolov8n-s0`, seeds 0–2).
- **Adapter**: only the inserted gates are trained, on the *frozen* control `yolov8n-s0` (every other weight stays
  bit for bit). Its control is the **pointwise gate** (a 1×1 gate with no spatial kernel) at the same point,
  trained the same way, so a difference is the large kernel's and not the extra gating. The page shows an adapter
  wherever the zoo has no fine-tune graft of that choice, and the four gate designs (LKA, LSKA and their trivial
  forms) at k=23, SPPF.
- **Scratch**: trained from random weights with the baseline's scratch recipe; its control is the baseline trained
  from scratch.

**Shipped** means the weights are in `weights/` (safetensors, sha256 in the manifest) and the page can load them;
the other models left only their metrics. **Verdict**: a paired t-test on the per-seed differences from three seeds
on; with one or two seeds it says only what was seen. Δ is mAP50-95 on the held-out test split.
"""

VERDICT_COLUMNS = ["model", "regime", "seeds", "mAP50-95", "control", "Δ", "95 % interval", "p", "verdict"]
# Pixel widths that add up to what a 1366 px laptop gives the table, so every column shows there; long text wraps
# inside its cell instead of being cut, and a phone scrolls the table sideways inside its frame.
VERDICT_WIDTHS = [180, 95, 85, 85, 180, 75, 150, 75, 260]


def verdict_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The verdict rows as the tab shows them: numbers rounded, intervals and seeds as text."""

    def shown(r: dict[str, Any]) -> dict[str, Any]:
        ci = r["delta_ci95"]
        return {
            "model": r["model"],
            "regime": r["regime"] + ("" if r["shipped"] else " (metrics only)"),
            "seeds": ", ".join(map(str, r["seeds"])),
            "mAP50-95": round(r["mAP50-95"], 4),
            "control": r["control"],
            "Δ": None if r["delta_vs_control"] is None else round(r["delta_vs_control"], 4),
            "95 % interval": None if ci is None else f"[{ci[0]:+.4f}, {ci[1]:+.4f}]",
            "p": None if r["delta_p"] is None else float(f"{r['delta_p']:.2g}"),
            "verdict": r["verdict"],
        }

    return table([shown(r) for r in rows], VERDICT_COLUMNS)


def build(service: DemoService, controls: Controls) -> Callable[[gr.Tab], None]:
    """The tab's layout and events; returns what wires the tab's own ``select`` (``ui.app`` calls it with the
    tab once it is built)."""

    @friendly
    def run_zoo(k: int, point: str, block: str, design: str = "lska") -> tuple[Any, ...]:
        rows = service.zoo_table()
        note = "" if rows else "The manifest lists no models yet: the zoo is still training, or was never built."
        return table(service.zoo_pair(k, point, block, design)), table(rows, ["model"]), note

    @friendly
    def run_verdicts() -> tuple[Any, Any]:
        verdicts = service.zoo_verdicts()
        return verdict_table(verdicts.rows), verdicts.figure

    @friendly
    def first_verdicts(shown: bool) -> tuple[Any, Any, bool]:
        """The verdicts and their chart the first time the tab is opened; later openings keep what is shown."""
        if shown:
            return gr.skip(), gr.skip(), True
        return (*run_verdicts(), True)

    gr.Markdown(REGIMES)
    button = gr.Button("Refresh from the manifest, with the verdicts and their chart")
    pair = gr.Dataframe(
        label="The two models being compared: the chosen variant and the control of its regime", interactive=False
    )
    note = gr.Markdown()
    verdicts = gr.Dataframe(
        headers=VERDICT_COLUMNS,
        label="Verdicts: Δ mAP50-95 to the control of the same regime, paired by seed",
        max_height=420,
        wrap=True,
        column_widths=VERDICT_WIDTHS,
        interactive=False,
        elem_id="zoo-verdicts",
    )
    chart = gr.Image(
        label="Δ mAP50-95 and its 95 % interval per variant",
        format="png",
        show_label=True,
        interactive=False,
        elem_id="zoo-chart",
    )
    with gr.Accordion("Every model in weights/manifest.json", open=False):
        every = gr.Dataframe(label="Every model in weights/manifest.json", max_height=420, interactive=False)
    shown = gr.State(False)  # whether this visitor's verdicts were filled (the first opening of the tab)

    inputs = [*controls.variant, controls.design]
    # The verdicts' statistics import SciPy, seconds of CPU no page load should pay: they are filled when the
    # tab is first opened (``fill_when_selected``), and again on the button.
    button.click(guarded("zoo", run_zoo), inputs, [pair, every, note], api_name="zoo", **click_kwargs("zoo")).then(
        run_verdicts, None, [verdicts, chart], api_visibility="private", **click_kwargs("zoo")
    )
    # The pair follows the choice at once (the manifest is cheap to read), so it is never stale.
    follow(controls, run_zoo, inputs, [pair, every, note])

    def fill_when_selected(tab: gr.Tab) -> None:
        outputs = [verdicts, chart, shown]
        tab.select(guarded("zoo", first_verdicts), shown, outputs, api_visibility="private", **click_kwargs("zoo"))

    return fill_when_selected
