"""Figures from the analysis data, as HxWx3 uint8 RGB arrays (what Gradio shows and what PNGs store).

Each function builds its own ``matplotlib.figure.Figure`` on the Agg canvas: no pyplot, no global figure
state, so figures can be drawn from several threads at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from PIL import Image

from lska_demo.benchmark.images import letterbox
from lska_demo.model.kernels import DESIGN_LABELS

if TYPE_CHECKING:  # only the types: plotting must not pull in grad-cam or autograd code
    from lska_demo.analysis.attention import CAM
    from lska_demo.analysis.erf import ERF

DPI = 100


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _render(fig: Figure) -> np.ndarray:
    fig.canvas.draw()
    return np.ascontiguousarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])


def _as_rgb(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """A 1x3xHxW / 3xHxW tensor in [0, 1], or an HxWx3 array (uint8, or float in [0, 1]), as HxWx3 uint8."""
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu().float()
        image = (t[0] if t.ndim == 4 else t).permute(1, 2, 0).numpy()
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
    return array


def _letterboxed(rgb: np.ndarray, side: int | None = None) -> np.ndarray:
    """The image padded to a square as the models saw it, so feature maps line up with it; with ``side``, first
    shrunk (by area averaging) to at most ``side`` pixels on its longer side."""
    h, w = rgb.shape[:2]
    if side is not None and max(h, w) > side:
        scale = side / max(h, w)
        rgb = cv2.resize(rgb, (max(round(w * scale), 1), max(round(h * scale), 1)), interpolation=cv2.INTER_AREA)
        h, w = rgb.shape[:2]
    if h == w:
        return rgb
    return _as_rgb(letterbox(rgb, max(h, w))[0])


PANEL_BACKGROUND_SIDE = 512
"""A picture under a small panel (a stage map's, about 250 px wide) is first shrunk to this many pixels: matplotlib
would shrink it anyway, but only after making full-size RGBA copies of it for every panel (about 20 MB each for a
1280 px picture, kept by the figure)."""


def _letterbox_region(shape: tuple[int, int], size: int) -> tuple[slice, slice]:
    """Where an image of ``shape`` lands inside its ``size`` x ``size`` letterbox (same rule as letterbox)."""
    h, w = shape
    scale = size / max(h, w)
    nh, nw = max(round(h * scale), 1), max(round(w * scale), 1)
    top, left = (size - nh) // 2, (size - nw) // 2
    return slice(top, top + nh), slice(left, left + nw)


def _bare(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


# ERF maps: a sequential colour scale, dark = no influence on the centre, bright = the most.
ERF_CMAP = "viridis"
ERF_SCALE_LABEL = "influence on the centre cell\n(0 = none, 1 = most; log scale)"
SQUARE_SHARE = 0.5  # the dashed square: the smallest centred square holding this share of the gradient


def _percent(value: float) -> str:
    return f"{100 * value:.2g} %" if value < 0.1 else f"{100 * value:.0f} %"


def area_sentence(share: float, ratio: float | None) -> str:
    """An area ratio in words: "area holding 20 % of the gradient: 3.1 % of the image"."""
    where = "no centred square reaches it" if ratio is None else f"{_percent(ratio)} of the image"
    return f"area holding {_percent(share)} of the gradient: {where}"


def _erf_panel(ax: Axes, erf: ERF, title: str) -> Any:
    image = ax.imshow(erf.heatmap, cmap=ERF_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    h, w = erf.heatmap.shape
    square = erf.ratios.get(SQUARE_SHARE)
    if square is not None:
        side = float(np.sqrt(square * h * w))
        ax.add_patch(
            Rectangle((w / 2 - side / 2, h / 2 - side / 2), side, side, fill=False, ec="white", ls="--", lw=1.5)
        )
    lines = [area_sentence(t, erf.ratios.get(t)) for t in (0.2, SQUARE_SHARE) if t in erf.ratios]
    ax.set_title("\n".join([title, *lines]), fontsize=11)
    _bare(ax)
    return image


def erf_pair(left: ERF, right: ERF, titles: Sequence[str] = ("baseline", "LSKA")) -> np.ndarray:
    """Two ERF heatmaps on one sequential colour scale (labelled bar), the areas in words in the titles, and a
    legend for the dashed square (the smallest centred square holding half the gradient)."""
    fig = _figure(10, 5.8)
    axes = fig.subplots(1, 2)
    image = None
    for ax, erf, title in zip(axes, (left, right), titles, strict=True):
        image = _erf_panel(ax, erf, f"{title} ({erf.images} image{'s' if erf.images != 1 else ''})")
    bar = fig.colorbar(image, ax=list(axes), shrink=0.8)
    bar.set_label(ERF_SCALE_LABEL, fontsize=11)
    handle = Line2D([], [], color="0.3", ls="--", lw=1.5)
    fig.legend(
        [handle],
        [f"dashed square: the smallest centred square holding {_percent(SQUARE_SHARE)} of the gradient"],
        loc="outside lower center",
        fontsize=11,
        frameon=False,
    )
    return _render(fig)


def _panel_grid(panels: int, max_cols: int, width: float, height: float) -> tuple[Figure, np.ndarray]:
    """A figure with ``panels`` axes in rows of at most ``max_cols`` (each width x height inches); spare
    cells of the last row are switched off. Returns the figure and the used axes, in reading order."""
    cols = min(panels, max_cols)
    rows = -(-panels // cols)
    fig = _figure(width * cols, height * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes[panels:]:
        ax.set_axis_off()
    return fig, axes[:panels]


def erf_grid(erfs: dict[str, ERF]) -> np.ndarray:
    """A grid of ERF heatmaps (e.g. module ERFs across k), one colour scale."""
    if not erfs:
        raise ValueError("erf_grid needs at least one ERF")
    fig, axes = _panel_grid(len(erfs), 6, 2.6, 2.8)
    for ax, (title, erf) in zip(axes, erfs.items(), strict=True):
        ratio = erf.ratios.get(0.5)
        ax.imshow(erf.heatmap, cmap=ERF_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
        where = "—" if ratio is None else _percent(ratio)
        ax.set_title(f"{title}\nhalf the gradient in {where} of the image", fontsize=8)
        _bare(ax)
    return _render(fig)


STAGE_SCALE_LABEL = "mean |activation| over channels\n(each panel scaled: 0 = weakest, 1 = strongest)"


def stage_maps_figure(
    stages: list[tuple[str, np.ndarray]],
    image: np.ndarray | torch.Tensor | None,
    titles: Sequence[str] | None = None,
) -> np.ndarray:
    """One panel per stage map, smoothly upsampled over the image when it is given, with one colour bar.

    ``titles`` name the panels in words (default: the stage names); each panel also says its map's size in
    cells. A non-square image is letterboxed first (grey bands, as the model saw it) so the maps line up.
    """
    if not stages:
        raise ValueError("stage_maps_figure needs at least one stage")
    names = list(titles) if titles is not None else [name for name, _ in stages]
    if len(names) != len(stages):
        raise ValueError(f"{len(names)} titles for {len(stages)} stages")
    fig, axes = _panel_grid(len(stages), 4, 3.0, 3.2)
    # A grey picture under the map: the map's colours are then the only colours on the panel.
    background = None if image is None else _letterboxed(_as_rgb(image), PANEL_BACKGROUND_SIDE).mean(axis=2)
    shown = None
    for ax, (_, values), title in zip(axes, stages, names, strict=True):
        if background is not None:
            h, w = background.shape[:2]
            ax.imshow(background, cmap="gray", vmin=0, vmax=255)
            shown = ax.imshow(
                values, cmap="inferno", vmin=0.0, vmax=1.0, alpha=0.6, extent=(0, w, h, 0), interpolation="bilinear"
            )
        else:
            shown = ax.imshow(values, cmap="inferno", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(f"{title}\n{values.shape[0]}×{values.shape[1]} cells", fontsize=10)
        _bare(ax)
    bar = fig.colorbar(shown, ax=list(axes), shrink=0.6)
    bar.set_label(STAGE_SCALE_LABEL, fontsize=9)
    return _render(fig)


def cam_overlay(image: np.ndarray | torch.Tensor, cam: CAM, alpha: float = 0.5) -> np.ndarray:
    """The CAM, coloured (jet) and blended onto the image at the image's resolution.

    The image may be the letterboxed input or the original picture: for the latter the letterbox padding
    is cut off the (square) heatmap before it is resized, so the map lines up with the picture.
    """
    rgb = _as_rgb(image)
    h, w = rgb.shape[:2]
    heat = np.asarray(cam.heatmap, np.float32)
    if heat.shape != (h, w):
        if heat.shape[0] == heat.shape[1]:
            heat = heat[_letterbox_region((h, w), heat.shape[0])]
        heat = np.asarray(Image.fromarray(heat).resize((w, h), Image.BILINEAR))
    heat = np.clip(heat, 0.0, 1.0)
    blended = np.empty((h, w, 3), np.uint8)
    for top in range(0, h, OVERLAY_ROWS):  # in bands: the float64 colours of a whole 1280 px picture take ~100 MB
        rows = slice(top, top + OVERLAY_ROWS)
        coloured = colormaps["jet"](heat[rows])[..., :3] * 255
        blended[rows] = (alpha * coloured + (1 - alpha) * rgb[rows]).round().astype(np.uint8)
    return blended


OVERLAY_ROWS = 64
"""``cam_overlay`` colours and blends this many rows at a time (the same arithmetic, a bounded working set)."""


def _kernel_panel(ax: Axes, kernel: np.ndarray, title: str) -> None:
    limit = float(np.abs(kernel).max()) or 1.0
    ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    _bare(ax)


def kernels_figure(kernels: dict[str, np.ndarray], k: int) -> np.ndarray:
    """The designs' k x k equivalent kernels side by side (red positive, blue negative)."""
    fig = _figure(3.0 * len(kernels), 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(kernels))).ravel()
    for ax, (design, kernel) in zip(axes, kernels.items(), strict=True):
        _kernel_panel(ax, kernel, DESIGN_LABELS.get(design, design))
    fig.suptitle(f"equivalent {k}×{k} kernels (channel 0, random weights)", fontsize=10)
    return _render(fig)


def rank1_figure(kernel: np.ndarray, approx: np.ndarray, err: float) -> np.ndarray:
    """A kernel, its best separable (rank-1) approximation and the residual."""
    fig = _figure(9, 3.4)
    axes = fig.subplots(1, 3)
    for ax, values, title in zip(
        axes, (kernel, approx, kernel - approx), ("kernel", "best rank-1 (separable)", "residual"), strict=True
    ):
        _kernel_panel(ax, values, title)
    fig.suptitle(f"relative Frobenius error of the rank-1 approximation: {err:.4f}", fontsize=10)
    return _render(fig)


def cost_vs_k_figure(rows: list[dict[str, Any]]) -> np.ndarray:
    """GFLOPs and spatial weights per channel against k for the four designs (log y)."""
    fig = _figure(10, 4)
    axes = fig.subplots(1, 2)
    designs = list(dict.fromkeys(row["design"] for row in rows))
    for design in designs:
        mine = sorted((row for row in rows if row["design"] == design), key=lambda row: row["k"])
        ks = [row["k"] for row in mine]
        label = DESIGN_LABELS.get(design, design)
        if all("gflops" in row for row in mine):
            axes[0].plot(ks, [row["gflops"] for row in mine], marker="o", label=label)
        axes[1].plot(ks, [row["weights_per_channel"] for row in mine], marker="o", label=label)
    for ax, ylabel in zip(axes, ("GFLOPs (2 × MACs / 1e9)", "spatial weights per channel"), strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("kernel size k")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=8)
    return _render(fig)


def delta_figure(rows: list[dict[str, Any]]) -> np.ndarray:
    """Δ mAP50-95 against the control of the same regime, one line per variant of the results table
    (``report.results``): the mean as a dot, the 95 % t-interval of the paired differences as a bar
    (none with one seed), filled when the paired test is significant, hollow otherwise."""
    judged = [row for row in rows if row.get("delta_vs_control") is not None]
    fig = _figure(8, 0.8 + 0.32 * max(len(judged), 1))
    ax = fig.subplots()
    ax.axvline(0.0, color="0.4", linewidth=1)
    for y, row in enumerate(judged):
        ci = row.get("delta_ci95")
        if ci is not None:
            ax.plot(ci, [y, y], color="tab:blue", linewidth=2)
        ax.plot(
            [row["delta_vs_control"]],
            [y],
            marker="o",
            color="tab:blue",
            markerfacecolor="tab:blue" if row.get("significant") else "white",
        )
    ax.set_yticks(range(len(judged)), [f"{r['model']} ({r['regime']}, n={r['pairs']})" for r in judged], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Δ mAP50-95 vs control, paired by seed (bar: 95 % interval; filled: p < 0.05)")
    ax.grid(True, axis="x", alpha=0.3)
    if not judged:
        ax.text(0.5, 0.5, "no variant with a control yet", transform=ax.transAxes, ha="center")
    return _render(fig)


def paired_seeds_figure(
    control: Sequence[float], variant: Sequence[float], seeds: Sequence[int], metric: str, labels: Sequence[str]
) -> np.ndarray:
    """One line per seed from the control's metric to the variant's, and the means as black diamonds."""
    fig = _figure(4.2, 3.6)
    ax = fig.add_subplot()
    for seed, c, v in zip(seeds, control, variant, strict=True):
        ax.plot([0, 1], [c, v], marker="o", color="tab:green" if v > c else "tab:red", alpha=0.8)
        ax.annotate(f"s{seed}", (1, v), xytext=(6, 0), textcoords="offset points", va="center", fontsize=8)
    ax.plot([0, 1], [float(np.mean(control)), float(np.mean(variant))], "kD--", label="mean")
    ax.set_xticks([0, 1], list(labels))
    ax.set_xlim(-0.3, 1.4)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per seed (paired)")
    ax.legend(loc="best", fontsize=8)
    return _render(fig)
