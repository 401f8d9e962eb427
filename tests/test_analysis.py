"""The analysis engine: counts against closed forms, ERFs against known kernels, CAM safety, plots, CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from torch import nn

from lska_demo.__main__ import main
from lska_demo.analysis.attention import class_activation_map, gate_effect, stage_maps
from lska_demo.analysis.cost import (
    compare_cost,
    cost_comparison,
    design_costs,
    forward_runner,
    lska_breakdown,
    measure_latency,
    model_cost,
)
from lska_demo.analysis.erf import ERF, area_ratios, compare_erf, erf_layers, model_erf, module_erf
from lska_demo.analysis.kernel_views import equivalent_kernels, rank1, weights_vs_k
from lska_demo.model.kernels import GATES, LSKA, PAPER_KERNEL_SIZES, LSKABlock
from lska_demo.model.yolo import INSERTION_POINTS, VariantSpec, build_model, lska_layers

# The paper's design table: spatial weights per channel of the four designs (LKA-trivial k*k, LSKA-trivial 2k,
# LKA a*a + K*K, LSKA 2a + 2K), typed in from the table rather than recomputed by the code under test.
PAPER_WEIGHTS = {
    7: {"lka_trivial": 49, "lska_trivial": 14, "lka": 18, "lska": 12},
    11: {"lka_trivial": 121, "lska_trivial": 22, "lka": 34, "lska": 16},
    23: {"lka_trivial": 529, "lska_trivial": 46, "lka": 74, "lska": 24},
    35: {"lka_trivial": 1225, "lska_trivial": 70, "lka": 146, "lska": 32},
    41: {"lka_trivial": 1681, "lska_trivial": 82, "lka": 194, "lska": 36},
    53: {"lka_trivial": 2809, "lska_trivial": 106, "lka": 314, "lska": 44},
}
DEPTHWISE_STAGES = {"lka_trivial": 1, "lska_trivial": 2, "lka": 2, "lska": 4}


def _seeded_model(spec: VariantSpec, seed: int = 0) -> nn.Module:
    """Random weights from a fixed seed: whatever ran before (and drew from torch's global generator),
    the tests see the same model; a Grad-CAM of random weights can otherwise come out all zero."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(spec)


@pytest.fixture(scope="module")
def baseline() -> nn.Module:
    return _seeded_model(VariantSpec())


@pytest.fixture(scope="module")
def variant() -> nn.Module:
    return _seeded_model(VariantSpec(k=23, point="sppf"))


# Every variant the app can build: each gate at each insertion point, VAN's block (LSKA only) too.
EVERY_VARIANT = [
    VariantSpec(k=1 if design == "pointwise" else 23, point=point, block=block, design=design)
    for design in GATES
    for point in INSERTION_POINTS
    for block in (("gate", "van") if design == "lska" else ("gate",))
]


def _image(seed: int = 0, shape: tuple[int, int] = (48, 64)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def _positive(module: nn.Module) -> nn.Module:
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.abs() + 0.01)
    return module


def _params_state(model: nn.Module) -> list[tuple[bool, bool]]:
    return [(p.requires_grad, p.grad is None) for p in model.parameters()]


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


# --- cost -----------------------------------------------------------------------------------------------


def test_design_costs_match_the_closed_forms() -> None:
    dim, size = 8, 6
    rows = design_costs(dim=dim, size=size)
    assert len(rows) == 4 * len(PAPER_KERNEL_SIZES)
    for row in rows:
        wpc = PAPER_WEIGHTS[row["k"]][row["design"]]
        assert row["weights_per_channel"] == wpc
        assert row["gflops"] == row["gflops_analytic"] == (2 * size * size * dim * (wpc + dim)) / 1e9
        biases = dim * DEPTHWISE_STAGES[row["design"]]
        assert row["params"] == dim * wpc + biases + dim * dim + dim


def test_weights_vs_k_matches_the_guide_table() -> None:
    rows = weights_vs_k()
    assert {(r["design"], r["k"]): r["weights_per_channel"] for r in rows} == {
        (d, k): w for k, per in PAPER_WEIGHTS.items() for d, w in per.items()
    }


@pytest.mark.parametrize("which", ["baseline", "variant"])
def test_model_cost_agrees_with_ultralytics(which: str, request: pytest.FixtureRequest) -> None:
    from ultralytics.utils.torch_utils import get_flops

    model = request.getfixturevalue(which)
    cost = model_cost(model, imgsz=256)
    reference = get_flops(model, 256)
    assert abs(cost.gflops - reference) / reference < 0.015
    assert cost.params == sum(p.numel() for p in model.parameters())
    assert len(cost.layers) == len(model.model)
    assert sum(layer.gflops for layer in cost.layers) == pytest.approx(cost.gflops, rel=1e-12)
    assert dataclasses.asdict(cost)["imgsz"] == 256


def test_lska_breakdown_measured_equals_analytic(variant: nn.Module) -> None:
    (row,) = lska_breakdown(variant, imgsz=256)
    assert row["name"] == "model.9"
    assert row["feature_map"] == [8, 8] and row["channels"] == 256
    assert row["gflops"] == row["analytic_gflops"]
    h = w = 8
    assert row["depthwise_gflops"] * 1e9 == pytest.approx(2 * h * w * 256 * (5 + 5 + 7 + 7), abs=1e-3)
    assert row["pointwise_gflops"] * 1e9 == pytest.approx(2 * h * w * 256 * 256, abs=1e-3)
    assert row["depthwise_params"] == 256 * 24 + 4 * 256
    assert row["pointwise_params"] == 256 * 256 + 256
    assert row["reads_padding"]  # a 23-wide kernel on an 8x8 map


def test_lska_breakdown_on_several_maps() -> None:
    rows = lska_breakdown(build_model(VariantSpec(k=7, point="neck")), imgsz=128)
    assert [r["feature_map"] for r in rows] == [[8, 8], [16, 16], [8, 8], [4, 4]]
    assert all(r["gflops"] == r["analytic_gflops"] for r in rows)


def test_compare_cost_rows_and_delta(baseline: nn.Module, variant: nn.Module) -> None:
    report = json.loads(json.dumps(compare_cost(baseline, variant, imgsz=128)))
    lska_row = report["layers"][9]
    assert lska_row["type"] == "LSKA" and lska_row["baseline_index"] is None
    assert report["layers"][10]["type"] == "SPPF" and report["layers"][10]["baseline_index"] == 9
    assert report["delta"]["params"] == 256 * 24 + 4 * 256 + 256 * 256 + 256
    assert report["delta"]["gflops"] == pytest.approx(report["lska"][0]["gflops"], rel=1e-9)
    assert report["delta"]["gflops_pct"] > 0


def test_cost_comparison_is_the_counts_and_latency_only_when_asked(baseline: nn.Module, variant: nn.Module) -> None:
    counts = cost_comparison(baseline, variant, imgsz=64)
    assert "latency" not in counts and counts["delta"] == compare_cost(baseline, variant, imgsz=64)["delta"]
    timed = cost_comparison(baseline, variant, imgsz=64, latency_repeats=2, warmup=0)
    assert set(timed["latency"]) == {"baseline", "variant", "ratio"} and timed["latency"]["ratio"] > 0


def test_measure_latency_interleaves_and_reports_a_ratio(baseline: nn.Module) -> None:
    calls: list[str] = []
    result = measure_latency({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, warmup=1, repeats=3)
    assert calls == ["a", "b"] * 4
    assert set(result) == {"a", "b", "ratio"} and result["ratio"] > 0
    assert result["a"]["min_ms"] <= result["a"]["median_ms"] and result["a"]["iqr_ms"] >= 0
    out = forward_runner(baseline, 64)()
    assert isinstance(out, tuple | torch.Tensor)


# --- effective receptive field --------------------------------------------------------------------------


def test_erf_of_a_depthwise_conv_is_exactly_its_square() -> None:
    k, size = 7, 32
    conv = _positive(nn.Conv2d(4, 4, k, padding=k // 2, groups=4))
    erf = module_erf("lska", k, dim=4, size=size, module=conv)
    c, lo = size // 2, size // 2 - k // 2
    expected = np.zeros((size, size), bool)
    expected[lo : lo + k, lo : lo + k] = True
    assert np.array_equal(erf.contribution > 0, expected)
    assert erf.heatmap.max() == pytest.approx(1.0) and erf.heatmap[c, c] > 0


@pytest.mark.parametrize("k", [7, 23])
def test_erf_of_lska_stays_in_its_window_and_reaches_its_edges(k: int) -> None:
    size = 64
    erf = module_erf("lska", k, dim=4, size=size, module=_positive(LSKA(4, k)))
    rows, cols = np.nonzero(erf.contribution)
    lo, hi = size // 2 - k // 2, size // 2 + k // 2
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (lo, hi, lo, hi)
    window = erf.contribution[lo : hi + 1, lo : hi + 1]
    assert all(edge.any() for edge in (window[0], window[-1], window[:, 0], window[:, -1]))


def test_module_erf_is_seeded() -> None:
    a, b = module_erf("lka", 11, dim=2, size=32, seed=1), module_erf("lka", 11, dim=2, size=32, seed=1)
    assert np.array_equal(a.contribution, b.contribution)
    assert set(a.to_dict()) == {"ratios", "shape", "images"}


def test_area_ratios_of_a_known_square() -> None:
    square = np.zeros((21, 21))
    square[8:13, 8:13] = 1.0  # a centred 5x5 square
    ratios = area_ratios(square)
    assert ratios == {0.2: 9 / 441, 0.3: 9 / 441, 0.5: 25 / 441, 0.99: 25 / 441}


def test_area_ratios_none_instead_of_a_crash() -> None:
    corner = np.zeros((20, 20))
    corner[0, 0] = 1.0  # outside every centred square that fits an even-sized map
    assert area_ratios(corner) == dict.fromkeys((0.2, 0.3, 0.5, 0.99))
    assert area_ratios(np.zeros((9, 9))) == dict.fromkeys((0.2, 0.3, 0.5, 0.99))


def test_model_erf_batches_agree_and_leave_the_model_alone(baseline: nn.Module) -> None:
    images = [_image(0), _image(1)]
    state = _params_state(baseline)
    seen: list[tuple[int, int]] = []
    whole = model_erf(baseline, 9, images, imgsz=64, batch=2)
    split = model_erf(baseline, 9, images, imgsz=64, batch=1, progress=lambda d, n: seen.append((d, n)))
    assert seen == [(1, 2), (2, 2)]
    assert whole.contribution.shape == (64, 64) and whole.images == 2
    np.testing.assert_allclose(whole.contribution, split.contribution, rtol=1e-4, atol=1e-12)
    assert whole.contribution.min() >= 0 and whole.heatmap.max() == pytest.approx(1.0)
    assert _params_state(baseline) == state and _hooks(baseline) == 0 and not baseline.training


def test_erf_layers_name_the_insertion_point_and_sppf(variant: nn.Module) -> None:
    expected = {"sppf": (9, 8), "residual": (8, 8), "neck": (13, 12), "head": (16, 15)}
    for point, (mine, theirs) in expected.items():
        spec = VariantSpec(k=23, point=point)
        assert erf_layers(spec)["insertion point"] == (theirs, mine)
        assert erf_layers(spec)["insertion point"].variant == mine
    assert erf_layers(VariantSpec(k=23))["end of backbone"] == (9, 10)
    assert erf_layers(VariantSpec())["end of backbone"] == (9, 9)
    assert type(variant.model[9]).__name__ == "LSKA" and type(variant.model[10]).__name__ == "SPPF"


@pytest.mark.parametrize("spec", EVERY_VARIANT, ids=lambda spec: spec.name)
def test_erf_layers_find_the_inserted_gate_of_every_design(spec: VariantSpec, baseline: nn.Module) -> None:
    """Whatever the gate (LKA, the trivial designs, the pointwise control, VAN's block), the insertion point is the
    inserted unit and the baseline's layer there is the one the unit reads; the ERF tab asked this of LSKA rows
    only and failed with StopIteration for the others."""
    layers = erf_layers(spec)
    assert list(layers) == ["insertion point", "end of backbone"]
    variant, point, end = build_model(spec).model, layers["insertion point"], layers["end of backbone"]
    if spec.point == "residual":  # the gates sit in the last backbone C2f's bottlenecks; no index moves
        assert point.variant == point.baseline == 8 and type(variant[point.variant]).__name__ == "C2fLSKA"
        assert any(isinstance(gate, GATES[spec.design]) for _, gate in lska_layers(variant[point.variant]))
    else:  # an inserted row that reads the row before it, which is the baseline's row there
        unit = LSKABlock if spec.block == "van" else GATES[spec.design]
        assert type(variant[point.variant]) is unit and variant[point.variant].f == -1
        assert type(variant[point.variant - 1]) is type(baseline.model[point.baseline])
    assert type(variant[end.variant]).__name__ == type(baseline.model[end.baseline]).__name__ == "SPPF"


@pytest.mark.parametrize(("design", "point"), [("lka", "neck"), ("lka", "head"), ("pointwise", "head")])
def test_compare_erf_of_other_designs_at_neck_and_head(design: str, point: str, baseline: nn.Module) -> None:
    spec = VariantSpec(k=1 if design == "pointwise" else 23, point=point, design=design)
    variant = _seeded_model(spec)
    for layer, pair in erf_layers(spec).items():
        result = compare_erf(baseline, variant, spec, layer, [_image(0)], imgsz=64)
        assert result.layers == pair
        for erf in (result.baseline, result.variant):
            assert erf.contribution.shape == (64, 64) and erf.contribution.sum() > 0
            assert erf.heatmap.max() == pytest.approx(1.0)


def test_compare_erf_is_model_erf_at_the_paired_layers(baseline: nn.Module, variant: nn.Module) -> None:
    spec, images = VariantSpec(k=23, point="sppf"), [_image(0)]
    seen: list[tuple[str, int, int]] = []
    result = compare_erf(
        baseline, variant, spec, "insertion point", images, imgsz=64, progress=lambda *a: seen.append(a)
    )
    assert result.layers == erf_layers(spec)["insertion point"] == (8, 9)
    np.testing.assert_array_equal(result.baseline.contribution, model_erf(baseline, 8, images, 64).contribution)
    np.testing.assert_array_equal(result.variant.contribution, model_erf(variant, 9, images, 64).contribution)
    assert seen == [("baseline", 1, 1), ("variant", 1, 1)]
    assert [row["threshold"] for row in result.ratio_rows()] == sorted(result.variant.ratios)
    with pytest.raises(ValueError, match="layer must be one of"):
        compare_erf(baseline, variant, spec, "layer 99", images, imgsz=64)


# --- attention ------------------------------------------------------------------------------------------


def test_stage_maps_of_an_lska_model(variant: nn.Module) -> None:
    stages = stage_maps(variant, _image(), imgsz=128)
    assert [name for name, _ in stages] == [
        "input",
        "conv0h",
        "conv0v",
        "conv_spatial_h",
        "conv_spatial_v",
        "conv1",
        "output",
    ]
    for _, values in stages:
        assert values.shape == (4, 4) and values.min() >= 0 and values.max() <= 1
    assert _hooks(variant) == 0


def test_stage_maps_need_lska(baseline: nn.Module) -> None:
    with pytest.raises(ValueError, match="no LSKA"):
        stage_maps(baseline, _image(), imgsz=64)


@pytest.mark.parametrize("method", ["eigen", "grad"])
def test_cam_without_detections_does_not_raise(method: str, variant: nn.Module) -> None:
    state = _params_state(variant)
    cam = class_activation_map(variant, _image(), method=method, imgsz=64, conf=1.0)  # sigmoid scores < 1
    assert cam.heatmap.shape == (64, 64) and np.isfinite(cam.heatmap).all()
    assert cam.heatmap.min() >= 0 and cam.heatmap.max() <= 1
    assert cam.detections == 0 and cam.note
    if method == "grad":  # no score to explain: reported as flat, never drawn
        assert cam.flat and "nothing was detected" in cam.flat_reason and cam.heatmap.max() == 0
        assert cam.layers == tuple(variant.model[-1].f)
    else:  # EigenCAM needs no detection: the layer before Detect still has a map
        assert not cam.flat and cam.layer == len(variant.model) - 2
    assert _params_state(variant) == state and _hooks(variant) == 0 and not variant.training


@pytest.mark.parametrize("method", ["eigen", "grad"])
def test_cam_is_deterministic(method: str, baseline: nn.Module) -> None:
    image = _image(3)
    first = class_activation_map(baseline, image, method=method, imgsz=64, conf=0.0)
    second = class_activation_map(baseline, image, method=method, imgsz=64, conf=0.0)
    assert first.detections > 0 and first.heatmap.max() > 0 and not first.flat and first.peak > 0
    assert np.array_equal(first.heatmap, second.heatmap)
    assert _hooks(baseline) == 0 and all(p.grad is None for p in baseline.parameters())


@pytest.mark.parametrize("method", ["eigen", "grad"])
def test_cam_of_an_eval_model_makes_no_copy(method: str, baseline: nn.Module, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 21, item 11: a deep copy per CAM was a reference cycle only the collector frees; a series of requests
    piled up hundreds of MB. An eval-mode model is explained as it is, and left as it was."""
    from lska_demo.analysis import attention

    monkeypatch.setattr(attention, "_private_copy", lambda model: pytest.fail("an eval-mode model was copied"))
    state = _params_state(baseline)
    cam = class_activation_map(baseline, _image(3), method=method, imgsz=64, conf=0.0)
    assert cam.detections > 0 and not cam.flat
    assert _params_state(baseline) == state and _hooks(baseline) == 0 and not baseline.training


def test_cam_of_a_training_mode_model_keeps_its_mode(variant: nn.Module) -> None:
    variant.train()
    try:
        cam = class_activation_map(variant, _image(3), method="grad", imgsz=64, conf=0.0)
        assert variant.training and all(m.training for m in variant.modules()) and _hooks(variant) == 0
        assert cam.detections > 0
    finally:
        variant.eval()


# --- kernels --------------------------------------------------------------------------------------------


def test_rank1_of_an_outer_product_and_of_a_random_kernel() -> None:
    rng = np.random.default_rng(0)
    outer = np.outer(rng.normal(size=7), rng.normal(size=7))
    approx, err = rank1(outer)
    assert err < 1e-12 and np.allclose(approx, outer)
    assert rank1(rng.normal(size=(7, 7)))[1] > 0.1


def test_equivalent_kernels_separable_designs_are_rank1() -> None:
    kernels = equivalent_kernels(11, seed=0)
    assert set(kernels) == {"lka_trivial", "lska_trivial", "lka", "lska"}
    assert all(kernel.shape == (11, 11) for kernel in kernels.values())
    assert rank1(kernels["lska"])[1] < 1e-5 and rank1(kernels["lska_trivial"])[1] < 1e-5
    assert rank1(kernels["lka"])[1] > 0.1 and rank1(kernels["lka_trivial"])[1] > 0.1
    assert np.array_equal(kernels["lka"], equivalent_kernels(11, seed=0)["lka"])


# --- plots ----------------------------------------------------------------------------------------------


def test_plots_return_rgb_images() -> None:
    from lska_demo.analysis.attention import CAM
    from lska_demo.present import plots

    def erf(seed: int) -> ERF:
        contribution = np.random.default_rng(seed).random((16, 16))
        return ERF(contribution, contribution / contribution.max(), area_ratios(contribution), 1)

    stages = [("input", np.random.default_rng(0).random((4, 4))), ("output", np.zeros((4, 4)))]
    kernels = equivalent_kernels(7)
    cam = CAM(np.random.default_rng(1).random((64, 64)).astype(np.float32), "eigen", 21, 0, "")
    rows = design_costs(dim=4, size=4, ks=(7, 11))
    figures = [
        plots.erf_pair(erf(0), erf(1)),
        plots.erf_grid({"a": erf(0), "b": erf(1), "c": erf(2)}),
        plots.stage_maps_figure(stages, _image()),
        plots.stage_maps_figure(stages, None),
        plots.cam_overlay(_image(), cam),
        plots.cam_overlay(torch.rand(1, 3, 64, 64), cam),
        plots.kernels_figure(kernels, 7),
        plots.rank1_figure(kernels["lka"], *rank1(kernels["lka"])),
        plots.cost_vs_k_figure(rows),
    ]
    for figure in figures:
        assert figure.dtype == np.uint8 and figure.ndim == 3 and figure.shape[2] == 3
        assert figure.shape[0] > 10 and figure.shape[1] > 10 and figure.std() > 0
    assert figures[4].shape[:2] == (48, 64)  # the overlay keeps the picture's own size


# --- CLI ------------------------------------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_kernels(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    out = _cli(capsys, "kernels", "--k", "7", "--out", str(tmp_path))
    assert out["rank1_error"]["lska"] < 1e-5 and out["rank1_error"]["lka"] > 0.1
    assert len(out["figures"]) == 5


def test_cli_designs(capsys: pytest.CaptureFixture[str]) -> None:
    out = _cli(capsys, "designs", "--dim", "8", "--size", "4", "--ks", "7", "11")
    assert [(r["design"], r["k"]) for r in out["rows"]][:4] == [(d, 7) for d in PAPER_WEIGHTS[7]]


def test_cli_erf_module(capsys: pytest.CaptureFixture[str]) -> None:
    out = _cli(capsys, "erf", "--module", "--ks", "7", "--dim", "2", "--size", "32")
    assert out["mode"] == "module" and len(out["rows"]) == 4 and out["rows"][0]["shape"] == [32, 32]


def test_cli_erf_model(capsys: pytest.CaptureFixture[str]) -> None:
    out = _cli(capsys, "erf", "--k", "7", "--imgsz", "64", "-n", "1", "--layer", "backbone")
    assert out["layer"] == "end of backbone"
    assert out["baseline"]["layer_index"] == 9 and out["variant"]["layer_index"] == 10
    assert out["variant"]["shape"] == [64, 64] and out["variant"]["images"] == 1


def test_cli_cost(capsys: pytest.CaptureFixture[str]) -> None:
    out = _cli(capsys, "cost", "--k", "7", "--imgsz", "64", "--latency", "--repeats", "1")
    assert out["delta"]["params"] > 0 and out["lska"][0]["feature_map"] == [2, 2]
    assert out["latency"]["ratio"] > 0


def test_cli_attention(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    image = tmp_path / "noise.png"  # type: ignore[operator]
    from PIL import Image

    Image.fromarray(_image()).save(image)
    out = _cli(
        capsys, "attention", "--k", "7", "--imgsz", "64", "--image", str(image), "--method", "grad", "--conf", "1.0"
    )
    assert out["stages"][0]["name"] == "input" and len(out["stages"]) == 7
    assert out["cam"]["detections"] == 0 and out["cam"]["note"]


def test_gate_effect_is_zero_for_an_identity_graft_small_for_a_fresh_one_and_grows_once_the_gate_moves(
    baseline: nn.Module,
) -> None:
    from lska_demo.model.yolo import graft

    images = [np.random.default_rng(1).integers(0, 256, (96, 128, 3), dtype=np.uint8)]
    identity = graft(baseline, VariantSpec(k=23, point="neck"), gate_scale=0.0).eval()
    effects = gate_effect(identity, images, imgsz=128)
    assert len(effects) == 4 and all(v == pytest.approx(0.0, abs=1e-12) for v in effects.values())
    grafted = graft(baseline, VariantSpec(k=23, point="neck")).eval()  # near-identity: the kernels can learn
    assert all(0.0 < v < 0.02 for v in gate_effect(grafted, images, imgsz=128).values())
    first = lska_layers(identity)[0][1]
    with torch.no_grad():
        first.conv1.bias.fill_(0.5)  # the gate now halves its input: ||0.5x - x|| / ||x|| = 0.5
    assert gate_effect(identity, images, imgsz=128)[lska_layers(identity)[0][0]] == pytest.approx(0.5, rel=1e-6)
    with pytest.raises(ValueError, match="LSKA variant"):
        gate_effect(baseline, images)
