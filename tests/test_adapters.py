"""Gate designs in the variant spec, identity grafts, and the adapter regime (keys, files, rebuild, freeze)."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lska_demo.benchmark.data import BenchmarkConfig, dataset_hash
from lska_demo.core.safeweights import FORMATS, WeightsError, metadata_of, write
from lska_demo.model.kernels import DESIGNS, GATES, LSKA, PointwiseGate
from lska_demo.model.yolo import (
    INSERTION_POINTS,
    VariantSpec,
    build_model,
    export_yaml,
    graft,
    kernel_change,
    large_kernels,
)
from lska_demo.train.trainer import (
    KERNEL_ADAM_EPS,
    KERNEL_LR_SCALE,
    LSKADetectionTrainer,
    Recipe,
    graft_init,
    with_kernel_lr_scale,
)
from lska_demo.zoo.adapters import adapter_key_set, attach_adapter, frozen_modules, parent_keys, ship_adapter
from lska_demo.zoo.build import build_zoo
from lska_demo.zoo.build_adapters import ADAPTER_FRACTION, ADAPTER_RECIPE, build_adapters
from lska_demo.zoo.load import load_checkpoint_model, load_entry
from lska_demo.zoo.manifest import Manifest, ZooError, sha256_of
from lska_demo.zoo.plan import PlanItem, adapters_plan

DESIGN_K = {"pointwise": 1, "lska": 7, "lka": 7, "lska_trivial": 7, "lka_trivial": 7}


def _seeded_parent(nc: int = 4) -> torch.nn.Module:
    torch.manual_seed(0)
    parent = build_model(VariantSpec(nc=nc))
    for m in parent.modules():  # non-trivial BatchNorm statistics, so a graft that drops them would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    return parent


def _output(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)[0]


@pytest.mark.parametrize("design", sorted(GATES))
def test_every_design_builds_from_yaml_and_runs(design: str) -> None:
    spec = VariantSpec(k=DESIGN_K[design], point="sppf", nc=4, design=design)
    text = export_yaml(spec)
    assert f"1, {GATES[design].__name__}, [c2, {DESIGN_K[design]}]]" in text
    model = build_model(spec)
    assert isinstance(model.model[9], GATES[design])
    assert _output(model, torch.rand(1, 3, 64, 64)).shape[:2] == (1, 8)


def test_design_names_and_validation() -> None:
    assert VariantSpec(k=23, design="lka").name == "yolov8n-lka23-sppf"
    assert VariantSpec(k=23, design="lska_trivial", point="neck").name == "yolov8n-lska-trivial23-neck"
    assert VariantSpec(k=1, design="pointwise", point="head").name == "yolov8n-pointwise-head"
    assert VariantSpec(k=23).name == "yolov8n-lska23-sppf"  # LSKA's names are unchanged
    with pytest.raises(ValueError, match="receptive field k is 1"):
        VariantSpec(k=23, design="pointwise")
    with pytest.raises(ValueError, match="gate design"):
        VariantSpec(k=23, design="cbam")
    with pytest.raises(ValueError, match="LSKA only"):
        VariantSpec(k=23, design="lka", block="van")
    assert not list(PointwiseGate(8).depthwise_convs())


def test_lska_parameter_names_and_residual_yaml_unchanged() -> None:
    assert [n for n, _ in LSKA(4, 23).named_parameters()][::2] == [
        "conv0h.weight",
        "conv0v.weight",
        "conv_spatial_h.weight",
        "conv_spatial_v.weight",
        "conv1.weight",
    ]
    assert "C2fLSKA, [c2, 7, 3, depth, true, gate]]" in export_yaml(VariantSpec(k=7, point="residual"))
    assert "C2fLSKA, [c2, 7, 3, depth, true, gate, lka]]" in export_yaml(
        VariantSpec(k=7, point="residual", design="lka")
    )


@pytest.mark.parametrize(
    ("design", "point"), [(d, "sppf") for d in sorted(GATES)] + [("pointwise", p) for p in INSERTION_POINTS]
)
def test_graft_is_identity_for_every_design(design: str, point: str) -> None:
    parent = _seeded_parent()
    x = torch.rand(1, 3, 64, 64)
    spec = VariantSpec(k=DESIGN_K[design], point=point, nc=4, design=design)
    assert torch.equal(_output(graft(parent, spec, gate_scale=0.0), x), _output(parent, x))
    near = _output(graft(parent, spec), x)  # the default: near-identity, so the kernels can learn
    assert torch.allclose(near, _output(parent, x), rtol=0.05, atol=0.05)


def _tensors(out: object) -> list[torch.Tensor]:
    """Every tensor of a model's output, whatever nesting Ultralytics' train mode uses."""
    if isinstance(out, torch.Tensor):
        return [out]
    items = out.values() if isinstance(out, dict) else out
    return [t for item in items for t in _tensors(item)]


@pytest.mark.parametrize(
    ("design", "point"), [(d, "sppf") for d in sorted(DESIGNS)] + [("lska", p) for p in INSERTION_POINTS]
)
def test_grafted_kernels_receive_a_gradient_on_the_first_step(design: str, point: str) -> None:
    parent = _seeded_parent()
    grafted = graft(parent, VariantSpec(k=DESIGN_K[design], point=point, nc=4, design=design)).train()
    out = grafted(torch.rand(2, 3, 64, 64))
    sum(t.square().sum() for t in _tensors(out)).backward()
    kernels = large_kernels(grafted)
    assert kernels
    for key, weight in kernels.items():
        assert weight.grad is not None and weight.grad.abs().max() > 0, f"{key} gets no gradient"


def test_a_zero_gate_blocks_the_kernels_gradient() -> None:
    """Why the graft is near-identity, not exact: behind a zero 1x1 conv the kernels never learn."""
    parent = _seeded_parent()
    grafted = graft(parent, VariantSpec(k=23, point="sppf", nc=4), gate_scale=0.0).train()
    out = grafted(torch.rand(2, 3, 64, 64))
    sum(t.square().sum() for t in _tensors(out)).backward()
    assert all(w.grad is None or w.grad.abs().max() == 0 for w in large_kernels(grafted).values())


def test_kernel_change_is_relative_l2_from_init() -> None:
    init = {"a": torch.ones(2, 1, 1, 3), "b": torch.zeros(2, 1, 3, 1)}
    assert kernel_change(init, init) == 0.0
    moved = {"a": torch.ones(2, 1, 1, 3) * 1.1, "b": torch.zeros(2, 1, 3, 1)}
    assert kernel_change(init, moved) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        kernel_change(init, {"a": init["a"]})


def adapter_keys(spec: VariantSpec) -> list[str]:
    return sorted(adapter_key_set(spec))


def test_adapter_keys_are_exactly_the_inserted_modules() -> None:
    pointwise = VariantSpec(k=1, point="sppf", nc=4, design="pointwise")
    assert adapter_keys(pointwise) == ["model.9.conv1.bias", "model.9.conv1.weight"]
    lska = VariantSpec(k=23, point="neck", nc=4)
    keys = adapter_keys(lska)
    rows = sorted({int(k.split(".")[1]) for k in keys})
    assert rows == [13, 17, 21, 25] and len(keys) == 4 * 10
    residual = VariantSpec(k=7, point="residual", nc=4, design="lka")
    assert all(".attn." in k for k in adapter_keys(residual))
    variant = build_model(residual).state_dict()
    assert set(adapter_keys(residual)) | set(parent_keys(residual)) == set(variant)
    assert set(parent_keys(residual).values()) == set(build_model(VariantSpec(nc=4)).state_dict())


@pytest.mark.parametrize("point", list(INSERTION_POINTS))
def test_freeze_list_covers_the_parent_and_spares_the_adapter(point: str) -> None:
    spec = VariantSpec(k=7, point=point, nc=4)
    names = [f"model.{x}." for x in frozen_modules(spec)]  # Ultralytics' own matching rule
    adapter = set(adapter_keys(spec))
    for key in build_model(spec).state_dict():
        assert any(n in key for n in names) != (key in adapter), key


def test_adapter_file_round_trip_through_the_zoo_loader(tmp_path: Path) -> None:
    parent = _seeded_parent()
    spec = VariantSpec(k=11, point="residual", nc=4, design="lska")
    trained = graft(parent, spec)
    torch.manual_seed(1)
    with torch.no_grad():
        for key, tensor in trained.state_dict().items():
            if key in adapter_key_set(spec):
                tensor.normal_()  # stands in for training: the adapter moves, nothing else does
    entry = {"id": "a", "spec": asdict(spec), "parent": "parent-id"}
    entry.update(ship_adapter(trained, parent, entry, tmp_path))
    data = (tmp_path / entry["file"]).read_bytes()
    assert metadata_of(data)["format"] == FORMATS["adapter"] == "lska-lens/adapter-v1"
    assert sorted(load_file(tmp_path / entry["file"])) == adapter_keys(spec)
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(_output(attach_adapter(parent, entry, data), x), _output(trained, x))
    assert not torch.equal(_output(trained, x), _output(parent, x))
    with pytest.raises(WeightsError, match="parent"):
        attach_adapter(parent, {**entry, "parent": "other"}, data)
    with pytest.raises(WeightsError, match="spec"):
        attach_adapter(parent, {**entry, "spec": asdict(VariantSpec(k=7, point="residual", nc=4))}, data)


def test_adapters_plan_covers_the_grid_and_the_designs() -> None:
    plan = adapters_plan()
    assert len({item.id for item in plan}) == len(plan) == 45
    assert all(item.mode == "adapter" and item.parent == "yolov8n-s0" for item in plan)
    first = {(i.spec.k, i.spec.point, i.spec.design, i.seed) for i in plan[:15]}  # the design table comes first
    designs = ("lska", "lka", "lska_trivial", "lka_trivial")
    assert first == {(23, "sppf", d, s) for d in designs for s in range(3)} | {
        (1, "sppf", "pointwise", s) for s in range(3)
    }
    grid = {(i.spec.k, i.spec.point) for i in plan if i.spec.design == "lska" and i.seed == 0}
    assert len(grid) == 24
    sweep_ends = {(i.spec.k, i.seed) for i in plan if i.spec.point == "sppf" and i.spec.k in (7, 53)}
    assert sweep_ends == {(k, s) for k in (7, 53) for s in range(3)}
    assert {i.spec.point for i in plan if i.spec.design == "pointwise"} == {"sppf", "residual", "neck", "head"}
    with pytest.raises(ZooError, match="build_adapters"):
        build_zoo(plan[:1])


def test_adapter_training_freezes_the_parent_and_ships_what_it_evaluated(tiny_data: Path, tmp_path: Path) -> None:
    weights, out = tmp_path / "weights", tmp_path / "out"
    parent_spec = VariantSpec(nc=4)
    shipped_state = {k: v.half() if v.is_floating_point() else v for k, v in _seeded_parent().state_dict().items()}
    parent_file = write(weights / "parent.safetensors", shipped_state, "full", asdict(parent_spec))  # fp16, as shipped
    config = BenchmarkConfig(seed=3, imgsz=64, train=12, val=4, test=4, min_size=0.3)
    benchmark = {"config": config.__dict__, "data_hash": dataset_hash(tiny_data.parent), "classes": []}
    parent_entry = {"id": "parent", "file": parent_file.name, "sha256": sha256_of(parent_file), "mode": "finetune"}
    parent_entry |= {"format": "full", "spec": asdict(parent_spec), "seed": 0}
    Manifest(benchmark, [parent_entry]).save(weights)
    specs = [VariantSpec(k=7, point="residual", nc=4), VariantSpec(k=1, point="head", nc=4, design="pointwise")]
    plan = [PlanItem(f"{s.name}-a", "adapter", s, 0, "parent") for s in specs]
    recipe = Recipe(epochs=1, imgsz=64, batch=4, workers=0)
    manifest = build_adapters(plan, out, weights, recipe, fraction=1.0, log=lambda line: None)

    parent = load_entry(parent_entry, weights)
    for item in plan:
        entry = manifest.entry(item.id)
        assert entry["frozen_max_change"] == 0.0 and entry["regime"] == entry["format"] == "adapter"
        assert entry["parent"] == "parent" and entry["data_hash"] == benchmark["data_hash"]
        assert entry["init"] == graft_init(KERNEL_LR_SCALE)  # the scale the run used, recorded
        assert sha256_of(out / entry["file"]) == entry["sha256"] and set(entry["metrics"]) == {"mAP50", "mAP50-95"}
        tensors = load_file(out / entry["file"])
        assert sorted(tensors) == adapter_keys(item.spec)
        assert entry["adapter_params"] == sum(t.numel() for t in tensors.values())
        trained_dir = out / "runs" / item.id / "train" / "weights"
        trained = load_checkpoint_model(next(trained_dir.glob("*.pt")))
        assert any(t.abs().max() > 0 for k, t in tensors.items() if k.endswith("conv1.weight")), "it trained"
        x = torch.rand(1, 3, 64, 64)
        shipped = attach_adapter(parent, entry, (out / entry["file"]).read_bytes())
        assert torch.equal(_output(shipped, x), _output(trained, x))
    assert json.loads((out / "manifest.json").read_text())["benchmark"] == benchmark
    logged: list[str] = []
    build_adapters(plan, out, weights, recipe, fraction=1.0, log=logged.append)
    assert all("done already" in line for line in logged)
    assert not (weights / plan[0].id).with_suffix(".safetensors").exists()


@pytest.mark.parametrize("scale", [KERNEL_LR_SCALE, 10.0])
def test_the_large_kernels_train_in_their_own_group_at_the_scaled_learning_rate(scale: float) -> None:
    model = build_model(VariantSpec(k=23, point="residual", nc=4))
    trainer = object.__new__(with_kernel_lr_scale(LSKADetectionTrainer, scale))  # only build_optimizer is called
    optimizer = trainer.build_optimizer(model, name="AdamW", lr=5e-4, momentum=0.9, decay=5e-4)
    groups = {group["param_group"]: group for group in optimizer.param_groups}
    kernels = {id(w) for w in large_kernels(model).values()}
    assert {id(p) for p in groups["kernels"]["params"]} == kernels and len(kernels) == 24  # 6 bottlenecks x 4 kernels
    assert all(id(p) not in kernels for name, g in groups.items() if name != "kernels" for p in g["params"])
    assert groups["kernels"]["lr"] == pytest.approx(5e-4 * scale) and groups["weight"]["lr"] == 5e-4
    assert groups["kernels"]["eps"] == KERNEL_ADAM_EPS
    assert with_kernel_lr_scale(LSKADetectionTrainer, KERNEL_LR_SCALE) is LSKADetectionTrainer


def test_zoo_only_trains_the_matching_items_in_plan_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from lska_demo.cli.main import main
    from lska_demo.zoo import build_adapters as adapters_module

    trained: list[str] = []

    recipes: list[tuple[object, ...]] = []

    def record(plan: list[PlanItem], *args: object, **kwargs: object) -> Manifest:
        trained.extend(item.id for item in plan)
        recipes.append(args[2:5])  # after the output and weights folders: recipe, fraction, kernel lr scale
        return Manifest()

    monkeypatch.setattr(adapters_module, "build_adapters", record)
    args = ["zoo", "--plan", "adapters", "--out", str(tmp_path), "--json", "--only"]
    assert main([*args, "*-neck-*", "*pointwise-sppf-adapter-s2"]) == 0
    expected = [i.id for i in adapters_plan() if "-neck-" in i.id or i.id == "yolov8n-pointwise-sppf-adapter-s2"]
    assert trained == expected and len(expected) == 8
    assert recipes == [(ADAPTER_RECIPE, ADAPTER_FRACTION, KERNEL_LR_SCALE)]  # the regime's own unless told otherwise
    assert main([*args, "*-neck-*", "--epochs", "2", "--fraction", "1", "--kernel-lr-scale", "10"]) == 0  # a trial
    assert recipes[-1][0].epochs == 2 and recipes[-1][1:] == (1.0, 10.0)
    assert main([*args, "no-such-model"]) == 2  # a message, no training
