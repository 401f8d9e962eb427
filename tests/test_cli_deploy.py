"""The deploy commands (experiment, check, export): registered, wired to their engines, zoo ids accepted,
and bad input answered with a message. Fast: the engines' heavy runs are tested in their own files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from lska_demo.cli.main import build_parser, main
from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.deploy import onnx as export_onnx
from lska_demo.deploy.onnx import DEFAULT_TOLERANCE, ExportResult, Parity
from lska_demo.deploy.transfer import check_spec
from lska_demo.experiment import paired as experiment
from lska_demo.model.yolo import VariantSpec, lska_layers
from lska_demo.zoo.load import load_checkpoint_model, load_entry
from lska_demo.zoo.manifest import Manifest, ZooError
from lska_demo.zoo.plan import NC
from lska_demo.zoo.ref import as_checkpoint, load_model, zoo_ids

ZOO_LSKA = "yolov8n-lska23-sppf-s0"


def test_the_three_commands_are_listed() -> None:
    text = build_parser().format_help()
    assert all(name in text for name in ("experiment", "check", "export"))


def test_check_prints_the_transfer_check_of_the_variant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--k", "23", "--point", "neck", "--nc", "4", "--imgsz", "128", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    direct = check_spec(VariantSpec(k=23, point="neck", nc=4), imgsz=128)
    assert result["yaml_edit_loaded"] == direct.yaml_edit_loaded and result["graft_share"] == 1.0
    assert [m["index"] for m in result["inserted"]] == [13, 17, 21, 25]
    assert "Pretrained tensors that load with a plain YAML edit" in result["markdown"]


def test_check_takes_a_zoo_id_as_base(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--k", "23", "--point", "sppf", "--base", "yolov8n-s0", "--imgsz", "128", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["baseline"] == "yolov8n-s0" and result["pretrained_tensors"] > 0 and result["graft_share"] == 1.0


def test_a_zoo_id_loads_through_the_verified_loader_and_becomes_a_checkpoint(tmp_path: Path) -> None:
    manifest = Manifest.load(WEIGHTS_DIR)
    model, label = load_model(ZOO_LSKA)
    assert label == ZOO_LSKA and len(lska_layers(model)) == 1 and model.args["imgsz"] == 256
    path = as_checkpoint(ZOO_LSKA, tmp_path)
    assert path.name.startswith(ZOO_LSKA) and as_checkpoint(ZOO_LSKA, tmp_path) == path  # written once
    reloaded = load_checkpoint_model(path).state_dict()
    shipped = load_entry(manifest.entry(ZOO_LSKA), WEIGHTS_DIR, manifest).half().float().state_dict()
    assert all(torch.equal(reloaded[k], v) for k, v in shipped.items())  # checkpoints are fp16, as Ultralytics'
    assert as_checkpoint(path, tmp_path / "other") == path  # a file stays itself
    assert ZOO_LSKA in zoo_ids()


def test_an_unknown_model_is_a_message_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ZooError, match="neither a checkpoint file nor a zoo model id"):
        load_model("/secret/place/nothing.pt")
    assert main(["export", "--k", "23", "--weights", "/secret/place/nothing.pt"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "nothing.pt" in err and "/secret" not in err


def _fake_export(calls: list[dict[str, Any]]) -> Any:
    def fake(model: Any, out_dir: Any, name: str, imgsz: int, tolerance: float = DEFAULT_TOLERANCE) -> ExportResult:
        calls.append({"model": model, "name": name, "imgsz": imgsz})
        parity = Parity(1e-5, {"a.jpg": 1e-5}, [1, 8, 336], tolerance)
        return ExportResult(Path(out_dir) / f"{name}.onnx", Path(out_dir) / f"{name}.pt", imgsz, parity)

    return fake


def test_export_takes_the_zoo_weights_a_zoo_id_or_the_untrained_architecture(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(export_onnx, "export_and_check", _fake_export(calls))
    out = ["--out", str(tmp_path)]
    assert main(["export", "--k", "23", "--point", "sppf", *out]) == 0  # the zoo's weights (its 4 classes)
    assert main(["export", "--weights", ZOO_LSKA, "--imgsz", "320", *out]) == 0
    off_grid = ["--k", "11", "--point", "head", "--design", "lka"]  # the zoo trains LKA at k=23 sppf only
    assert main(["export", *off_grid, *out]) == 2  # not in the zoo, and not asked for untrained
    assert "no trained weights" in capsys.readouterr().err
    assert main(["export", *off_grid, "--untrained", *out]) == 0
    zoo, by_id, untrained = calls
    assert (zoo["name"], zoo["imgsz"], by_id["name"], by_id["imgsz"]) == ("yolov8n-lska23-sppf", 256, ZOO_LSKA, 320)
    assert int(zoo["model"].yaml["nc"]) == NC and len(lska_layers(by_id["model"])) == 1
    assert untrained["name"] == "yolov8n-lka11-head" and untrained["imgsz"] == 640
    assert "max abs difference 1.00e-05, within the tolerance" in capsys.readouterr().out


def test_experiment_passes_a_zoo_id_and_the_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(data: str, spec: VariantSpec, seeds: int, base: Any, recipe: Any, out: Any, **kw: Any) -> Any:
        seen.update(data=data, spec=spec, seeds=seeds, base=base, recipe=recipe, progress=kw["progress"])
        return {"ok": True}

    monkeypatch.setattr(experiment, "run", fake_run)
    argv = ["experiment", "--data", "helmet.yaml", "--k", "23", "--seeds", "2", "--base", "yolov8n-scratch-s0"]
    assert main([*argv, "--epochs", "1", "--imgsz", "64", "--json"]) == 0
    assert seen["base"] == "yolov8n-scratch-s0" and seen["seeds"] == 2 and seen["spec"].k == 23
    assert (seen["recipe"].epochs, seen["recipe"].imgsz, seen["recipe"].lr0) == (1, 64, 0.0005)  # FINETUNE's lr0
    assert seen["progress"] is False  # --json: no progress bar on the terminal
    with pytest.raises(SystemExit):  # --base or --scratch is required
        build_parser().parse_args(["experiment", "--data", "helmet.yaml", "--k", "23"])


def test_experiment_refuses_an_unknown_base(tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(experiment.ExperimentError, match="--base: 'nothing-s9' is neither"):
        experiment.run(tiny_data, VariantSpec(k=7), 1, "nothing-s9", out=tmp_path, progress=False)
    assert experiment.base_checkpoint(ZOO_LSKA, tmp_path).parent == tmp_path / "base"
