"""Adapters: a variant described by its parent plus the inserted modules' tensors.

A variant grafted into a trained plain YOLOv8 (``graft``) takes every tensor but its inserted modules from
the parent. Training only those modules (``adapter_keys``: the adapter) on the frozen parent describes the
variant by the parent plus a few kilobytes, written by ``ship_adapter`` and rebuilt by ``attach_adapter``.
This module also says what Ultralytics' ``freeze`` must cover and checks that the freeze held.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from torch import nn
from ultralytics.nn.tasks import DetectionModel

from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.core.safeweights import SUFFIX, load_strict, parse, write
from lska_demo.model.yolo import VariantSpec, build_model, graft, variant_yaml
from lska_demo.zoo.manifest import sha256_of


def adapter_keys(parent: nn.Module, variant: nn.Module, spec: VariantSpec) -> set[str]:
    """The state-dict keys of ``variant`` (a graft of ``parent``) that the parent does not provide: what an
    adapter file holds, the inserted modules' tensors."""
    _, index_map = variant_yaml(spec)
    provided = set()
    for key in parent.state_dict():
        _, layer, rest = key.split(".", 2)  # "model.<layer>.<rest>"
        provided.add(f"model.{index_map[int(layer)]}.{rest}")
    return set(variant.state_dict()) - provided


def attach_adapter(parent: nn.Module, entry: dict[str, Any], data: bytes) -> DetectionModel:
    """The variant of an adapter entry: ``parent`` grafted with the entry's spec, then the adapter's tensors
    (``data``, already sha256-verified) copied in strictly. The one way an adapter becomes a model, for the
    zoo's loader and for the adapter trainer's evaluation alike.

    Args:
        parent: the entry's parent model, as ``load_entry`` returns it (not modified).
        entry: the adapter's manifest entry (``spec`` and ``parent`` are checked against the file).
        data: the adapter file's bytes.
    """
    spec = VariantSpec(**entry["spec"])
    variant = graft(parent, spec)
    load_strict(variant, parse(data, "adapter", entry["spec"], entry["parent"]), adapter_keys(parent, variant, spec))
    return variant


def ship_adapter(
    variant: nn.Module, parent: nn.Module, entry: dict[str, Any], weights_dir: str | Path = WEIGHTS_DIR
) -> dict[str, Any]:
    """Write ``<id>.safetensors`` with only the tensors ``variant`` adds to ``parent`` (dtypes as they are:
    pass the model exactly as it was evaluated); returns the manifest fields it sets.

    Args:
        variant: the trained graft of ``parent`` (the parent's own tensors unchanged: frozen).
        parent: the shipped full model it was grafted on, as ``load_entry`` returns it.
        entry: the adapter's manifest entry (``id``, ``spec``, ``parent`` are used).
        weights_dir: where the file goes.
    """
    state = variant.state_dict()
    tensors = {k: state[k] for k in adapter_keys(parent, variant, VariantSpec(**entry["spec"]))}
    path = write(Path(weights_dir) / f"{entry['id']}{SUFFIX}", tensors, "adapter", entry["spec"], entry["parent"])
    return {"file": path.name, "sha256": sha256_of(path), "format": "adapter"}


def parent_spec(spec: VariantSpec) -> VariantSpec:
    """The plain YOLOv8 that ``spec`` is grafted into (same scale and class count)."""
    return spec.baseline()


def parent_keys(spec: VariantSpec) -> dict[str, str]:
    """Variant state-dict key -> parent key, for every tensor the variant takes from its parent."""
    _, index_map = variant_yaml(spec)
    mapping = {}
    for key in build_model(parent_spec(spec)).state_dict():
        _, row, rest = key.split(".", 2)  # every key of a DetectionModel reads model.<row>.<rest>
        mapping[f"model.{index_map[int(row)]}.{rest}"] = key
    return mapping


@lru_cache(maxsize=64)
def adapter_key_set(spec: VariantSpec) -> frozenset[str]:
    """``zoo.adapter_keys`` of ``spec`` from freshly built models; cached, as it builds two."""
    if spec.is_baseline:
        raise ValueError("a plain YOLOv8 has no adapter: give a variant with a gate (k set)")
    return frozenset(adapter_keys(build_model(parent_spec(spec)), build_model(spec), spec))


def frozen_modules(spec: VariantSpec) -> list[str]:
    """Ultralytics ``freeze`` entries (row indices or module paths below ``model.``) covering every
    tensor from the parent and no adapter tensor: whole rows where possible, sub-modules inside rows that
    carry gates (the residual point's C2fLSKA)."""
    adapter = adapter_key_set(spec)
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


def frozen_max_change(parent: nn.Module, model: nn.Module, spec: VariantSpec) -> float:
    """Largest absolute change, over every tensor the variant took from ``parent`` (BatchNorm buffers
    included), between the parent and the trained variant: 0.0 when the freeze held."""
    before, after = parent.state_dict(), model.state_dict()
    changes = [
        (after[new].double() - before[old].double()).abs().max().item() for new, old in parent_keys(spec).items()
    ]
    return max(changes, default=0.0)
