"""The Teach tab: how 1-D kernels reach a k×k field, what each design costs, and the YAML to use LSKA.

Every view follows the page's k (and the trained kernels its insertion point and block kind) and is drawn
when the page opens; the learner changes one thing (a step, a pattern, a gate) and watches the consequence.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from lska_demo.app.fairness import click_kwargs, guarded
from lska_demo.app.service import DemoService, TeachView
from lska_demo.ui import export
from lska_demo.ui.common import Controls, follow, friendly, table

# The private views' own pool: redrawn on every k or point change, even while another tab is open, they must
# never queue ahead of a model event (Compare) in the shared pool; two workers for the two cores.
VIEWS: dict[str, Any] = {"concurrency_id": "teach-views", "concurrency_limit": 2}
PLAY_PAUSE_S = 0.9  # between steps of Play: long enough to read a panel's title
LEAD = (
    "Change **k** at the top of the page and every view below follows. Each figure has one sentence under it "
    "saying what to notice."
)
CASCADE_LEAD = (
    "### 1. Step through the cascade\nOne bright pixel (or a small pattern) goes through each design's depthwise "
    "convs, one conv per step. The dashed box is the reach so far; the titles count the weights paid so far. "
    "Every tap here is a box average, so the picture shows *where* each design reads, not learned values; "
    "brighter cells are reached along more paths (where neighbouring small kernels overlap), not read more."
)
DILATION_LEAD = "### 2. What dilation reads"
TRAINED_LEAD = (
    "### 3. Trained kernels\nThe equivalent k×k kernels the zoo's trained gate learned for the chosen k, insertion "
    "point and block kind (its most energetic channels), each beside its best rank-1 (separable) view. Signed "
    "scale: red positive, blue negative."
)
PLAYGROUND_LEAD = (
    "### 4. Kernel playground\nPick a pattern: each design's equivalent kernel filters it (top), and the same "
    "shape, used as a kernel, shows what one separable kernel cannot draw and what LSKA's 1×1 mixing of a few "
    "channels recovers (bottom)."
)
ERF_LEAD = (
    "### 5. Receptive field, explained\nThe effective receptive field (ERF) is measured as RepLKNet (Ding et al., "
    "CVPR 2022) does: the gradient of the centre output with respect to every input pixel, shown as "
    "log10(gradient + 1) scaled to its maximum; its area ratio is the smallest centred square holding a given "
    "share of that gradient. Here each module is measured alone; the **Receptive field** tab measures it "
    "inside the zoo's detectors, at the layer you choose. LKA's and LSKA's maps are lattices because pixels "
    "between the dilated taps are reached along more paths; the trivial designs weigh every pixel alike, so the "
    "same reach gives them a slightly larger ratio."
)
COST_LEAD = "### 6. Cost growth"


def _figure(label: str, name: str) -> tuple[gr.Image, gr.Markdown]:
    """A figure (scaled to the column's width, never wider) and the one sentence under it; ids
    ``teach-<name>`` and ``teach-<name>-caption``."""
    image = gr.Image(
        show_label=False,
        label=label,
        format="png",
        interactive=False,
        buttons=[],
        elem_id=f"teach-{name}",
        elem_classes="teach-figure",
    )
    return image, gr.Markdown(elem_id=f"teach-{name}-caption", elem_classes="teach-caption")


def _shown(view: TeachView) -> tuple[Any, str]:
    return view.figure, view.caption


def _intro(service: DemoService, controls: Controls) -> None:
    """The pipelines, the worked text, the weights table, dilation, ERF and cost: the ``teach`` API (k alone)."""

    @friendly
    def run_teach(k: int) -> tuple[Any, ...]:
        result = service.teach(k)
        return (
            result.pipelines_html,
            result.text,
            table(result.weights_table),
            *_shown(result.dilation),
            *_shown(result.erf),
            *_shown(result.cost),
        )

    gr.Markdown(LEAD)
    pipelines = gr.HTML()
    _cascade(service, controls)
    text = gr.Markdown()
    weights = gr.Dataframe(label="Spatial weights per channel (◀ your k)", interactive=False)
    gr.Markdown(DILATION_LEAD)
    dilation = _figure("Which pixels the dilated kernel reads", "dilation")
    _trained(service, controls)
    _playground(service, controls)
    gr.Markdown(ERF_LEAD)
    erf = _figure("ERF of the four designs, and the area ratio against k", "erf")
    gr.Markdown(COST_LEAD)
    cost = _figure("Weights and GFLOPs against k", "cost")
    outputs = [pipelines, text, weights, *dilation, *erf, *cost]
    controls.changed.then(
        guarded("teach", run_teach),
        [controls.k],
        outputs,
        api_name="teach",
        trigger_mode="always_last",
        **click_kwargs("teach"),
    )
    controls.page.load(run_teach, [controls.k], outputs, api_visibility="private", **VIEWS)


def _cascade(service: DemoService, controls: Controls) -> None:
    """The step-through: what goes in, a step slider and Play, the four designs side by side."""
    choices = service.teach_choices()
    last = choices["steps"]

    @friendly
    def run_step(k: int, source: str, step: int) -> tuple[Any, str]:
        return _shown(service.teach_cascade(k, source, step))

    def run_play() -> Iterator[int]:
        for step in range(last + 1):
            yield step
            if step < last:
                time.sleep(PLAY_PAUSE_S)

    gr.Markdown(CASCADE_LEAD)
    source = gr.Radio(choices["inputs"], value=choices["inputs"][0], label="What goes in")
    with gr.Row(equal_height=True):
        step = gr.Slider(0, last, value=0, step=1, label="Step: depthwise convs applied", scale=4, elem_id="teach-step")
        play = gr.Button("▶ Play", scale=1, min_width=90, elem_id="teach-play")
    figure = _figure("The four designs after this step", "cascade")
    follow(
        controls,
        run_step,
        [controls.k, source, step],
        list(figure),
        also=[source.change, step.change],
        show_progress="minimal",
        **VIEWS,
    )
    play.click(run_play, None, [step], api_visibility="private", show_progress="hidden")


def _trained(service: DemoService, controls: Controls) -> None:
    """The zoo's trained gate of this variant: a gate picker where the point has several."""

    @friendly
    def run_variant(k: int, point: str, block: str) -> tuple[Any, ...]:
        gates = service.teach_gates(k, point, block)
        first = gates[0][1]
        view = service.teach_trained(k, point, block, first)
        picker = gr.Dropdown(choices=gates, value=first, visible=len(gates) > 1)
        return view.figure, view.caption, picker

    @friendly
    def run_gate(k: int, point: str, block: str, gate: str) -> tuple[Any, str]:
        return _shown(service.teach_trained(k, point, block, gate))

    gr.Markdown(TRAINED_LEAD)
    gate = gr.Dropdown([], label="Gate (this insertion point has several)", visible=False)
    figure = _figure("Trained equivalent kernels and their rank-1 views", "trained")
    follow(controls, run_variant, controls.variant, [*figure, gate], **VIEWS)
    gate.input(run_gate, [*controls.variant, gate], list(figure), api_visibility="private", **VIEWS)


def _playground(service: DemoService, controls: Controls) -> None:
    """A pattern filtered by each design, and the rank view of the same shape as a kernel."""
    patterns = service.teach_choices()["patterns"]

    @friendly
    def run_playground(k: int, name: str) -> tuple[Any, ...]:
        filtered, ranks = service.teach_playground(k, name)
        return (*_shown(filtered), *_shown(ranks))

    gr.Markdown(PLAYGROUND_LEAD)
    shape = gr.Radio(patterns, value="ring", label="Pattern")
    filtered = _figure("The pattern filtered by each design", "playground")
    ranks = _figure("What separable kernels can draw", "ranks")
    follow(
        controls,
        run_playground,
        [controls.k, shape],
        [*filtered, *ranks],
        also=[shape.change],
        **VIEWS,
    )


def build(service: DemoService, controls: Controls) -> None:
    _intro(service, controls)
    export.build(service, controls)  # the export box sits under the teaching part, in its own module
