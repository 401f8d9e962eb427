"""LSKA inside YOLOv8: YAML generation, every insertion point x every k, graft identity, train/reload."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from ultralytics import YOLO
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils import ASSETS

from lska_demo.benchmark.images import letterbox, load_image
from lska_demo.core.runtime import PROJECT_ROOT
from lska_demo.model.kernels import LSKA, PAPER_KERNEL_SIZES, LSKABlock
from lska_demo.model.yolo import (
    INSERTION_POINTS,
    C2fLSKA,
    VariantSpec,
    build_model,
    export_yaml,
    graft,
    lska_layers,
    save_checkpoint,
    variant_yaml,
)


def _rows(spec: VariantSpec) -> list[list]:
    d, _ = variant_yaml(spec)
    return d["backbone"] + d["head"]


@pytest.mark.parametrize("point", list(INSERTION_POINTS))
@pytest.mark.parametrize("k", PAPER_KERNEL_SIZES)
def test_every_point_and_k_builds_and_runs(point: str, k: int) -> None:
    model = build_model(VariantSpec(k=k, point=point, nc=3))
    with torch.no_grad():
        out = model(torch.rand(1, 3, 96, 96))[0]
    assert out.shape[:2] == (1, 4 + 3)
    gates = lska_layers(model)
    assert gates and all(g.k_size == k for _, g in gates)
    expected = {"residual": 1 + 2 + 2 + 1, "sppf": 1, "neck": 4, "head": 3}[point]  # n scale: repeats 1, 2, 2, 1
    assert len(gates) == expected


@pytest.mark.parametrize("point", list(INSERTION_POINTS))
def test_van_block_builds_at_every_point(point: str) -> None:
    model = build_model(VariantSpec(k=11, point=point, block="van", nc=2))
    assert any(isinstance(m, LSKABlock) for m in model.modules())
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64))[0].shape[1] == 6


def test_sppf_row_shifts_every_later_index() -> None:
    rows = _rows(VariantSpec(k=23, point="sppf"))
    assert rows[9][2] == "LSKA" and rows[10][2] == "SPPF"
    assert rows[9][3] == ["c2", 23]  # channels come from the previous row, never typed in
    concat_sources = [r[0] for r in rows if r[2] == "Concat"]
    assert concat_sources == [[-1, 6], [-1, 4], [-1, 13], [-1, 10]]
    assert rows[-1] == [[16, 19, 22], 1, "Detect", ["nc"]]


def test_neck_is_inline_and_head_is_a_branch() -> None:
    neck = _rows(VariantSpec(k=23, point="neck"))
    lska_rows = [i for i, r in enumerate(neck) if r[2] == "LSKA"]
    assert lska_rows == [13, 17, 21, 25]
    assert neck[-1][0] == [17, 21, 25]  # Detect reads the attended maps
    assert [r[0] for r in neck if r[2] == "Concat"] == [[-1, 6], [-1, 4], [-1, 13], [-1, 9]]
    head = _rows(VariantSpec(k=23, point="head"))
    assert [i for i, r in enumerate(head) if r[2] == "LSKA"] == [16, 20, 24]
    assert head[-1][0] == [16, 20, 24]
    assert head[17][0] == 15 and head[21][0] == 19  # the neck keeps reading the un-attended C2f outputs


def test_residual_replaces_backbone_c2f_only() -> None:
    rows = _rows(VariantSpec(k=7, point="residual"))
    assert [i for i, r in enumerate(rows) if r[2] == "C2fLSKA"] == [2, 4, 6, 8]
    assert sum(r[2] == "C2f" for r in rows) == 4  # the neck's C2f blocks are untouched


@pytest.mark.parametrize("scale", ["n", "s"])
def test_channels_follow_the_scale(scale: str) -> None:
    model = build_model(VariantSpec(k=23, point="residual", scale=scale, nc=1))
    widths = {"n": 256, "s": 512}
    assert next(m for m in model.model if isinstance(m, C2fLSKA)).cv1.conv.in_channels == widths[scale] // 8
    assert model.model[8].cv2.conv.out_channels == widths[scale]


def test_exported_yaml_builds_the_same_model(tmp_path: Path) -> None:
    spec = VariantSpec(k=35, point="head", nc=5)
    path = tmp_path / f"{spec.name}.yaml"
    path.write_text(export_yaml(spec))
    assert yaml.safe_load(path.read_text())["nc"] == 5
    via_ultralytics = YOLO(str(path)).model
    ours = build_model(spec)
    assert sum(p.numel() for p in via_ultralytics.parameters()) == sum(p.numel() for p in ours.parameters())
    assert len(lska_layers(via_ultralytics)) == 3


def test_registration_lets_a_handwritten_tutorial_yaml_work(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """
        nc: 2
        backbone:
          - [-1, 1, Conv, [16, 3, 2]]
          - [-1, 1, LSKA, [c2, 53]]
          - [-1, 1, Conv, [32, 3, 2]]
          - [-1, 1, LSKABlock, [c2, 7]]
        head:
          - [[1, 3], 1, Detect, [nc]]
        """
    )
    model = DetectionModel(yaml.safe_load(text), nc=2, verbose=False)
    assert isinstance(model.model[1], LSKA) and model.model[1].conv1.in_channels == 16
    assert isinstance(model.model[3], LSKABlock) and model.model[3].proj_1.in_channels == 32


@pytest.mark.parametrize("point", list(INSERTION_POINTS))
@pytest.mark.parametrize("block", ["gate", "van"])
def test_graft_predicts_exactly_what_the_baseline_predicts(point: str, block: str) -> None:
    from ultralytics.utils.nms import non_max_suppression

    torch.manual_seed(0)
    baseline = build_model(VariantSpec(nc=80))
    grafted = graft(baseline, VariantSpec(k=23, point=point, block=block), gate_scale=0.0)
    assert lska_layers(grafted)
    image, _, _ = letterbox(load_image(ASSETS / "bus.jpg"), 320)
    with torch.no_grad():
        a, b = baseline(image)[0], grafted(image)[0]
    assert torch.equal(a, b)
    boxes_a = non_max_suppression(a, conf_thres=0.001)[0]
    boxes_b = non_max_suppression(b, conf_thres=0.001)[0]
    assert torch.equal(boxes_a, boxes_b)


def test_graft_refuses_a_model_that_has_lska() -> None:
    with pytest.raises(ValueError, match="already contains LSKA"):
        graft(build_model(VariantSpec(k=7, nc=2)), VariantSpec(k=11, nc=2))


def test_spec_validation_messages() -> None:
    with pytest.raises(ValueError, match="insertion point"):
        VariantSpec(k=23, point="backbone")
    with pytest.raises(ValueError, match="block kind"):
        VariantSpec(k=23, block="cbam")
    with pytest.raises(ValueError, match="kernel size 24"):
        VariantSpec(k=24)
    with pytest.raises(ValueError, match="classes"):
        VariantSpec(nc=0)


def test_train_save_reload_in_fresh_process_and_train_again(tiny_data: Path, tmp_path: Path) -> None:
    from lska_demo.train.trainer import Recipe, train

    recipe = Recipe(epochs=1, imgsz=64, batch=4, workers=0)
    spec = VariantSpec(k=11, point="neck", nc=4)
    first = train("scratch", tiny_data, recipe, spec=spec, out=tmp_path / "runs", name="first")
    assert len(lska_layers(YOLO(str(first.weights)).model)) == 4
    script = textwrap.dedent(
        f"""
        import lska_demo, torch
        from ultralytics import YOLO
        from lska_demo.model.yolo import lska_layers
        model = YOLO({str(first.weights)!r})
        assert len(lska_layers(model.model)) == 4
        model.predict(torch.rand(1, 3, 64, 64), imgsz=64, verbose=False)
        model.train(data={str(tiny_data)!r}, epochs=1, imgsz=64, batch=4, workers=0, device="cpu",
                    project={str(tmp_path / "again")!r}, name="run", plots=False, val=False, verbose=False)
        assert len(lska_layers(model.model)) == 4, "LSKA was dropped by training from the checkpoint"
        print("RELOADED-AND-TRAINED")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert "RELOADED-AND-TRAINED" in done.stdout, done.stderr[-3000:]


def test_grafted_checkpoint_keeps_lska_through_training(tiny_data: Path, tmp_path: Path) -> None:
    from lska_demo.train.trainer import Recipe, train

    recipe = Recipe(epochs=1, imgsz=64, batch=4, workers=0)
    base = train("scratch", tiny_data, recipe, spec=VariantSpec(nc=4), out=tmp_path / "runs", name="base")
    grafted = train(
        "graft",
        tiny_data,
        recipe,
        spec=VariantSpec(k=7, point="residual", nc=4),
        base_weights=base.weights,
        out=tmp_path / "runs",
        name="graft",
    )
    model = YOLO(str(grafted.weights)).model
    assert sum(isinstance(m, C2fLSKA) for m in model.modules()) == 4
    assert base.kernel_change is None  # no large kernel to move
    assert grafted.kernel_change is not None and grafted.kernel_change > 0.01  # near-identity graft: they learn
    assert isinstance(save_checkpoint(model, tmp_path / "copy.pt"), Path)


def test_info_and_yaml_commands(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from lska_demo.__main__ import main

    assert main(["info", "--k", "53", "--point", "neck", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "yolov8n-lska53-neck" and len(info["layers"]) == 27
    assert sum(r["module"].endswith(".LSKA") for r in info["layers"]) == 4
    assert info["params"] == sum(p.numel() for p in build_model(VariantSpec(k=53, point="neck")).parameters())
    assert main(["yaml", "--k", "7", "--point", "residual", "--nc", "3"]) == 0
    assert "C2fLSKA, [c2, 7, 3, depth, true, gate]" in capsys.readouterr().out
    assert main(["info", "--k", "24"]) == 2
    assert "kernel size 24" in capsys.readouterr().err


def test_a_baseline_has_one_canonical_form() -> None:
    assert VariantSpec(point="neck", block="van", nc=4) == VariantSpec(nc=4)  # no LSKA: point and block are moot
    assert VariantSpec(k=23, point="neck", block="van", scale="s", nc=4).baseline() == VariantSpec(scale="s", nc=4)
    assert VariantSpec(k=23, point="neck").point == "neck"  # a variant keeps its choices
