"""The Teach tab's service methods: one test per view, the shipped zoo's trained kernels, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lska_demo.app.service import DemoService, ServiceOptions, TeachView
from lska_demo.app.sources import WEIGHTS_DIR

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHIPPED = WEIGHTS_DIR / "yolov8n-lska23-sppf-s0.safetensors"


@pytest.fixture(scope="module")
def service() -> DemoService:
    """The service on the shipped zoo (weights/), as the app runs it."""
    return DemoService(ServiceOptions(weights_dir=WEIGHTS_DIR))


def _is_figure(view: TeachView) -> bool:
    figure = view.figure
    return (
        figure.dtype == np.uint8
        and figure.ndim == 3
        and figure.shape[1] == 480  # 480 px wide: the UI scales it down to 390, never up
        and figure.std() > 0
        and view.caption.endswith(".")
        and len(view.caption) > 40
    )


def test_teach_renders_every_k_alone_view(service: DemoService) -> None:
    result = service.teach(53)
    assert "2·5 + 2·17 = 44" in result.text and "random" not in result.text.lower()
    assert "misses" in result.text  # the rank numbers come from the playground's rank view
    assert "1×17 d3" in result.pipelines_html
    row = next(r for r in result.weights_table if str(r["k"]).startswith("53"))
    assert sorted(v for key, v in row.items() if key != "k") == [44, 106, 314, 2809]
    assert all(_is_figure(v) for v in (result.dilation, result.erf, result.cost))
    assert "17-tap" in result.dilation.caption and "every 3rd pixel" in result.dilation.caption
    assert "k=53" in result.cost.caption and "Receptive-field tab" in result.erf.caption


def test_teach_cascade_steps_from_the_input_to_the_full_reach(service: DemoService) -> None:
    last = service.teach_choices()["steps"]
    assert last == 4  # LSKA's four depthwise convs
    views = [service.teach_cascade(53, "impulse", step) for step in range(last + 1)]
    assert all(_is_figure(v) for v in views)
    assert "One bright pixel" in views[0].caption
    assert "2809" in views[-1].caption and "44" in views[-1].caption
    assert not np.array_equal(views[0].figure, views[-1].figure)
    ring = service.teach_cascade(23, "ring", 0)
    assert "small pattern" in ring.caption and not np.array_equal(
        ring.figure, service.teach_cascade(23, "impulse", 0).figure
    )


@pytest.mark.skipif(not SHIPPED.exists(), reason="the shipped zoo model k=23 sppf is missing")
def test_teach_shows_the_trained_kernels_of_a_zoo_choice(service: DemoService) -> None:
    gates = service.teach_gates(23, "sppf", "gate")
    assert len(gates) == 1
    view = service.teach_trained(23, "sppf", "gate")
    assert view.trained and "trained" in view.title and "RANDOM" not in view.title
    assert _is_figure(view) and "These weights are random" not in view.caption
    assert "moved" in view.caption and "NOT told apart" not in view.caption  # measured on the shipped weights
    assert view.caption.startswith("yolov8n-lska23-sppf-s0, layer 9: ")
    assert "rank-1 error 0%" in view.caption  # LSKA's trained kernels are separable by construction


def test_teach_trained_labels_random_weights_where_the_zoo_has_none(fake_zoo: Path) -> None:
    service = DemoService(ServiceOptions(weights_dir=fake_zoo))  # holds k = 23 sppf and k = 53 neck only
    view = service.teach_trained(7, "sppf", "van")
    assert not view.trained and "RANDOM" in view.title and "random" in view.caption


@pytest.mark.parametrize(("point", "count"), [("neck", 4), ("residual", 6)])
def test_teach_gate_picker_offers_every_gate_of_a_point(service: DemoService, point: str, count: int) -> None:
    gates = service.teach_gates(23, point, "gate")
    assert len(gates) == count and len({name for _, name in gates}) == count
    assert all(label.startswith("layer ") for label, _ in gates)
    first, last = (service.teach_trained(23, point, "gate", name) for _, name in (gates[0], gates[-1]))
    assert not np.array_equal(first.figure, last.figure)
    assert first.caption.startswith(f"yolov8n-lska23-{point}-adapter-s0, {gates[0][0]}: ")  # its graft is retired


def test_teach_playground_filters_and_ranks_the_chosen_pattern(service: DemoService) -> None:
    filtered, ranks = service.teach_playground(23, "diagonal line")
    assert _is_figure(filtered) and _is_figure(ranks)
    assert "23×23" in filtered.caption and "diagonal line" in ranks.caption
    edge = service.teach_playground(23, "edge")[1]
    assert "misses 0%" in edge.caption  # a step edge is one row times one column: rank 1
    assert set(service.teach_choices()["patterns"]) == {"edge", "blob", "diagonal line", "ring", "text"}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.teach_cascade(23, "impulse", 9), "step must be"),
        (lambda s: s.teach_cascade(23, "spiral", 0), "input must be"),
        (lambda s: s.teach_cascade(24, "impulse", 0), "kernel size"),
        (lambda s: s.teach_playground(23, "spiral"), "pattern must be"),
        (lambda s: s.teach_trained(23, "neck", "gate", "/etc/passwd"), "gate must be"),
    ],
)
def test_teach_rejects_bad_input_with_a_message(service: DemoService, call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(service)
