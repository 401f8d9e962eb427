"""The transfer check: shares asserted against a direct count, and a custom module reported by row."""

from pathlib import Path

import pytest
import torch

from lska_demo.deploy.transfer import TransferError, check_spec, check_yaml, render
from lska_demo.model.yolo import VariantSpec, build_model, export_yaml


def _direct_count(pretrained: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> int:
    """What Ultralytics' load keeps: same key, same shape."""
    return sum(1 for key, t in pretrained.items() if key in target and target[key].shape == t.shape)


@pytest.mark.parametrize("point", ["sppf", "neck", "residual"])
def test_shares_match_a_direct_count(point: str) -> None:
    spec = VariantSpec(k=23, point=point, nc=4)
    report = check_spec(spec, imgsz=256)
    baseline, variant = build_model(VariantSpec(nc=4)).state_dict(), build_model(spec).state_dict()
    assert report.pretrained_tensors == len(baseline)
    assert report.yaml_edit_loaded == _direct_count(baseline, variant)
    assert report.graft_loaded == len(baseline) and report.graft_share == 1.0
    assert report.gflops > report.baseline_gflops > 0
    if point == "residual":  # C2fLSKA keeps every key and shape of the C2f it replaces
        assert report.yaml_edit_share == 1.0 and not report.shifted
        assert [m.kind for m in report.inserted] == ["replaced"] * 4
    else:
        assert report.yaml_edit_share < 0.7  # every later layer moved: most of the head starts from random


def test_sppf_structure_channels_shifts_and_rewritten_from() -> None:
    report = check_spec(VariantSpec(k=23, point="sppf", nc=4), imgsz=256)
    assert [(m.index, m.type, m.in_channels, m.out_channels) for m in report.inserted] == [(9, "LSKA", 256, 256)]
    assert report.shifted == {i: i + 1 for i in range(9, 23)}
    detect = next(r for r in report.rewritten_from if r["type"] == "Detect")
    assert detect["from"] == [15, 18, 21] and detect["new_from"] == [16, 19, 22]
    assert "100.0 %" in render(report)


def test_scaled_channels_follow_the_width_multiple() -> None:
    report = check_spec(VariantSpec(k=11, point="sppf", scale="s", nc=4), imgsz=128)
    assert report.inserted[0].in_channels == 512  # yolov8s: 1024 x width 0.5, capped at max_channels


def test_user_yaml_with_an_unknown_module_names_the_row(tmp_path: Path) -> None:
    text = export_yaml(VariantSpec(k=23, point="neck", nc=4)).replace("LSKA, [c2, 23]", "MyAttention, [c2, 23]", 1)
    path = tmp_path / "custom.yaml"
    path.write_text(text)
    report = check_yaml(path, imgsz=128)
    assert [(f.index, f.module) for f in report.failures] == [(13, "MyAttention")]
    assert "ultralytics.nn.tasks" in report.failures[0].reason
    assert "row 13 `MyAttention`" in render(report)


def test_user_yaml_with_bad_arguments_and_bad_from(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(export_yaml(VariantSpec(k=23, point="sppf", nc=4)))
    assert not check_yaml(good, imgsz=128).failures
    bad_args = tmp_path / "args.yaml"
    bad_args.write_text(good.read_text().replace("LSKA, [c2, 23]", "LSKA, [c2, 24]"))
    failure = check_yaml(bad_args, imgsz=128).failures
    assert [f.index for f in failure] == [9] and "ValueError" in failure[0].reason
    bad_from = tmp_path / "from.yaml"
    bad_from.write_text(good.read_text().replace("[[16, 19, 22], 1, Detect", "[[16, 19, 40], 1, Detect"))
    assert "[40]" in check_yaml(bad_from, imgsz=128).failures[0].reason
    junk = tmp_path / "junk.yaml"
    junk.write_text("just: text\n")
    with pytest.raises(TransferError, match="backbone"):
        check_yaml(junk)
