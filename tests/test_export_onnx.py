"""ONNX export of a LSKA variant through Ultralytics' exporter, checked against PyTorch in ONNX Runtime."""

from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

from lska_demo.deploy.onnx import DEFAULT_TOLERANCE, ExportError, export_and_check, latency
from lska_demo.model.yolo import VariantSpec, build_model, lska_layers
from lska_demo.zoo.load import load_checkpoint_model


def test_exported_lska_variant_matches_pytorch_in_onnxruntime(tmp_path: Path) -> None:
    spec = VariantSpec(k=23, point="neck", nc=4)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(spec)  # random weights: the LSKA gates are active, not the identity
    result = export_and_check(model, tmp_path, spec.name, imgsz=128)
    assert result.onnx.is_file() and result.parity.output_shape == [1, 4 + 4, 336]
    assert len(result.parity.per_image) == 4  # the shipped benchmark images
    assert result.parity.max_abs_diff <= DEFAULT_TOLERANCE and result.parity.ok
    graph = onnx.load(str(result.onnx)).graph
    convs = sum(node.op_type == "Conv" for node in graph.node)
    reference = load_checkpoint_model(result.checkpoint)
    assert len(lska_layers(reference)) == 4
    assert convs == sum(isinstance(m, nn.Conv2d) for m in reference.modules())  # no LSKA conv was dropped
    timing = latency({"lska": reference}, {"lska": result.onnx}, imgsz=128, repeats=1)
    assert {"torch/lska", "onnxruntime/lska"} <= set(timing)


def test_export_refuses_an_imgsz_off_the_stride(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="multiple of 32"):
        export_and_check(build_model(VariantSpec(k=7, nc=4)), tmp_path, "x", imgsz=100)
