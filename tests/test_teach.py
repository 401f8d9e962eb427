"""The Teach tab's engine (cascade step-through, dilation grid, trained kernels, playground, ERF sweep) and figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lska_demo.analysis.cascade import cascades, dilation_grid, reach, step_through, teaching_gate
from lska_demo.analysis.cost import design_costs
from lska_demo.analysis.erf_sweep import erf_vs_k
from lska_demo.analysis.playground import (
    PATTERNS,
    best_rank,
    filter_with_kernel,
    pattern,
    playground,
    rank_view,
)
from lska_demo.analysis.trained_kernels import gates_in, trained_kernels
from lska_demo.model.kernels import DESIGNS, LKA, LSKA, PAPER_KERNEL_SIZES, LSKABlock, build_design, equivalent_kernel
from lska_demo.present.teach import plots as teach_plots

# The paper's design table, typed in by hand: spatial weights per channel at k = 53.
WEIGHTS_AT_53 = {"lka_trivial": 2809, "lka": 314, "lska_trivial": 106, "lska": 44}


def _seeded(design: str, dim: int, k: int, seed: int = 0) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_design(design, dim, k)


# --- equivalent_kernel, any dtype ---------------------------------------------------------------------


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_equivalent_kernel_follows_the_gate_dtype(design: str) -> None:
    gate = _seeded(design, 3, 11)
    single = equivalent_kernel(gate)
    double = equivalent_kernel(gate.double())
    assert single.dtype == torch.float32 and double.dtype == torch.float64
    assert torch.allclose(double.float(), single, atol=1e-6)
    # the float64 kernel reproduces the float64 cascade (biases removed) away from the border
    x = torch.randn(1, 3, 40, 40, dtype=torch.float64)
    cascade = x
    for conv in gate.depthwise_convs():
        cascade = nn.functional.conv2d(cascade, conv.weight, None, conv.stride, conv.padding, conv.dilation, 3)
    direct = nn.functional.conv2d(x, double[:, None], padding=5, groups=3)
    assert torch.allclose(cascade[..., 5:-5, 5:-5], direct[..., 5:-5, 5:-5], atol=1e-12)


# --- the step-through ---------------------------------------------------------------------------------


@pytest.mark.parametrize("k", PAPER_KERNEL_SIZES)
@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_step_through_ends_at_the_equivalent_kernel(design: str, k: int) -> None:
    for gate in (teaching_gate(design, k), _seeded(design, 2, k)):
        cascade = step_through(gate)
        final = cascade.stages[-1].response
        centre, half = final.shape[0] // 2, k // 2
        window = final[centre - half : centre + half + 1, centre - half : centre + half + 1]
        expected = equivalent_kernel(gate)[0].double().numpy()
        assert np.allclose(np.flip(window), expected, rtol=1e-5, atol=1e-9)
        assert cascade.stages[-1].reach == (k, k)
        assert cascade.total_weights == sum(c.weight[0].numel() for c in gate.depthwise_convs())


def test_step_through_reach_grows_and_weights_add_up() -> None:
    steps = cascades(53)
    assert {design: c.total_weights for design, c in steps.items()} == WEIGHTS_AT_53
    assert [s.reach for s in steps["lska"].stages] == [(1, 5), (5, 5), (5, 53), (53, 53)]
    assert [s.label for s in steps["lska"].stages] == ["1×5", "5×1", "1×17 d3", "17×1 d3"]
    assert [s.reach for s in steps["lka"].stages] == [(5, 5), (53, 53)]
    # readable weights: every stage is a box average, so the response is positive where it reaches and sums to 1
    for cascade in steps.values():
        for stage in cascade.stages:
            assert stage.response.min() >= 0 and stage.response.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_step_through_of_a_pattern_is_its_convolution_with_the_equivalent_kernel(design: str) -> None:
    gate = _seeded(design, 1, 23).double()
    ring = pattern("ring", 9)
    cascade = step_through(gate, ring)
    kernel = equivalent_kernel(gate)[0].double().numpy()
    assert np.allclose(cascade.stages[-1].response, filter_with_kernel(cascade.source, kernel), atol=1e-12)
    ring_h, ring_w = reach(ring)
    assert cascade.stages[-1].reach == (23 + ring_h - 1, 23 + ring_w - 1)


def test_reach_of_zeros_and_of_a_box() -> None:
    assert reach(np.zeros((5, 5))) == (0, 0)
    box = np.zeros((9, 9))
    box[2:5, 1:8] = 1.0
    assert reach(box) == (3, 7)


# --- dilation grid ------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", (*PAPER_KERNEL_SIZES, 17, 29, 47))
def test_dilation_grid_covers_exactly_k_contiguous_positions(k: int) -> None:
    grid = dilation_grid(k)
    a, d, big_k = grid.plain, grid.dilation, grid.dilated
    assert len(grid.dilated_taps) == big_k
    assert set(np.diff(grid.dilated_taps)) == {d}
    assert grid.dilated_taps[0] == -grid.dilated_taps[-1]  # centred
    assert len(grid.plain_taps) == a and set(np.diff(grid.plain_taps)) == {1}
    assert grid.covered == tuple(range(-(k // 2), k // 2 + 1))
    assert len(grid.covered) == a + d * (big_k - 1) == k
    assert sum(grid.paths) == a * big_k  # every (plain, dilated) pair lands inside the window
    assert grid.paths[0] == grid.paths[-1] == 1


# --- trained kernels ----------------------------------------------------------------------------------


def test_trained_kernels_pick_the_most_energetic_channels_and_measure_separability() -> None:
    gate = _seeded("lska", 6, 11)
    view = trained_kernels(gate, trained=True, top=3)
    energies = [c.energy for c in view.kernels]
    all_energies = np.linalg.norm(equivalent_kernel(gate).double().numpy().reshape(6, -1), axis=1)
    assert energies == sorted(energies, reverse=True) and energies[0] == pytest.approx(all_energies.max())
    assert view.design == "lska" and view.k == 11 and view.channels == 6 and view.trained
    assert all(c.rank1_error < 1e-5 for c in view.kernels)  # LSKA is separable by construction
    lka = trained_kernels(_seeded("lka", 4, 11), trained=False, channels=[2])
    assert [c.channel for c in lka.kernels] == [2] and lka.kernels[0].rank1_error > 0.1
    assert "random" in teach_plots.trained_kernels_caption(lka)
    with pytest.raises(ValueError, match="between 0 and 3"):
        trained_kernels(_seeded("lka", 4, 11), trained=True, channels=[4])


def test_gates_in_finds_gates_inside_blocks_and_models() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 1), LSKABlock(8, 7), LKA(8, 11))
    gates = gates_in(model)
    assert list(gates) == ["1.spatial_gating_unit", "2"]
    assert isinstance(gates["1.spatial_gating_unit"], LSKA)
    assert trained_kernels(model[1], trained=True).k == 7  # a VAN block is read through its gate


# --- playground ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", (7, 23, 53))
def test_playground_output_equals_a_direct_convolution_with_the_equivalent_kernel(k: int) -> None:
    image = pattern("text", 40)
    gates = {design: _seeded(design, 2, k) for design in DESIGNS}
    view = playground(image, gates, "text")
    for design, gate in gates.items():
        kernel = equivalent_kernel(gate)[0].double().numpy()
        assert np.array_equal(view.kernels[design], kernel)
        direct = filter_with_kernel(image, kernel)
        assert view.outputs[design].shape == image.shape
        assert np.allclose(view.outputs[design], direct, atol=1e-5 * np.abs(direct).max())


def test_patterns_are_bounded_and_not_blank() -> None:
    for name in PATTERNS:
        image = pattern(name, 32)
        assert image.shape == (32, 32) and 0 <= image.min() < image.max() <= 1
    with pytest.raises(ValueError, match="unknown pattern"):
        pattern("spiral")
    with pytest.raises(ValueError, match="2-D"):
        playground(np.zeros((2, 8, 8)), {})


def test_best_rank_is_exact_at_the_matrix_rank() -> None:
    rng = np.random.default_rng(0)
    rank2 = np.outer(rng.normal(size=9), rng.normal(size=9)) + np.outer(rng.normal(size=9), rng.normal(size=9))
    assert best_rank(rank2, 1)[1] > 0.01 and best_rank(rank2, 2)[1] < 1e-12


def test_rank_view_a_ring_needs_more_than_one_separable_kernel() -> None:
    view = rank_view("ring", 23, channels=8)
    assert view.rank1_error > 0.5
    assert view.rank_c_error < view.rank1_error and view.lska_error < view.rank1_error
    assert view.rank_c_error <= view.lska_error + 1e-9  # SVD is the best any C separable kernels can do
    blob = rank_view("blob", 11, channels=2, sweeps=5)  # a Gaussian is separable
    assert blob.rank1_error < 1e-9


# --- ERF sweep ----------------------------------------------------------------------------------------


def test_erf_area_ratio_grows_with_k_for_every_design() -> None:
    sweep = erf_vs_k(ks=(7, 23, 41), size=48)
    for design in DESIGNS:
        ratios = [r for _, r in sweep.ratios(design)]
        assert None not in ratios and ratios == sorted(ratios) and ratios[0] < ratios[-1]
        assert all(erf.heatmap.min() >= 0 and erf.heatmap.max() == 1.0 for erf in sweep.erfs[design].values())
    with pytest.raises(ValueError, match="wider than the largest kernel"):
        erf_vs_k(ks=(53,), size=53)


# --- figures ------------------------------------------------------------------------------------------


def test_teach_figures_are_titled_rgb_images_with_captions() -> None:
    k = 11
    steps = cascades(k)
    sweep = erf_vs_k(ks=(7, 11), size=24)
    rows = design_costs(dim=4, size=4, ks=(7, 11))
    grid = dilation_grid(k)
    trained = trained_kernels(_seeded("lka", 3, k), trained=False, top=2)
    play = playground(pattern("ring", 24), {d: teaching_gate(d, k) for d in DESIGNS}, "ring")
    ranks = rank_view("diagonal line", k, channels=2, sweeps=5)
    figures = {
        **{
            f"step {s}": (teach_plots.cascade_figure(steps, s), teach_plots.cascade_caption(steps, s))
            for s in range(teach_plots.steps_of(steps) + 1)
        },
        "dilation": (teach_plots.dilation_figure(grid), teach_plots.dilation_caption(grid)),
        "trained": (teach_plots.trained_kernels_figure(trained), teach_plots.trained_kernels_caption(trained)),
        "playground": (teach_plots.playground_figure(play), teach_plots.playground_caption(play)),
        "ranks": (teach_plots.rank_view_figure(ranks), teach_plots.rank_view_caption(ranks)),
        "erf": (teach_plots.erf_figure(sweep, k), teach_plots.erf_caption(sweep, k)),
        "cost": (teach_plots.cost_figure(rows, k), teach_plots.cost_caption(rows, k)),
    }
    assert teach_plots.steps_of(steps) == 4
    for name, (figure, caption) in figures.items():
        assert figure.dtype == np.uint8 and figure.ndim == 3 and figure.shape[2] == 3, name
        assert figure.shape[1] == 480 and figure.std() > 0, name
        assert caption.endswith(".") and len(caption) > 40, name
    assert "8× fewer" in figures["cost"][1]  # 121 / 16 weights at k = 11, rounded


def test_trained_kernels_stand_beside_a_random_init_and_say_whether_they_moved() -> None:
    fresh = _seeded("lska", 64, 23, seed=3)
    untouched = trained_kernels(fresh, trained=True, top=2)
    assert untouched.init_p > 1e-3  # kernels at their init cannot be told from it
    assert "NOT told apart from their random init" in teach_plots.trained_kernels_caption(untouched)
    moved = _seeded("lska", 64, 23, seed=3)
    with torch.no_grad():
        for conv in moved.depthwise_convs():
            conv.weight.mul_(4.0).add_(0.1)  # far outside U(-b, b), and wider than N(0, sqrt(2/fan))
    view = trained_kernels(moved, trained=True, top=2, kernel_change=1.6)
    assert view.init_p < 1e-3
    caption = teach_plots.trained_kernels_caption(view)
    assert "moved 1.60" in caption and "told apart from their random init" in caption and "NOT" not in caption
    assert all(c.init.shape == c.kernel.shape and not np.allclose(c.init, c.kernel) for c in view.kernels)
    assert teach_plots.trained_kernels_figure(view).ndim == 3
