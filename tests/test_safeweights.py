"""The shipped weights format and its verified loader: safetensors only, every failure a ZooError naming
the model, adapters on a verified parent, and no unpickling anywhere on the way."""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import torch

from conftest import make_fake_zoo
from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.core.safeweights import FORMATS, write
from lska_demo.model.kernels import LSKA as LSKA_MODULE
from lska_demo.model.yolo import VariantSpec, build_model, graft, save_checkpoint
from lska_demo.zoo.adapters import adapter_keys, ship_adapter
from lska_demo.zoo.convert import ship_full
from lska_demo.zoo.load import load_checkpoint_model, load_entry, load_zoo_model
from lska_demo.zoo.manifest import Manifest, ZooError, sha256_of

CONTROL = VariantSpec(nc=4)
LSKA = VariantSpec(k=7, point="neck", nc=4)


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    return make_fake_zoo(tmp_path, [CONTROL])


def _edit_entry(folder: Path, model_id: str, **changes: Any) -> None:
    manifest = Manifest.load(folder)
    manifest.upsert({**manifest.entry(model_id), **changes})
    manifest.save(folder)


def _refused(folder: Path, model_id: str, match: str) -> str:
    manifest = Manifest.load(folder)
    with pytest.raises(ZooError, match=match) as err:
        load_entry(manifest.entry(model_id), folder, manifest)
    message = str(err.value)
    assert model_id in message and str(folder) not in message, message
    return message


def test_full_model_loads_strictly_as_fp32_eval(zoo: Path) -> None:
    model, entry = load_zoo_model(CONTROL, folder=zoo)
    assert entry["format"] == "full" and not model.training
    assert model.names == {0: "circle", 1: "triangle", 2: "square", 3: "hexagon"}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert torch.equal(model.stride, torch.tensor([8.0, 16.0, 32.0]))


def test_tampered_bytes_are_refused(zoo: Path) -> None:
    path = zoo / "yolov8n-s0.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # one bit of one weight
    path.write_bytes(bytes(data))
    _refused(zoo, "yolov8n-s0", "sha256")


def test_missing_file_is_refused(zoo: Path) -> None:
    (zoo / "yolov8n-s0.safetensors").unlink()
    _refused(zoo, "yolov8n-s0", "missing")


def test_unknown_or_wrong_format_is_refused(zoo: Path) -> None:
    _edit_entry(zoo, "yolov8n-s0", format="pickle")
    _refused(zoo, "yolov8n-s0", "unknown weights format")
    _edit_entry(zoo, "yolov8n-s0", format="adapter", parent="yolov8n-s0")
    _refused(zoo, "yolov8n-s0", "not a shipped full model|format")


def test_spec_and_key_mismatches_are_refused(zoo: Path) -> None:
    _edit_entry(zoo, "yolov8n-s0", spec=asdict(LSKA))  # the manifest names another architecture than the file
    _refused(zoo, "yolov8n-s0", "saved for spec")
    state = build_model(CONTROL).state_dict()
    state.pop("model.22.dfl.conv.weight")
    path = write(zoo / "short.safetensors", state, "full", asdict(CONTROL))
    _edit_entry(zoo, "yolov8n-s0", spec=asdict(CONTROL), file=path.name, sha256=sha256_of(path))
    _refused(zoo, "yolov8n-s0", r"missing \['model.22.dfl.conv.weight'\]")
    state = build_model(VariantSpec(nc=3)).state_dict()  # same keys, other shapes
    path = write(zoo / "nc3.safetensors", state, "full", asdict(CONTROL))
    _edit_entry(zoo, "yolov8n-s0", file=path.name, sha256=sha256_of(path))
    _refused(zoo, "yolov8n-s0", "shapes differ")


def _ship_adapter(zoo: Path, tensors: dict[str, torch.Tensor], model_id: str = "lska7-neck-adapter-s0") -> None:
    path = write(zoo / f"{model_id}.safetensors", tensors, "adapter", asdict(LSKA), parent="yolov8n-s0")
    entry = {
        "id": model_id,
        "file": path.name,
        "sha256": sha256_of(path),
        "format": "adapter",
        "mode": "adapter",
        "regime": "adapter",
        "spec": asdict(LSKA),
        "parent": "yolov8n-s0",
        "seed": 0,
        "recipe": {"imgsz": 256},
        "metrics": {"mAP50": 0.5, "mAP50-95": 0.4},
    }
    manifest = Manifest.load(zoo)
    manifest.upsert(entry)
    manifest.save(zoo)


def _trained_adapter(zoo: Path) -> dict[str, torch.Tensor]:
    """The inserted modules' tensors of a graft of the shipped control, moved off the identity."""
    manifest = Manifest.load(zoo)
    parent = load_entry(manifest.entry("yolov8n-s0"), zoo, manifest)
    variant = graft(parent, LSKA)
    keys = adapter_keys(parent, variant, LSKA)
    assert keys and all(isinstance(variant.model[int(k.split(".")[1])], LSKA_MODULE) for k in keys)
    generator = torch.Generator().manual_seed(0)
    state = variant.state_dict()
    return {
        k: (state[k] + torch.rand(state[k].shape, generator=generator)).half()
        if state[k].is_floating_point()
        else state[k]
        for k in keys
    }


def test_adapter_loads_on_its_verified_parent(zoo: Path) -> None:
    tensors = _trained_adapter(zoo)
    _ship_adapter(zoo, tensors)
    manifest = Manifest.load(zoo)
    model = load_entry(manifest.entry("lska7-neck-adapter-s0"), zoo, manifest)
    parent = load_entry(manifest.entry("yolov8n-s0"), zoo, manifest)
    state = model.state_dict()
    for key, value in tensors.items():
        assert torch.equal(state[key], value.to(state[key].dtype)), key
    assert torch.equal(state["model.0.conv.weight"], parent.state_dict()["model.0.conv.weight"])
    assert not model.training and model.names == parent.names
    assert sum(p.numel() for p in tensors.values()) < 0.1 * sum(p.numel() for p in parent.state_dict().values())


def test_adapter_with_a_missing_or_foreign_key_is_refused(zoo: Path) -> None:
    tensors = _trained_adapter(zoo)
    dropped = sorted(tensors)[0]
    _ship_adapter(zoo, {k: v for k, v in tensors.items() if k != dropped})
    _refused(zoo, "lska7-neck-adapter-s0", "missing")
    _ship_adapter(zoo, {**tensors, "model.0.conv.weight": build_model(CONTROL).state_dict()["model.0.conv.weight"]})
    _refused(zoo, "lska7-neck-adapter-s0", "unexpected")


def test_adapter_whose_parent_is_tampered_is_refused(zoo: Path) -> None:
    _ship_adapter(zoo, _trained_adapter(zoo))
    (zoo / "yolov8n-s0.safetensors").write_bytes(b"\0" * 64)
    manifest = Manifest.load(zoo)
    with pytest.raises(ZooError, match=r"model yolov8n-s0: .* sha256"):  # the message names the parent at fault
        load_entry(manifest.entry("lska7-neck-adapter-s0"), zoo, manifest)


def test_shipped_models_load_without_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("something unpickled on the shipped path")

    for target, name in ((torch, "load"), (pickle, "load"), (pickle, "loads"), (pickle, "Unpickler")):
        monkeypatch.setattr(target, name, refuse)
    manifest = Manifest.load(WEIGHTS_DIR)
    shipped = [e for e in manifest.models if e.get("file")]
    assert shipped and all(e["file"].endswith(".safetensors") and e["format"] in FORMATS for e in shipped)
    assert not list(WEIGHTS_DIR.glob("*.pt")) and not list(WEIGHTS_DIR.glob("*.pth"))
    model, entry = load_zoo_model(VariantSpec(k=23, point="sppf", nc=4))
    assert entry["id"] == "yolov8n-lska23-sppf-s0" and not model.training
    for design in ("pointwise", "lska", "lka", "lska_trivial", "lka_trivial"):  # adapters: parent + gates
        spec = VariantSpec(k=1 if design == "pointwise" else 23, point="sppf", nc=4, design=design)
        entry = manifest.find(spec, regime="adapter")
        assert entry["format"] == "adapter" and entry["parent"] == "yolov8n-s0"
        assert not load_entry(entry, WEIGHTS_DIR, manifest).training


def test_conversion_keeps_the_checkpoint_bit_for_bit(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trusted = save_checkpoint(build_model(LSKA), tmp_path / "trained.pt")  # fp16, as Ultralytics stores it
    entry = {"id": "m", "spec": asdict(LSKA), "recipe": {"imgsz": 64}}
    entry.update(ship_full(trusted, entry, tmp_path))
    (tmp_path / "manifest.json").write_text(json.dumps({"benchmark": {}, "models": [entry]}))
    loaded = load_entry(entry, tmp_path)
    reference = load_checkpoint_model(trusted)
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(image)[0], reference(image)[0])
    assert entry["file"] == "m.safetensors" and entry["format"] == "full"


def test_ship_adapter_round_trips_through_the_loader(zoo: Path) -> None:
    manifest = Manifest.load(zoo)
    parent = load_entry(manifest.entry("yolov8n-s0"), zoo, manifest)
    variant = graft(parent, LSKA)
    with torch.no_grad():
        for module in variant.modules():
            if isinstance(module, LSKA_MODULE):
                module.conv1.weight.add_(0.1)  # "trained": off the identity
    entry = {"id": "a", "spec": asdict(LSKA), "parent": "yolov8n-s0", "mode": "adapter", "recipe": {"imgsz": 64}}
    entry.update(ship_adapter(variant, parent, entry, zoo))
    manifest.upsert(entry)
    manifest.save(zoo)
    size, parent_size = (zoo / entry["file"]).stat().st_size, (zoo / "yolov8n-s0.safetensors").stat().st_size
    assert size < parent_size / 5  # only the inserted modules (here fp32; fp16 halves it)
    loaded = load_entry(entry, zoo)
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(image)[0], variant.eval()(image)[0])
