"""The Teach tab's figures, each with a one-sentence caption computed from the same data.

Same conventions as plots.py: every function builds its own Agg ``Figure`` (no pyplot state) and returns an
HxWx3 uint8 array. Figures are 4.8 inches (480 px) wide with large fonts and at most two panels per row, so
they stay legible when a phone shows them 390 px wide.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

from lska_demo.analysis.cascade import Cascade, DilationGrid
from lska_demo.analysis.erf_sweep import ErfSweep
from lska_demo.analysis.playground import Playground, RankView
from lska_demo.analysis.trained_kernels import TrainedKernels
from lska_demo.model.kernels import DESIGNS
from lska_demo.present.plots import _bare, _figure, _render

WIDTH = 4.8  # inches at plots.DPI = 100: 480 px
TITLE = 13
LABEL = 11
SHORT_LABELS: dict[str, str] = {
    "lka_trivial": "LKA-trivial",
    "lska_trivial": "LSKA-trivial",
    "lka": "LKA",
    "lska": "LSKA",
}
COLOURS: dict[str, str] = {"lka_trivial": "#d62728", "lska_trivial": "#ff7f0e", "lka": "#9467bd", "lska": "#1f77b4"}
# equal curves (e.g. LKA and LSKA reach alike) must stay visible: wide solid under narrow dashed
LINES: dict[str, dict[str, Any]] = {
    "lka_trivial": {"ls": "-", "lw": 5, "marker": "o", "ms": 9, "alpha": 0.6},
    "lska_trivial": {"ls": "--", "lw": 2, "marker": "s", "ms": 5},
    "lka": {"ls": "-", "lw": 5, "marker": "o", "ms": 9, "alpha": 0.6},
    "lska": {"ls": "--", "lw": 2, "marker": "s", "ms": 5},
}


def _short(design: str) -> str:
    return SHORT_LABELS.get(design, design)


def _signed(ax: Axes, values: np.ndarray, title: str, limit: float | None = None) -> None:
    """A signed map on a symmetric red (+) / blue (−) scale."""
    limit = limit or float(np.abs(values).max()) or 1.0
    ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_title(title, fontsize=LABEL)
    _bare(ax)


# --- 1. step through the cascade --------------------------------------------------------------------------


def steps_of(cascades: dict[str, Cascade]) -> int:
    """The number of depthwise stages of the longest cascade (the slider's maximum; step 0 is the input)."""
    return max(len(c.stages) for c in cascades.values())


def _state(cascade: Cascade, step: int) -> tuple[np.ndarray, str, tuple[int, int] | None]:
    """The map shown at ``step``, its panel title, and its reach."""
    name = _short(cascade.design)
    if step == 0:
        return cascade.source, f"{name}: input", None
    stage = cascade.stages[min(step, len(cascade.stages)) - 1]
    h, w = stage.reach
    if step > len(cascade.stages):
        return stage.response, f"{name}: done\n{h}×{w}, {cascade.total_weights} weights", stage.reach
    return (
        stage.response,
        f"{name}: {stage.label}\n{h}×{w}, {stage.weights_so_far}/{cascade.total_weights} weights",
        stage.reach,
    )


def cascade_figure(cascades: dict[str, Cascade], step: int) -> np.ndarray:
    """The four designs side by side (2 x 2) after ``step`` depthwise convs: each map scaled to its own
    maximum, the reach boxed; titles give the conv, the reach and the weights used so far of the total."""
    fig = _figure(WIDTH, 5.6)
    axes = fig.subplots(2, 2).ravel()
    k = next(iter(cascades.values())).k
    for ax, cascade in zip(axes, cascades.values(), strict=True):
        values, title, reach = _state(cascade, step)
        peak = float(np.abs(values).max()) or 1.0
        ax.imshow(values / peak, cmap="magma", vmin=0.0, vmax=1.0, interpolation="nearest")
        if reach is not None and reach[0] > 0:
            rows, cols = np.nonzero(np.abs(values) > 1e-12 * peak)
            ax.add_patch(
                Rectangle(
                    (cols.min() - 0.5, rows.min() - 0.5), reach[1], reach[0], fill=False, ec="#00d5ff", lw=1.5, ls="--"
                )
            )
        ax.set_title(title, fontsize=LABEL)
        _bare(ax)
    fig.suptitle(f"Step {step} of {steps_of(cascades)}: reach towards {k}×{k}", fontsize=TITLE)
    return _render(fig)


def cascade_caption(cascades: dict[str, Cascade], step: int) -> str:
    """What to notice at ``step``."""
    k = next(iter(cascades.values())).k
    weights = ", ".join(f"{_short(d)} {c.total_weights}" for d, c in cascades.items())
    if step == 0:
        first = next(iter(cascades.values())).source
        what = "One bright pixel goes" if np.count_nonzero(first) == 1 else "A small pattern goes"
        return f"{what} in; press Play or move the slider to watch each design's reach grow to {k}×{k}."
    if step < steps_of(cascades):
        return (
            f"Every design is heading for the same {k}×{k} reach (dashed box), but pays different weights per "
            f"channel: {weights}."
        )
    return (
        f"Same {k}×{k} reach, bought with {weights} weights per channel; the 1×1 conv that follows mixes "
        "channels and adds no reach."
    )


# --- 2. what dilation reads -------------------------------------------------------------------------------


def dilation_figure(grid: DilationGrid) -> np.ndarray:
    """One axis (top) and the k x k window (bottom): the dilated kernel's taps (dark) and the gaps the plain
    kernel fills (light); a, d and K labelled."""
    k, a, d, big_k = grid.k, grid.plain, grid.dilation, grid.dilated
    half = k // 2
    taps = [q + half for q in grid.dilated_taps]
    strip = np.ones((1, k), dtype=int)
    strip[0, taps] = 0
    cmap = ListedColormap(["#b3400a", "#fdd0a2"])
    fig = _figure(WIDTH, 5.4)
    top, bottom = fig.subplots(2, 1, height_ratios=[1, 3.2])
    top.imshow(strip, cmap=cmap, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    top.set_xticks([0, half, k - 1], [f"−{half}", "0", f"+{half}"], fontsize=LABEL)
    top.set_yticks([])
    for x in np.arange(-0.5, k, 1.0):
        top.axvline(x, color="white", lw=0.4 if k > 23 else 0.8)
    top.annotate("", xy=(half + d, -0.55), xytext=(half, -0.55), arrowprops={"arrowstyle": "<->", "lw": 1.5})
    top.text(half + d / 2, -0.65, f"d = {d}", ha="center", va="bottom", fontsize=LABEL)
    top.annotate("", xy=(half - a / 2, 0.55), xytext=(half + a / 2, 0.55), arrowprops={"arrowstyle": "<->", "lw": 1.5})
    top.text(half, 0.62, f"a = {a}", ha="center", va="top", fontsize=LABEL)
    top.set_ylim(0.95, -1.2)
    top.set_title(f"one axis: K = {big_k} dark taps, d = {d} apart", fontsize=LABEL)
    window = np.ones((k, k), dtype=int)
    window[np.ix_(taps, taps)] = 0
    bottom.imshow(window, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    if k <= 23:  # cell borders, where cells are big enough to show them
        for edge in np.arange(-0.5, k, 1.0):
            bottom.axhline(edge, color="white", lw=0.6)
            bottom.axvline(edge, color="white", lw=0.6)
    bottom.set_title(f"{k}×{k}: {big_k}×{big_k} taps (dark), gaps filled by {a}×{a}", fontsize=LABEL)
    _bare(bottom)
    fig.suptitle(f"k = a + d·(K − 1) = {a} + {d}·{big_k - 1} = {k}", fontsize=TITLE)
    return _render(fig)


def dilation_caption(grid: DilationGrid) -> str:
    nth = f"{grid.dilation}{'nd' if grid.dilation == 2 else 'rd'}"
    return (
        f"The dilated {grid.dilated}-tap kernel reads every {nth} pixel; the plain {grid.plain}-tap kernel before "
        f"it fills the gaps, so all {grid.k} pixels are read with {grid.plain} + {grid.dilated} taps per axis."
    )


# --- 3. trained kernels -----------------------------------------------------------------------------------


def trained_kernels_figure(view: TrainedKernels) -> np.ndarray:
    """One row per channel: a fresh random init of it, its equivalent kernel, the best rank-1 approximation, and the
    residual (the last three on one scale; the init on its own)."""
    rows = len(view.kernels)
    fig = _figure(WIDTH, 0.8 + 1.5 * rows)
    axes = np.atleast_2d(fig.subplots(rows, 4))
    weights = "trained" if view.trained else "random"
    for row, channel in zip(axes, view.kernels, strict=True):
        limit = float(np.abs(channel.kernel).max()) or 1.0
        _signed(row[0], channel.init, "random init", float(np.abs(channel.init).max()) or 1.0)
        _signed(row[1], channel.kernel, f"ch {channel.channel}, {weights}", limit)
        _signed(row[2], channel.rank1, "rank 1", limit)
        _signed(row[3], channel.kernel - channel.rank1, f"error {channel.rank1_error:.0%}", limit)
    fig.suptitle(trained_kernels_title(view), fontsize=TITLE)
    return _render(fig)


def trained_kernels_title(view: TrainedKernels) -> str:
    weights = "trained" if view.trained else "RANDOM (untrained)"
    return f"{_short(view.design)} k={view.k}: {weights} kernels"


def init_measure(view: TrainedKernels) -> str:
    """One line: can these kernels be told from their random init?"""
    moved = f"moved {view.kernel_change:.2f} (‖w − w₀‖ / ‖w₀‖, recorded at training); " if view.kernel_change else ""
    if view.init_p is None:
        return f"From their init: {moved}its kernels have too few taps for a distribution test."
    verdict = (
        "told apart from their random init at p < 0.001"
        if view.init_p < 1e-3
        else "NOT told apart from their random init at p < 0.001: their values alone could still be random draws"
    )
    return (
        f"From their init: {moved}a KS test of the depthwise weights against the default inits gives p = "
        f"{view.init_p:.1g} ({verdict})."
    )


def trained_kernels_caption(view: TrainedKernels) -> str:
    worst = max(c.rank1_error for c in view.kernels)
    source = f" {init_measure(view)}" if view.trained else " These weights are random: no trained model was given."
    if worst < 1e-6:
        return (
            f"Each {_short(view.design)} channel's {view.k}×{view.k} kernel is exactly one row times one column "
            f"(rank-1 error {worst:.0%}): that is the separable shape it was built with.{source}"
        )
    return (
        f"These {_short(view.design)} kernels are not separable: the best rank-1 view loses up to {worst:.0%} "
        f"of them.{source}"
    )


# --- 4. playground ----------------------------------------------------------------------------------------


def playground_figure(view: Playground) -> np.ndarray:
    """The pattern and LSKA's equivalent kernel (top), then each design's filtered output (2 x 2)."""
    fig = _figure(WIDTH, 7.2)
    axes = fig.subplots(3, 2).ravel()
    axes[0].imshow(view.image, cmap="gray", interpolation="nearest")
    axes[0].set_title(f"input: {view.name}", fontsize=LABEL)
    _bare(axes[0])
    design = "lska" if "lska" in view.kernels else next(iter(view.kernels))
    _signed(axes[1], view.kernels[design], f"{_short(design)} kernel")
    for ax, (name, output) in zip(axes[2:], view.outputs.items(), strict=False):
        ax.imshow(output, cmap="gray", interpolation="nearest")
        ax.set_title(_short(name), fontsize=LABEL)
        _bare(ax)
    for ax in axes[2 + len(view.outputs) :]:
        ax.set_axis_off()
    k = view.kernels[design].shape[0]
    fig.suptitle(f"the {view.name} filtered by each design (k={k})", fontsize=TITLE)
    return _render(fig)


def playground_caption(view: Playground) -> str:
    k = next(iter(view.kernels.values())).shape[0]
    return (
        f"All four designs spread each input pixel over the same {k}×{k} window; what differs is the cost, "
        "not how far they see."
    )


def rank_view_figure(view: RankView) -> np.ndarray:
    """A target kernel, its best rank-1 (one separable kernel), rank-C (C separable kernels) and LSKA fit."""
    fig = _figure(WIDTH, 5.6)
    axes = fig.subplots(2, 2).ravel()
    limit = float(np.abs(view.target).max()) or 1.0
    panels = (
        (view.target, f"target: {view.name}"),
        (view.rank1, f"rank 1: error {view.rank1_error:.0%}"),
        (view.rank_c, f"rank {view.channels}: error {view.rank_c_error:.0%}"),
        (view.lska_fit, f"LSKA, {view.channels} ch: {view.lska_error:.0%}"),
    )
    for ax, (values, title) in zip(axes, panels, strict=True):
        _signed(ax, values, title, limit)
    fig.suptitle(f"can separable kernels draw a {view.name}?", fontsize=TITLE)
    return _render(fig)


def rank_view_caption(view: RankView) -> str:
    return (
        f"One separable kernel misses {view.rank1_error:.0%} of the {view.name}; "
        f"LSKA's 1×1 conv sums {view.channels} channels' separable kernels, and its best fit misses "
        f"{view.lska_error:.0%} (any {view.channels} separable kernels: {view.rank_c_error:.0%})."
    )


# --- 5. receptive field vs k ------------------------------------------------------------------------------


def erf_figure(sweep: ErfSweep, k: int) -> np.ndarray:
    """The four designs' ERF maps at ``k`` on one colour scale (one colour bar), then area ratio vs k."""
    fig = _figure(WIDTH, 7.4)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.45, 1])
    axes = top.subplots(2, 2).ravel()
    image = None
    for ax, (design, by_k) in zip(axes, sweep.erfs.items(), strict=False):
        erf = by_k[k]
        image = ax.imshow(erf.heatmap, cmap="RdYlGn", vmin=0.0, vmax=1.0, interpolation="nearest")
        ratio = erf.ratios.get(sweep.threshold)
        ax.set_title(f"{_short(design)}, ratio {'—' if ratio is None else f'{ratio:.3f}'}", fontsize=LABEL)
        _bare(ax)
    top.colorbar(image, ax=list(axes), shrink=0.9, label="log10(contribution + 1) / max")
    top.suptitle(f"ERF of each module at k={k} ({sweep.size}×{sweep.size} input)", fontsize=TITLE)
    curve = bottom.subplots()
    for design in sweep.erfs:
        points = [(x, r) for x, r in sweep.ratios(design) if r is not None]
        curve.plot(*zip(*points, strict=True), label=_short(design), color=COLOURS.get(design), **LINES.get(design, {}))
    curve.axvline(k, color="k", ls=":", lw=1)
    curve.set_xlabel("kernel size k", fontsize=LABEL)
    curve.set_ylabel(f"area ratio (t={sweep.threshold:g})", fontsize=LABEL)
    curve.tick_params(labelsize=LABEL - 1)
    curve.grid(True, alpha=0.3)
    curve.legend(fontsize=LABEL - 2, ncols=2)
    return _render(fig)


def erf_caption(sweep: ErfSweep, k: int) -> str:
    return (
        f"RepLKNet's area ratio is the smallest centred square holding {sweep.threshold:.0%} of the gradient, as a "
        f"share of the input: it grows with k alike for all four designs, so the cheap ones lose no reach; the "
        "Receptive-field tab measures it inside trained detectors."
    )


# --- 6. cost growth ---------------------------------------------------------------------------------------


def _minor_label(value: float, _position: int) -> str:
    """Label the 2s and 5s of a log axis, so that a short axis still has readable numbers."""
    mantissa = value / 10 ** np.floor(np.log10(value)) if value > 0 else 0.0
    return f"{value:g}" if round(mantissa) in (2, 5) else ""


def cost_figure(rows: list[dict[str, Any]], k: int) -> np.ndarray:
    """Spatial weights per channel (top) and GFLOPs of the module (bottom) against k, log y, ``k`` marked.

    ``rows`` as analysis.cost.design_costs returns them (its ``dim`` and ``size`` go in the axis label)."""
    fig = _figure(WIDTH, 7.0)
    axes = fig.subplots(2, 1, sharex=True)
    for design in DESIGNS:
        mine = sorted((row for row in rows if row["design"] == design), key=lambda row: row["k"])
        if not mine:
            continue
        ks = [row["k"] for row in mine]
        style = {"label": _short(design), "color": COLOURS.get(design), **LINES.get(design, {})}
        axes[0].plot(ks, [row["weights_per_channel"] for row in mine], **style)
        axes[1].plot(ks, [row["gflops"] for row in mine], **style)
        at_k = [row for row in mine if row["k"] == k]
        if at_k:
            axes[0].annotate(
                f"{at_k[0]['weights_per_channel']}",
                (k, at_k[0]["weights_per_channel"]),
                xytext=(4, 0),
                textcoords="offset points",
                fontsize=LABEL - 1,
                va="center",
                color=COLOURS.get(design),
            )
    gflops_label = "GFLOPs"
    if rows and "dim" in rows[0]:
        gflops_label += f" ({rows[0]['dim']} ch, {rows[0]['size']}×{rows[0]['size']} map)"
    for ax, label in zip(axes, ("weights per channel", gflops_label), strict=True):
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(_minor_label))
        ax.set_ylabel(label, fontsize=LABEL)
        ax.axvline(k, color="k", ls=":", lw=1)
        ax.grid(True, which="both", alpha=0.3)
        ax.tick_params(labelsize=LABEL - 1)
        ax.legend(fontsize=LABEL - 2, ncols=2)
    axes[1].set_xlabel("kernel size k (dotted: your k)", fontsize=LABEL)
    fig.suptitle("cost against kernel size", fontsize=TITLE)
    return _render(fig)


def cost_caption(rows: list[dict[str, Any]], k: int) -> str:
    at_k = {row["design"]: row for row in rows if row["k"] == k}
    if "lska" not in at_k or "lka_trivial" not in at_k:
        return "LKA-trivial's cost grows with k², LSKA's with k."
    ratio = at_k["lka_trivial"]["weights_per_channel"] / at_k["lska"]["weights_per_channel"]
    return (
        f"LKA-trivial's weights grow with k², LSKA's with k: at k={k} LSKA needs {ratio:.0f}× fewer; its GFLOPs "
        "flatten because the 1×1 conv, the same in every design, then dominates."
    )
