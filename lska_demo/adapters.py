"""The adapter regime's freeze: which tensors of a graft come from its parent, and how to keep them still.

A variant grafted into a trained plain YOLOv8 (``yolo.graft``) takes every tensor but its inserted
modules from the parent. Training only those modules (``zoo.adapter_keys``: the adapter) on the frozen
parent describes the variant by the parent plus a few kilobytes, shipped by ``zoo.ship_adapter`` and
loaded by ``zoo.load_entry``. This module says what Ultralytics' ``freeze`` must cover and checks that
the freeze held.
"""

from __future__ import annotations

from functools import lru_cache

from torch import nn

from lska_demo.yolo import VariantSpec, build_model, variant_yaml
from lska_demo.zoo import adapter_keys


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
