"""The Zoo tab: the two models being compared, and every model in the manifest with its test metrics."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lska_demo.fairness import click_kwargs, guarded
from lska_demo.service import DemoService
from lska_demo.ui.common import Controls, friendly, table


def build(service: DemoService, controls: Controls) -> None:
    @friendly
    def run_zoo(k: int, point: str, block: str) -> tuple[Any, ...]:
        rows = service.zoo_table()
        note = "" if rows else "The manifest lists no models yet: the zoo is still training, or was never built."
        return table(service.zoo_pair(k, point, block)), table(rows, ["model"]), note

    button = gr.Button("Refresh from the manifest")
    pair = gr.Dataframe(label="The two models being compared (control and LSKA)")
    note = gr.Markdown()
    every = gr.Dataframe(label="Every model in weights/manifest.json", max_height=420)

    button.click(guarded("zoo", run_zoo), controls.variant, [pair, every, note], api_name="zoo", **click_kwargs("zoo"))
    controls.page.load(run_zoo, controls.variant, [pair, every, note], api_visibility="private")
    # The pair follows the choice at once (the manifest is cheap to read), so it is never stale.
    gr.on(
        [x.change for x in controls.variant], run_zoo, controls.variant, [pair, every, note], api_visibility="private"
    )
