"""The Teach tab's views, one function per view: the engine's data drawn by ``teach_plots``, with its caption.

Pure functions of validated arguments (the service checks what a visitor sent and loads models). What every
visitor sees alike is computed once and kept: the step-throughs and playgrounds per (k, pattern), the ERF
sweep and the cost rows, and the three figures that depend on k alone (six k: a few MB), so that moving a
slider only redraws one figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
from torch import nn

from lska_demo.analysis.cascade import Cascade, cascades, dilation_grid, teaching_gate
from lska_demo.analysis.cost import design_costs
from lska_demo.analysis.erf_sweep import ErfSweep, erf_vs_k
from lska_demo.analysis.playground import PATTERNS, Playground, RankView, pattern, playground, rank_view
from lska_demo.analysis.trained_kernels import trained_kernels
from lska_demo.model.kernels import DESIGNS, PAPER_KERNEL_SIZES
from lska_demo.present.teach import plots as teach_plots

IMPULSE = "impulse"
CASCADE_INPUTS: tuple[str, ...] = (IMPULSE, *PATTERNS)  # what the step-through can send through the cascade
CASCADE_PATTERN_SIZE = 13  # a small pattern: its response still fits a readable grid at k = 53
RANK_CHANNELS = 4  # C, the channels LSKA's 1x1 conv mixes in the rank view
TEXT_TARGET = "ring"  # the rank view the teaching text quotes: a shape no single separable kernel draws
COST_DIM, COST_SIZE = 256, 20  # YOLOv8n's P5 at 640 px


@dataclass(frozen=True)
class TeachView:
    """One figure of the Teach tab (its title drawn in it) and the sentence under it."""

    figure: np.ndarray
    caption: str


@dataclass(frozen=True)
class TrainedView(TeachView):
    """The trained-kernels figure, with its title and whether the weights are trained (False: random)."""

    title: str
    trained: bool


@cache
def _cascades(k: int, source: str) -> dict[str, Cascade]:
    return cascades(k, None if source == IMPULSE else pattern(source, CASCADE_PATTERN_SIZE))


def cascade_steps() -> int:
    """The step-through slider's last step (the same for every k: LSKA's four depthwise convs)."""
    return teach_plots.steps_of(_cascades(PAPER_KERNEL_SIZES[0], IMPULSE))


def cascade_view(k: int, source: str, step: int) -> TeachView:
    """The four designs after ``step`` depthwise convs of ``source`` (an impulse or a pattern name)."""
    steps = _cascades(k, source)
    return TeachView(teach_plots.cascade_figure(steps, step), teach_plots.cascade_caption(steps, step))


@lru_cache(maxsize=len(PAPER_KERNEL_SIZES))
def dilation_view(k: int) -> TeachView:
    grid = dilation_grid(k)
    return TeachView(teach_plots.dilation_figure(grid), teach_plots.dilation_caption(grid))


def gate_label(name: str) -> str:
    """A gate's qualified name as a learner reads it: ``model.4.m.1.attn`` -> ``layer 4, bottleneck 1``."""
    parts = name.split(".")
    if len(parts) >= 2 and parts[0] == "model" and parts[1].isdigit():
        label = f"layer {parts[1]}"
        if len(parts) >= 4 and parts[2] == "m" and parts[3].isdigit():
            label += f", bottleneck {parts[3]}"
        return label
    return name


def trained_view(gate: nn.Module, trained: bool, where: str, kernel_change: float | None = None) -> TrainedView:
    """The most energetic channels of ``gate`` (a gate or a VAN block), random weights labelled as such.

    Args:
        gate: the module whose kernels to show.
        trained: whether its weights are trained.
        where: the model and gate, e.g. "yolov8n-lska23-neck-s0, layer 17", to start the caption.
        kernel_change: the model's recorded relative change of its large kernels from their init, if known.
    """
    view = trained_kernels(gate, trained, kernel_change=kernel_change)
    return TrainedView(
        teach_plots.trained_kernels_figure(view),
        f"{where}: {teach_plots.trained_kernels_caption(view)}",
        teach_plots.trained_kernels_title(view),
        trained,
    )


@lru_cache(maxsize=len(PAPER_KERNEL_SIZES) * len(PATTERNS))
def _playground(k: int, name: str) -> Playground:
    return playground(pattern(name), {design: teaching_gate(design, k) for design in DESIGNS}, name)


def playground_view(k: int, name: str) -> TeachView:
    view = _playground(k, name)
    return TeachView(teach_plots.playground_figure(view), teach_plots.playground_caption(view))


@cache
def rank_of(name: str, k: int) -> RankView:
    """The rank view of target ``name`` at ``k`` (seeded, so the same every time: kept)."""
    return rank_view(name, k, channels=RANK_CHANNELS)


def rank_figure_view(k: int, name: str) -> TeachView:
    view = rank_of(name, k)
    return TeachView(teach_plots.rank_view_figure(view), teach_plots.rank_view_caption(view))


@cache
def erf_sweep() -> ErfSweep:
    """The module ERF of every design at every paper k (about 2 s here: computed once per process)."""
    return erf_vs_k()


@lru_cache(maxsize=len(PAPER_KERNEL_SIZES))
def erf_view(k: int) -> TeachView:
    sweep = erf_sweep()
    return TeachView(teach_plots.erf_figure(sweep, k), teach_plots.erf_caption(sweep, k))


@cache
def cost_rows() -> tuple[dict[str, Any], ...]:
    """The four designs' weights and GFLOPs at every paper k on YOLOv8n's P5 (counted once per process)."""
    return tuple(design_costs(dim=COST_DIM, size=COST_SIZE, ks=PAPER_KERNEL_SIZES))


@lru_cache(maxsize=len(PAPER_KERNEL_SIZES))
def cost_view(k: int) -> TeachView:
    rows = list(cost_rows())
    return TeachView(teach_plots.cost_figure(rows, k), teach_plots.cost_caption(rows, k))


def warm_up(ks: tuple[int, ...] = PAPER_KERNEL_SIZES) -> None:
    """Compute what every visitor shares, for every k, before anyone asks (a few seconds, in the background
    at app start): then a change of k redraws only the views that depend on more than k."""
    for k in ks:
        dilation_view(k)
        erf_view(k)
        cost_view(k)
        rank_of(TEXT_TARGET, k)
