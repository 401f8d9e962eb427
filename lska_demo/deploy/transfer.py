"""The transfer check: what a YAML edit does to a pretrained YOLOv8 before any training starts.

Ultralytics' ``BaseModel.load`` keeps a pretrained tensor only where the new model has the same key and the
same shape (``intersect_dicts``). Inserting a row shifts every later layer index, so ``model.12.cv1...`` of
the checkpoint lands on a different layer or nowhere: most of the head silently starts from random weights.
``yolo.graft`` instead copies every tensor to its layer's new index. This module counts both, lists the
inserted modules with their channels after width scaling, the shifted indices and the rewritten ``from``
entries, and for a user's own YAML names every row that does not resolve, and why.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from ultralytics.nn.tasks import DetectionModel, parse_model
from ultralytics.utils.torch_utils import intersect_dicts

from lska_demo.analysis.cost import _counterparts, model_cost
from lska_demo.model.yolo import VariantSpec, build_model, graft, spec_of, variant_yaml

PROBE_SIZE = 64  # a forward at this size records every layer's channels; stride 32 needs a multiple of 32


class TransferError(ValueError):
    """A YAML or checkpoint the check cannot read: the message says what is wrong (never a stack trace)."""


@dataclass
class RowFailure:
    """A row of a user's YAML that Ultralytics' ``parse_model`` cannot build."""

    index: int
    module: str
    reason: str


@dataclass
class InsertedModule:
    index: int
    type: str
    kind: str  # "inserted" (a new row) or "replaced" (same index, another type, e.g. C2f -> C2fLSKA)
    in_channels: int
    out_channels: int


@dataclass
class TransferReport:
    """Everything ``check`` prints: structure, cost and how many pretrained tensors would load."""

    name: str
    baseline: str
    imgsz: int
    inserted: list[InsertedModule] = field(default_factory=list)
    shifted: dict[int, int] = field(default_factory=dict)  # baseline index -> variant index
    rewritten_from: list[dict[str, Any]] = field(default_factory=list)
    baseline_gflops: float = 0.0
    gflops: float = 0.0
    pretrained_tensors: int = 0
    yaml_edit_loaded: int = 0
    graft_loaded: int | None = None  # None: graft does not apply (a user's own YAML)
    failures: list[RowFailure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def yaml_edit_share(self) -> float:
        return self.yaml_edit_loaded / self.pretrained_tensors if self.pretrained_tensors else 0.0

    @property
    def graft_share(self) -> float | None:
        if self.graft_loaded is None or not self.pretrained_tensors:
            return None
        return self.graft_loaded / self.pretrained_tensors

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "yaml_edit_share": self.yaml_edit_share, "graft_share": self.graft_share}


def load_baseline(base: str | Path | None, nc: int = 80, scale: str = "n") -> tuple[DetectionModel, str]:
    """The pretrained baseline: a trusted Ultralytics checkpoint or a zoo model id the operator names, or a freshly
    built YOLOv8 of ``scale`` and ``nc``, whose tensor names and shapes are those of the official weights."""
    if base is None:
        return build_model(VariantSpec(scale=scale, nc=nc)), f"a freshly built yolov8{scale} ({nc} classes)"
    from lska_demo.zoo.manifest import ZooError
    from lska_demo.zoo.ref import load_model

    try:
        model, label = load_model(base)  # a trusted checkpoint path, or a zoo id through the verified loader
    except ZooError as err:
        raise TransferError(f"--base: {err}") from err
    if not isinstance(model, DetectionModel):
        raise TransferError(f"{label} is not a detection checkpoint ({type(model).__name__})")
    return model, label


def _module_name(row: list[Any]) -> str:
    return str(row[2]) if len(row) > 2 else "?"


def _resolve(name: str) -> None:
    """Raise KeyError/AttributeError exactly as parse_model's name lookup would."""
    from ultralytics.nn import tasks

    if name.startswith("nn."):
        getattr(nn, name[3:])
    elif name.startswith("torchvision.ops."):
        getattr(__import__("torchvision").ops, name[16:])
    else:
        vars(tasks)[name]


def _explain(name: str, err: Exception) -> str:
    if isinstance(err, KeyError | AttributeError):
        return (
            f"'{name}' is not a module Ultralytics knows: parse_model looks names up in ultralytics.nn.tasks, so "
            f"import its class and register it first (setattr(ultralytics.nn.tasks, '{name}', {name}); "
            f"`import lska_demo` does this for LSKA, LSKABlock and C2fLSKA)"
        )
    return f"building '{name}' failed with {type(err).__name__}: {str(err)[:200]}"


def _names_earlier_row(f: Any, i: int) -> bool:
    """Whether a ``from`` entry of row i names an earlier row (row 0's -1 is the input image)."""
    if isinstance(f, bool) or not isinstance(f, int):
        return False
    return (i == 0 and f == -1) or (0 <= i + f < i if f < 0 else f < i)


def row_failures(d: dict[str, Any]) -> list[RowFailure]:
    """Every row of a model dict that does not resolve, and why.

    Names and ``from`` indices are checked on every row. Construction (channels, arguments) is tried row by
    row; only the first row that fails to build is reported, since every later row's channels depend on it.
    """
    rows = list(d.get("backbone") or []) + list(d.get("head") or [])
    failures: list[RowFailure] = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != 4:
            failures.append(RowFailure(i, "?", "a row must be [from, repeats, module, args]"))
            continue
        name = _module_name(row)
        try:
            _resolve(name)
        except (KeyError, AttributeError) as err:
            failures.append(RowFailure(i, name, _explain(name, err)))
        sources = row[0] if isinstance(row[0], list) else [row[0]]
        bad = [f for f in sources if not _names_earlier_row(f, i)]
        if bad:
            failures.append(RowFailure(i, name, f"'from' {bad} does not name an earlier row (rows 0..{i - 1})"))
    if failures:
        return failures
    for i, row in enumerate(rows):
        partial = {**d, "backbone": rows[: i + 1], "head": []}
        try:
            parse_model(copy.deepcopy(partial), ch=3, verbose=False)
        except Exception as err:  # any error of a user's module is reported, not raised
            return [RowFailure(i, _module_name(row), _explain(_module_name(row), err))]
    return []


def _channels(model: DetectionModel) -> list[tuple[int, int]]:
    """(input, output) channels of every top-level layer, from one forward of zeros."""
    seen: dict[int, tuple[int, int]] = {}

    def hook(index: int) -> Any:
        def record(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            x = inputs[0]
            c_in = sum(t.shape[1] for t in x) if isinstance(x, list) else x.shape[1]
            c_out = output.shape[1] if isinstance(output, torch.Tensor) else 0
            seen[index] = (int(c_in), int(c_out))

        return record

    handles = [layer.register_forward_hook(hook(i)) for i, layer in enumerate(model.model)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, PROBE_SIZE, PROBE_SIZE))
    finally:
        for h in handles:
            h.remove()
    return [seen.get(i, (0, 0)) for i in range(len(model.model))]


def graft_loaded_count(baseline: DetectionModel, spec: VariantSpec) -> int:
    """Baseline tensors that ``graft`` carries over: same suffix at the layer's new index, same shape, same
    values in the grafted model."""
    _, index_map = variant_yaml(replace(spec, scale=spec_of(baseline).scale, nc=int(baseline.yaml["nc"])))
    grafted = graft(baseline, spec).state_dict()
    count = 0
    for key, tensor in baseline.state_dict().items():
        _, index, rest = key.split(".", 2)
        target = grafted.get(f"model.{index_map[int(index)]}.{rest}")
        count += target is not None and target.shape == tensor.shape and torch.equal(target, tensor)
    return count


def compare(
    baseline: DetectionModel, variant: DetectionModel, name: str, base_label: str, imgsz: int
) -> TransferReport:
    """Structure, cost and plain-YAML-edit transfer of ``variant`` against ``baseline`` (no graft share)."""
    pairs = _counterparts(variant.model, baseline.model)
    base_to_var = {b: v for v, b in pairs.items()}
    channels = _channels(variant)
    inserted = [
        InsertedModule(v, type(layer).__name__, "inserted" if v not in pairs else "replaced", *channels[v])
        for v, layer in enumerate(variant.model)
        if v not in pairs or type(layer) is not type(baseline.model[pairs[v]])
    ]
    rewritten = []
    for v, b in sorted(pairs.items()):
        old, new = baseline.model[b].f, variant.model[v].f
        if old != new:
            kind = type(variant.model[v]).__name__
            rewritten.append({"index": v, "baseline_index": b, "type": kind, "from": old, "new_from": new})
    loaded = intersect_dicts(baseline.state_dict(), variant.state_dict())
    return TransferReport(
        name=name,
        baseline=base_label,
        imgsz=imgsz,
        inserted=inserted,
        shifted={b: v for b, v in sorted(base_to_var.items()) if b != v},
        rewritten_from=rewritten,
        baseline_gflops=model_cost(baseline, imgsz).gflops,
        gflops=model_cost(variant, imgsz).gflops,
        pretrained_tensors=len(baseline.state_dict()),
        yaml_edit_loaded=len(loaded),
    )


def check_spec(spec: VariantSpec, base: str | Path | None = None, imgsz: int = 640) -> TransferReport:
    """The transfer check of a generated variant against a baseline (a checkpoint, or a fresh YOLOv8).

    The variant takes the baseline's scale and class count: the question is which pretrained tensors land.
    """
    if spec.is_baseline:
        raise TransferError("the check needs an LSKA variant: pass --k")
    baseline, label = load_baseline(base, nc=spec.nc, scale=spec.scale)
    aligned = replace(spec, scale=spec_of(baseline).scale, nc=int(baseline.yaml["nc"]))
    report = compare(baseline, build_model(aligned), aligned.name, label, imgsz)
    report.graft_loaded = graft_loaded_count(baseline, aligned)
    if aligned != spec:
        report.notes.append(f"checked at the baseline's scale '{aligned.scale}' and {aligned.nc} classes")
    return report


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A user's model YAML as a dict; TransferError with the reason if it is not one."""
    path = Path(path)
    try:
        d = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise TransferError(f"cannot read {path.name} as YAML ({type(err).__name__})") from err
    if not isinstance(d, dict) or not isinstance(d.get("backbone"), list) or not isinstance(d.get("head"), list):
        raise TransferError(f"{path.name} is not an Ultralytics model YAML (it needs 'backbone' and 'head' lists)")
    return d


def check_yaml(path: str | Path, base: str | Path | None = None, imgsz: int = 640) -> TransferReport:
    """The transfer check of a user's own model YAML; rows that fail to resolve are reported, not raised."""
    d = read_yaml(path)
    scale = d.get("scale") or next(iter(d.get("scales") or {"n": None}))
    d["scale"] = scale
    baseline, label = load_baseline(base, nc=int(d.get("nc", 80)), scale=scale)
    name = Path(path).stem
    failures = row_failures(d)
    if failures:
        report = TransferReport(name=name, baseline=label, imgsz=imgsz, failures=failures)
        report.pretrained_tensors = len(baseline.state_dict())
        return report
    try:
        variant = DetectionModel(copy.deepcopy(d), ch=3, nc=int(d.get("nc", 80)), verbose=False).eval()
    except Exception as err:  # e.g. Detect's stride probe on a head that does not run
        fail = RowFailure(len(d["backbone"]) + len(d["head"]) - 1, "model", _explain("model", err))
        return TransferReport(name=name, baseline=label, imgsz=imgsz, failures=[fail])
    return compare(baseline, variant, name, label, imgsz)


def render(report: TransferReport) -> str:
    """The check as Markdown (also plain-text readable)."""
    lines = [f"## Transfer check: {report.name} vs {report.baseline}", ""]
    if report.failures:
        lines += ["Rows that do not resolve:", ""]
        lines += [f"- row {f.index} `{f.module}`: {f.reason}" for f in report.failures]
        return "\n".join(lines) + "\n"
    if report.notes:
        lines += [*(f"- {n}" for n in report.notes), ""]
    lines += ["| index | module | kind | in ch | out ch |", "|---:|---|---|---:|---:|"]
    lines += [f"| {m.index} | {m.type} | {m.kind} | {m.in_channels} | {m.out_channels} |" for m in report.inserted]
    shifted = ", ".join(f"{b}→{v}" for b, v in report.shifted.items()) or "none"
    lines += ["", f"Shifted layer indices: {shifted}", ""]
    if report.rewritten_from:
        lines += ["`from` entries rewritten:", ""]
        lines += [f"- layer {r['index']} {r['type']}: {r['from']} → {r['new_from']}" for r in report.rewritten_from]
        lines.append("")
    lines.append(
        f"GFLOPs at {report.imgsz} px: {report.baseline_gflops:.3f} → {report.gflops:.3f} (2 x MACs, FlopCounterMode)"
    )
    n = report.pretrained_tensors
    lines.append(
        f"Pretrained tensors that load with a plain YAML edit (same key and shape, as Ultralytics' load): "
        f"{report.yaml_edit_loaded}/{n} ({100 * report.yaml_edit_share:.1f} %)"
    )
    if report.graft_loaded is not None:
        lines.append(
            f"Pretrained tensors carried over by lska_demo's graft: {report.graft_loaded}/{n} "
            f"({100 * (report.graft_share or 0.0):.1f} %)"
        )
    return "\n".join(lines) + "\n"


def render_dict(result: dict[str, Any]) -> str:
    return str(result["markdown"])
