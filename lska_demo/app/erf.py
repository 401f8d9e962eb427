"""The receptive-field tab: the baseline's and the variant's effective receptive fields at one layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lska_demo.app import notes
from lska_demo.app.common import ImageInput, Progress, benchmark_images, report
from lska_demo.app.inputs import VariantChoice, check_choice, check_count, check_images
from lska_demo.app.sources import ModelSources
from lska_demo.benchmark.images import load_image


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
        titles = (
            f"baseline {base.name} · layer {index.baseline}",
            f"LSKA k={spec.k} at {spec.point} · layer {index.variant}",
        )
        figure = plots.erf_pair(comparison.baseline, comparison.variant, titles)
        warning = notes.untrained_warning(base, variant, "receptive field")
        caption = explain.erf_caption(rows)
        details = notes.erf_details(
            len(images[:n]) if images else 0, upload is not None, len(pictures), base.imgsz, layer_name
        )
        if base.trained and variant.trained and explain.ratios_alike(rows):
            details.append(explain.why_alike(spec, index.variant, base.imgsz))
        note = notes.joined(warning, caption, *details)
        pairs = {name: tuple(pair) for name, pair in layers.items()}
        table = explain.ratio_table(rows)
        return ErfResult(figure, rows, layer_name, pairs, len(pictures), base.imgsz, note, warning, caption, table)
