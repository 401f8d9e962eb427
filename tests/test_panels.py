"""Issue 12, the analysis panels: what the ERF, Attention and Cost tabs tell a visitor, through the service."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lska_demo.analysis.erf import ERF
from lska_demo.app.service import ZOO, DemoService
from lska_demo.model.describe import layer_labels, stage_title
from lska_demo.model.yolo import VariantSpec, build_model, lska_layers
from lska_demo.present import explain, plots
from lska_demo.ui.attention import show_captions

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- receptive field --------------------------------------------------------------------------------------


def test_erf_warns_first_when_a_side_is_untrained(service: DemoService) -> None:
    result = service.erf(None, 41, "sppf", "gate", ZOO, n=1)  # the fake zoo has no k=41 model
    assert result.warning.startswith("> ⚠️") and "nothing about LSKA" in result.warning
    assert result.note.startswith(result.warning) and "LSKA (" in result.warning
    assert "What this shows" in result.caption and "What to conclude" in result.caption


def test_erf_uses_the_uploaded_image_and_says_so(service: DemoService, picture: np.ndarray) -> None:
    result = service.erf(None, 23, "sppf", "gate", ZOO, n=4, upload=picture)
    assert result.n_images == 1 and "1 image: the one uploaded" in result.note
    assert not result.warning  # both fake-zoo sides are marked trained
    default = service.erf(None, 23, "sppf", "gate", ZOO, n=1)
    assert "benchmark image" in default.note
    assert all("_" not in column for column in result.table[0])
    assert result.table[0]["share of the gradient"] == "20 %"


def test_alike_maps_are_explained_by_the_map_size() -> None:
    rows = [{"threshold": 0.5, "baseline": 0.10, "variant": 0.11}]
    assert explain.ratios_alike(rows)
    assert not explain.ratios_alike([{"threshold": 0.5, "baseline": 0.01, "variant": 0.07}])
    why = explain.why_alike(VariantSpec(k=23, point="sppf"), 9, 256)  # the gate's output: SPPF comes after it
    assert "8×8" in why and "32 px" in why and "reads padding" in why and "SPPF" not in why
    after = explain.why_alike(VariantSpec(k=23, point="sppf"), 10, 256)  # SPPF's own output
    assert "SPPF's 3 stacked 5×5 poolings" in after
    wide = explain.why_alike(VariantSpec(k=23, point="neck"), 17, 640)  # P3 at 640 px: 80x80, no SPPF clause
    assert "80×80" in wide and "SPPF" not in wide and "padding" not in wide  # k=23 fits an 80x80 map


def test_erf_reach_says_where_a_larger_k_can_widen_the_field(service: DemoService) -> None:
    result = service.erf_reach("sppf", "gate", 256)
    assert result.side == 8 and [row["k"] for row in result.rows] == [7, 11, 23, 35, 41, 53]
    assert [row["taps on padding"] for row in result.rows][:2] == ["0 %", "47 %"]
    assert all(row["map at the gate"] == "8×8" for row in result.rows)
    assert all(row["gate's ERF, % of map (t = 0.5)"].endswith(" %") for row in result.rows)
    weights = {row["k"]: row["gate weights"] for row in result.rows}
    assert weights[23] == "trained: yolov8n-lska23-sppf-s0" and weights[41].startswith("random")
    assert "8×8" in result.sentence and "from k=11 on" in result.sentence and "cannot widen" in result.sentence
    assert "at head, P3 is 80×80 at 640 px" in result.sentence
    head = service.erf_reach("head", "gate", 640)
    assert head.side == 80 and "every k up to 53 fits" in head.sentence and "cannot" not in head.sentence
    with pytest.raises(ValueError, match="256, 640"):
        service.erf_reach("sppf", "gate", 320)


def test_erf_figure_titles_in_words() -> None:
    assert plots.area_sentence(0.2, 0.031) == "area holding 20 % of the gradient: 3.1 % of the image"
    assert "no centred square" in plots.area_sentence(0.99, None)
    heat = np.outer(np.hanning(32), np.hanning(32))
    erf = ERF(heatmap=heat / heat.max(), contribution=heat, ratios={0.2: 0.03, 0.5: 0.1, 0.99: None}, images=1)
    figure = plots.erf_pair(erf, erf)
    assert figure.ndim == 3 and figure.dtype == np.uint8


# --- attention --------------------------------------------------------------------------------------------


def test_stage_titles_are_words() -> None:
    gate = lska_layers(build_model(VariantSpec(k=53, point="sppf")))[0][1]
    titles = [stage_title(name, getattr(gate, name)) for name in gate.stage_names]
    assert titles == [
        "after 1×5 (conv0h)",
        "after 5×1 (conv0v)",
        "after dilated 1×17 (conv_spatial_h)",
        "after dilated 17×1 (conv_spatial_v)",
        "gate = 1×1 channel mix (conv1)",
    ]
    assert stage_title("output", None) == "output = input × gate"


def test_flat_cam_is_text_not_a_picture(service: DemoService, picture: np.ndarray) -> None:
    # Random weights with Ultralytics' bias init detect nothing: Grad-CAM has no score to explain.
    result = service.attention(picture, 23, "sppf", "gate", ZOO, "grad")
    assert result.baseline_cam is None and result.variant_cam is None
    assert result.captions["baseline"].startswith("No map: nothing was detected")
    assert result.cams["baseline"]["flat_reason"]
    shown = show_captions({"warning": "", **result.captions})
    assert shown[2].startswith("No map") and shown[4].visible is False
    assert result.stages is not None and "What this shows" in result.captions["stages"]


def test_attention_without_an_image_uses_a_benchmark_image(service: DemoService) -> None:
    result = service.attention(None, 23, "sppf", "gate", ZOO, "eigen")
    assert "benchmark image" in result.note and result.stages is not None
    assert show_captions(result.captions)[4].label == "Baseline CAM"  # no gate: the fine-tuned baseline
    if result.baseline_cam is not None:
        assert result.captions["baseline"].startswith("EigenCAM on layer")


# --- cost -------------------------------------------------------------------------------------------------


def test_cost_is_labelled_with_the_models_size_and_classes(service: DemoService) -> None:
    result = service.cost(23, "sppf", "gate")
    assert result.imgsz == 256 and result.nc == 4
    assert "256 px" in result.label and "4 classes" in result.label and "4 classes" in result.note
    resized = service.cost(23, "sppf", "gate", 320)
    assert "320 px" in resized.label and "run at 256 px" in resized.label
    assert resized.summary[0]["params"] == result.summary[0]["params"]  # same classes, same weights


def test_cost_tables_are_readable(service: DemoService) -> None:
    result = service.cost(53, "sppf", "gate", 256)
    for rows in (result.summary, result.lska, result.layers):
        assert all("_" not in column for column in rows[0])
    unit = result.lska[0]
    assert unit["LSKA unit"] == "9 LSKA gate (backbone P5)"
    assert unit["1-D kernels"] == "1×5, 5×1, 1×17, 17×1 (dilation 3)"
    assert unit["kernel wider than map"].startswith("yes")  # 53 > 8 cells at 256 px
    assert "1×a then a×1" in result.note
    names = [row["layer (variant)"] for row in result.layers]
    assert names[8] == "8 C2f (backbone P5)" and names[9] == "9 LSKA gate (backbone P5)"
    assert result.layers[9]["baseline layer"] == "new" and result.layers[9]["Δ parameters"] > 0


def test_layer_labels_follow_the_table() -> None:
    labels = layer_labels(VariantSpec(k=23, point="head"))
    assert labels[16] == "16 LSKA gate (neck P3)" and labels[-1].startswith("25 Detect")
    assert layer_labels(VariantSpec(k=23, point="residual"))[2] == "2 C2f with LSKA gates (backbone P2)"
    assert layer_labels(VariantSpec(k=23, point="residual", design="lka"))[2].startswith("2 C2f with LKA gates")
    assert layer_labels(VariantSpec(k=1, point="neck", design="pointwise"))[13] == "13 1×1 pointwise gate (neck P4)"
    assert layer_labels(VariantSpec(k=23, point="sppf", design="lska_trivial"))[9].startswith("9 LSKA-trivial gate")


def test_an_adapter_pairs_cams_are_named_by_role(service: DemoService, picture: np.ndarray) -> None:
    """k=7 at the neck is answered by an adapter beside the pointwise gate: the CAMs say "Control", not "Baseline"."""
    result = service.attention(picture, 7, "neck", "gate", ZOO, "eigen")
    shown = show_captions(result.captions)
    assert (shown[4].label, shown[5].label) == ("Control CAM", "LSKA CAM")


def test_an_adapter_pairs_erf_titles_name_the_control(service: DemoService) -> None:
    result = service.erf(None, 7, "neck", "gate", ZOO, n=1)
    assert result.titles[0].startswith("control yolov8n-pointwise-neck-adapter-s0 · layer")
    assert result.titles[1].startswith("LSKA k=7 at neck · layer")
    assert service.erf(None, 23, "sppf", "gate", ZOO, n=1).titles[0].startswith("baseline yolov8n-s0")


def test_every_word_of_the_erf_names_the_design_shown(service: DemoService) -> None:
    """LKA-trivial at residual: the warning, the caption and the table speak of LKA-trivial, never of LSKA."""
    result = service.erf(None, 23, "residual", "gate", ZOO, n=1, design="lka_trivial")
    assert "nothing about LKA-trivial" in result.warning and "LKA-trivial (" in result.warning
    assert "for LKA-trivial" in result.caption and "for the baseline" in result.caption
    assert list(result.table[0])[1:] == ["baseline: area", "LKA-trivial: area"]
    assert "LSKA" not in result.warning + result.caption
    adapter = service.erf(None, 7, "neck", "gate", ZOO, n=1)
    assert list(adapter.table[0])[1:] == ["control: area", "LSKA: area"] and "for the control" in adapter.caption


def test_every_event_a_change_triggers_runs_for_the_last_change() -> None:
    """Gradio gives an event listener the trigger mode of its first trigger: one that starts with the page's load
    is "once", which drops a change arriving while the listener runs. Choosing k and then a point quickly left the
    pictures' labels on the old point; every listener a change triggers must run again for the last one."""
    from lska_demo.ui.app import build_ui

    page = build_ui()
    dropping = [
        fn.name for fn in page.fns.values() if "change" in (t[1] for t in fn.targets) and fn.trigger_mode == "once"
    ]
    assert not dropping, f"listeners that drop a change while they run: {dropping}"


def _listeners() -> dict[int, tuple[Any, dict[str, Any]]]:
    """Every listener of the page: its function and its dependency config (which holds what it is chained to)."""
    from lska_demo.ui.app import build_ui

    page = build_ui()
    return {dep["id"]: (page.fns[dep["id"]], dep) for dep in page.get_config_file()["dependencies"]}


def _asked(listeners: dict[int, tuple[Any, dict[str, Any]]]) -> set[int]:
    """The listeners a visitor's own action starts: a click or a tab selection, and what is chained after them."""
    asked = {i for i, (_, dep) in listeners.items() if {t[1] for t in dep["targets"]} & {"click", "select"}}
    while True:
        chained = {i for i, (_, dep) in listeners.items() if dep.get("trigger_after") in asked} - asked
        if not chained:
            return asked
        asked |= chained


def test_no_button_waits_behind_the_views_a_settings_change_starts() -> None:
    """Under load Gradio re-runs a change's listeners while a later change is pending; in the pool of Export and
    Compare they held an Export click for over 90 s in a CI run. Work a change or the page's load starts by itself
    runs in pools that no button's work shares."""
    listeners = _listeners()
    asked = _asked(listeners)
    queued = {i: fn for i, (fn, _) in listeners.items() if fn.queue}
    button_pools = {fn.concurrency_id for i, fn in queued.items() if i in asked}
    assert {"light", "heavy"} <= button_pools
    sharing = [
        (fn.name, fn.concurrency_id) for i, fn in queued.items() if i not in asked and fn.concurrency_id in button_pools
    ]
    assert not sharing, f"listeners a change starts, in a pool a button's work uses: {sharing}"


def test_no_event_has_two_listeners_that_rerun_each_other() -> None:
    """When a deferred ``always_last`` listener finishes, Gradio re-dispatches its whole event, so two such
    listeners of one event re-run each other while their runs overlap: after one change of k, the status and the
    pictures' labels re-ran every 0.2 s for three minutes in a browser. Each event may have one; a listener chained
    after another is re-dispatched alone, and the page's load fires once."""
    from collections import Counter

    deferring = Counter(
        target
        for fn, dep in _listeners().values()
        if fn.fn is not None and fn.trigger_mode == "always_last"
        for target in dep["targets"]
        if target[1] not in ("then", "success", "load")
    )
    shared = {target: n for target, n in deferring.items() if n > 1}
    assert not shared, f"events with several listeners that re-run each other: {shared}"
