"""The receptive-field tab: the baseline's and the variant's effective receptive fields at one layer."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lska_demo.app import notes
from lska_demo.app.common import ImageInput, Progress, benchmark_images, report
from lska_demo.app.inputs import VariantChoice, check_choice, check_count, check_images, check_reach_size
from lska_demo.app.sources import ModelSources
from lska_demo.benchmark.images import load_image
from lska_demo.model.kernels import PAPER_KERNEL_SIZES
from lska_demo.present.explain import ERF_RATIO_COLUMNS

ERF_COLUMNS = list(ERF_RATIO_COLUMNS.values())  # the area table's headers, before anything is computed


@dataclass
class ErfResult:
    figure: np.ndarray
    ratios: list[dict[str, Any]]
    layer: str
    layers: dict[str, tuple[int, int]]  # name -> (baseline index, variant index)
    n_images: int
    imgsz: int
    note: str
    warning: str = ""  # non-empty when a side is untrained: show it first, where it cannot be missed
    caption: str = ""  # what the figure shows and what to conclude, one line
    table: list[dict[str, Any]] = field(default_factory=list)  # the ratios with readable columns
    titles: tuple[str, ...] = ()  # the figure's two panel titles: each side's role and model


@dataclass
class ReachResult:
    """Where a larger k can widen the field: for one insertion point and image size, the map side at the gate
    the ERF tab measures, and per k the share of the kernel's taps that read padding and the gate's own ERF."""

    point: str
    imgsz: int
    side: int
    rows: list[dict[str, Any]]  # one per k, with readable columns
    sentence: str  # where a larger k can and cannot change the measured field, in one plain sentence


class ErfService:
    """Answers the receptive-field tab (the engine is imported on first use: it is not needed to start)."""

    def __init__(self, models: ModelSources) -> None:
        self.models = models

    @staticmethod
    def layer_names(choice: VariantChoice) -> list[str]:
        """The layers the receptive field can be computed at, for this variant."""
        from lska_demo.analysis.erf import erf_layers

        return list(erf_layers(choice.spec()))

    def run(
        self,
        choice: VariantChoice,
        source: str,
        images: list[ImageInput] | None,
        n: Any,
        layer_name: str,
        upload: ImageInput | None,
        progress: Progress | None,
    ) -> ErfResult:
        """Effective receptive fields of the baseline and the variant at the same layer, on one colour scale.

        The images: ``images`` (files) if any, else ``upload`` (the page's image) if given, else ``n``
        benchmark images; the note says which. ``warning`` is set when a side is untrained.
        """
        from lska_demo.analysis.erf import compare_erf, erf_layers
        from lska_demo.present import explain, plots

        spec = choice.spec()
        n, images = check_count(n), check_images(images)
        layers = erf_layers(spec)
        layer_name = check_choice("layer", layer_name, list(layers))
        if images:
            pictures = [load_image(i) for i in images[:n]]
        else:
            pictures = [load_image(upload)] if upload is not None else benchmark_images(n)
        base, variant = self.models.pair(source, spec)
        names = {"baseline": base.name, "variant": variant.name}

        def step(role: str, done: int, total: int) -> None:
            start = 0 if role == "baseline" else 1
            report(progress, (start + done / max(total, 1)) / 2, f"ERF of {names[role]}: image {done}/{total}")

        with base.use() as b, variant.use() as v:  # always baseline first: one lock order, no deadlock
            comparison = compare_erf(b, v, spec, layer_name, pictures, base.imgsz, progress=step)
        index, rows = comparison.layers, comparison.ratio_rows()
        roles = [side.role for side in self.models.readiness(source, spec)]  # "Control" for a pointwise gate
        titles = (
            f"{roles[0].lower()} {base.name} · layer {index.baseline}",
            f"{roles[1]} k={spec.k} at {spec.point} · layer {index.variant}",
        )
        figure = plots.erf_pair(comparison.baseline, comparison.variant, titles)
        warning = notes.untrained_warning(base, variant, "receptive field", (roles[0], roles[1]))
        caption = explain.erf_caption(rows, (f"the {roles[0].lower()}", roles[1]))
        details = notes.erf_details(
            len(images[:n]) if images else 0, upload is not None, len(pictures), base.imgsz, layer_name
        )
        if base.trained and variant.trained and explain.ratios_alike(rows):
            details.append(explain.why_alike(spec, index.variant, base.imgsz))
        note = notes.joined(warning, caption, *details)
        pairs = {name: tuple(pair) for name, pair in layers.items()}
        table = explain.ratio_table(rows, (roles[0].lower(), roles[1]))
        return ErfResult(
            figure, rows, layer_name, pairs, len(pictures), base.imgsz, note, warning, caption, table, titles
        )

    def reach(self, choice: VariantChoice, imgsz: Any, progress: Progress | None) -> ReachResult:
        """For the chosen point, block and design: each paper k's gate (the zoo's trained one where it has one,
        else random, and the table says which) at the layer this tab measures as 'insertion point', its map
        side at ``imgsz`` (256 or 640), the share of its taps reading padding, and its own ERF area at t=0.5."""
        from lska_demo.analysis.erf import erf_layers
        from lska_demo.analysis.reach import gate_map_sides, padding_share, reach_vs_k
        from lska_demo.model.describe import layer_labels

        imgsz = check_reach_size(imgsz)
        spec = choice.spec()
        layer = erf_layers(spec)["insertion point"].variant
        gates, weights, side = {}, {}, 0
        for i, k in enumerate(PAPER_KERNEL_SIZES):
            report(progress, i / len(PAPER_KERNEL_SIZES), f"loading the zoo's k={k} model at '{spec.point}'")
            loaded = self.models.zoo_model(replace(spec, k=k))
            name, gate = _gate_at(loaded.model, layer)
            side = side or gate_map_sides(loaded.model, imgsz)[name]  # the map does not depend on k
            gates[k] = gate
            weights[k] = f"trained: {loaded.name}" if loaded.trained else "random: the zoo has no model of it"
        report(progress, 0.9, f"the gates' own receptive fields on a {side}×{side} map")
        measured = reach_vs_k(gates, side)
        rows = [_reach_row(row.k, side, padding_share(row.k, side), row.ratio, weights[row.k]) for row in measured]
        where = layer_labels(spec)[layer].rpartition("(")[2].rstrip(")")  # "9 LSKA gate (backbone P5)": "backbone P5"
        sentence = notes.reach_sentence(spec.point, imgsz, side, where, [row.k for row in measured])
        return ReachResult(spec.point, imgsz, side, rows, sentence)


REACH_COLUMNS = ["k", "map at the gate", "taps on padding", "gate's ERF, % of map (t = 0.5)", "gate weights"]


def _reach_row(k: int, side: int, padding: float, ratio: float | None, weights: str) -> dict[str, Any]:
    """One k of the reach table, in readable columns (``REACH_COLUMNS``)."""
    shown = "no square holds it" if ratio is None else f"{100 * ratio:.1f} %"
    values = [k, f"{side}×{side}", f"{100 * padding:.0f} %", shown, weights]
    return dict(zip(REACH_COLUMNS, values, strict=True))


def _gate_at(model: Any, layer: int) -> tuple[str, Any]:
    """The first large-kernel gate inside ``model.model[layer]`` (the row itself, or in its bottlenecks)."""
    from lska_demo.model.yolo import lska_layers

    own = f"model.{layer}"
    return next((name, gate) for name, gate in lska_layers(model) if name == own or name.startswith(own + "."))
