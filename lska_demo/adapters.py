"""Adapters: only the inserted gates of a variant, on top of a shared plain parent, as safetensors.

A variant grafted into a trained plain YOLOv8 (``yolo.graft``) takes every tensor but its inserted
modules from the parent. When training touches only those modules (the adapter regime), the variant is
fully described by the parent plus a few kilobytes: the tensors of its state dict that the parent lacks.
The file carries the variant spec and the parent's id as metadata; nothing here unpickles.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from ultralytics.nn.tasks import DetectionModel

from lska_demo.yolo import VariantSpec, build_model, graft, variant_yaml

ADAPTER_FORMAT = "lska-lens/adapter-v1"


def parent_spec(spec: VariantSpec) -> VariantSpec:
    """The plain YOLOv8 that ``spec`` is grafted into (same scale and class count)."""
    return VariantSpec(scale=spec.scale, nc=spec.nc)


def parent_keys(spec: VariantSpec) -> dict[str, str]:
    """Variant state-dict key -> parent key, for every tensor the variant takes from its parent."""
    return dict(_key_split(spec)[0])


def adapter_keys(spec: VariantSpec) -> list[str]:
    """The keys of ``build_model(spec).state_dict()`` that do not come from the parent, sorted."""
    if spec.is_baseline:
        raise ValueError("a plain YOLOv8 has no adapter: give a variant with a gate (k set)")
    return list(_key_split(spec)[1])


@lru_cache(maxsize=64)
def _key_split(spec: VariantSpec) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """(variant key, parent key) pairs and the sorted adapter keys; cached, as it builds two models."""
    _, index_map = variant_yaml(spec)
    new_to_old = {new: old for old, new in index_map.items()}
    parent = build_model(parent_spec(spec)).state_dict()
    mapping: dict[str, str] = {}
    variant = build_model(spec).state_dict()
    for key, tensor in variant.items():
        _, row, rest = key.split(".", 2)  # every key of a DetectionModel reads model.<row>.<rest>
        old = new_to_old.get(int(row))
        source = f"model.{old}.{rest}"
        if old is not None and source in parent and parent[source].shape == tensor.shape:
            mapping[key] = source
    adapter = sorted(key for key in variant if key not in mapping)
    return tuple(mapping.items()), tuple(adapter)


def frozen_modules(spec: VariantSpec) -> list[str]:
    """Ultralytics ``freeze`` entries (row indices or module paths below ``model.``) covering every
    tensor from the parent and no adapter tensor: whole rows where possible, sub-modules inside rows that
    carry gates (the residual point's C2fLSKA)."""
    adapter = set(adapter_keys(spec))
    frozen: list[str] = []

    def visit(path: str, module: nn.Module) -> None:
        keys = [f"model.{path}.{key}" for key in module.state_dict()]
        if not any(key in adapter for key in keys):
            frozen.append(path)
            return
        if all(key in adapter for key in keys):
            return
        own = [name for name, _ in module.named_parameters(recurse=False)]
        own += [name for name, _ in module.named_buffers(recurse=False)]
        if any(f"model.{path}.{name}" not in adapter for name in own):
            raise ValueError(f"module model.{path} mixes parent and adapter tensors: cannot freeze it apart")
        for name, child in module.named_children():
            visit(f"{path}.{name}", child)

    for row, layer in enumerate(build_model(spec).model):
        visit(str(row), layer)
    return frozen


def adapter_state(model: nn.Module, spec: VariantSpec) -> dict[str, torch.Tensor]:
    """The adapter tensors of a trained variant, fp32, detached copies."""
    state = model.state_dict()
    return {key: state[key].detach().float().clone().contiguous() for key in adapter_keys(spec)}


def frozen_max_change(parent: nn.Module, model: nn.Module, spec: VariantSpec) -> float:
    """Largest absolute change, over every tensor the variant took from ``parent`` (BatchNorm buffers
    included), between the parent and the trained variant: 0.0 when the freeze held."""
    before, after = parent.state_dict(), model.state_dict()
    changes = [
        (after[new].double() - before[old].double()).abs().max().item() for new, old in parent_keys(spec).items()
    ]
    return max(changes, default=0.0)


def save_adapter(path: str | Path, tensors: Mapping[str, torch.Tensor], spec: VariantSpec, parent: str) -> Path:
    """Write the adapter tensors of ``spec`` with the spec and the parent's id as metadata."""
    expected = adapter_keys(spec)
    if sorted(tensors) != expected:
        raise ValueError(f"adapter keys differ from {spec.name}'s inserted modules")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"format": ADAPTER_FORMAT, "spec": json.dumps(asdict(spec), sort_keys=True), "parent": parent}
    tmp = path.with_suffix(".tmp")
    save_file({key: tensors[key].detach().float().contiguous() for key in expected}, str(tmp), metadata=metadata)
    tmp.chmod(0o644)  # safetensors writes owner-only files; a shipped file is world-readable
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


def load_adapter(path: str | Path) -> tuple[dict[str, torch.Tensor], VariantSpec, str]:
    """The tensors, spec and parent id of an adapter file; ValueError if it is not one."""
    with safe_open(str(path), framework="pt", device="cpu") as f:
        metadata = f.metadata() or {}
        if metadata.get("format") != ADAPTER_FORMAT or "spec" not in metadata or "parent" not in metadata:
            raise ValueError(f"{Path(path).name} is not an {ADAPTER_FORMAT} file")
        tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    return tensors, VariantSpec(**json.loads(metadata["spec"])), metadata["parent"]


def rebuild(parent: DetectionModel, tensors: Mapping[str, torch.Tensor], spec: VariantSpec) -> DetectionModel:
    """The variant of ``spec``: built from its YAML, the parent's tensors grafted in, then the adapter's
    tensors loaded strictly (exactly the adapter keys, each of the right shape). Eval mode."""
    if (parent.yaml.get("scale", "n"), int(parent.yaml["nc"])) != (spec.scale, spec.nc):
        raise ValueError(f"parent (scale, nc) differs from the adapter's ({spec.scale}, {spec.nc})")
    expected = adapter_keys(spec)
    if sorted(tensors) != expected:
        missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
        raise ValueError(f"adapter does not fit {spec.name}: missing {missing[:3]}, unexpected {extra[:3]}")
    model = graft(parent, spec)
    state = model.state_dict()
    for key in expected:
        if tensors[key].shape != state[key].shape:
            raise ValueError(
                f"adapter tensor {key} has shape {tuple(tensors[key].shape)}, not {tuple(state[key].shape)}"
            )
    model.load_state_dict({**state, **tensors}, strict=True)
    return model.eval()
