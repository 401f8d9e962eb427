"""LSKA inside Ultralytics YOLOv8, with no edit to Ultralytics' source.

A model is a YAML table interpreted by Ultralytics' ``parse_model``; this module generates that table
for a variant (scale, k, insertion point, block kind), builds it, and grafts LSKA into a trained
baseline near the identity: its outputs start within about 0.1 % of the baseline's (exactly equal with
``gate_scale=0``, whose kernels would never learn).

Channels are never typed into the YAML: an argument ``c2`` is resolved by ``parse_model`` to the output
channels of the previous row, so every LSKA row reads the row right above it (``from: -1``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from ultralytics.nn.modules import C2f
from ultralytics.nn.modules.block import Bottleneck
from ultralytics.nn.tasks import DetectionModel, yaml_model_load

from lska_demo.model.kernels import (
    BLOCKS,
    GATE_LABELS,
    GATES,
    GRAFT_GATE_SCALE,
    LargeKernelGate,
    LSKABlock,
    build_block,
)

SCALES = ("n", "s", "m", "l", "x")

INSERTION_POINTS: dict[str, str] = {
    "residual": "inside the residual branch of every backbone C2f bottleneck (layers 2, 4, 6, 8): "
    "x + LSKA(cv2(cv1(x))); no layer index moves",
    "sppf": "between the last backbone C2f (layer 8) and SPPF: one row at index 9, later rows shift by one",
    "neck": "inline after each of the neck's four C2f blocks (layers 12, 15, 18, 21): every later layer, "
    "Detect included, sees the attended maps",
    "head": "one branch on each of P3, P4, P5 right before Detect: only Detect sees the attended maps, "
    "the neck is unchanged",
}

# Original YOLOv8 row indices of each point (0-based over backbone + head).
_BACKBONE_C2F = (2, 4, 6, 8)
_NECK_C2F = (12, 15, 18, 21)
_DETECT_INPUTS = (15, 18, 21)


class BottleneckLSKA(Bottleneck):
    """Ultralytics' Bottleneck with LSKA (or VAN's block) on the residual branch: x + attn(cv2(cv1(x))).

    Args:
        c1 (int): Input channels.
        c2 (int): Output channels.
        k_size (int): LSKA's receptive field k (one of the paper's sizes, or any size ``kernel_spec`` accepts).
        block (str): ``"gate"`` for the bare LSKA gate, ``"van"`` for VAN's attention block around it.
        shortcut (bool): Whether to add the input to the output (only when ``c1 == c2``).
        g (int): Groups of the second convolution.
        k (tuple): Kernel sizes of the two convolutions.
        e (float): Expansion ratio of the hidden channels.
    """

    def __init__(
        self,
        c1: int,
        c2: int,
        k_size: int,
        block: str = "gate",
        shortcut: bool = True,
        g: int = 1,
        k: tuple = (3, 3),
        e: float = 0.5,
        design: str = "lska",
    ) -> None:
        super().__init__(c1, c2, shortcut, g, k, e)
        self.attn = build_block(block, c2, k_size, design)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.attn(self.cv2(self.cv1(x)))
        return x + y if self.add else y


class C2fLSKA(C2f):
    """C2f whose bottlenecks carry LSKA on their residual branch; output channels equal input channels.

    ``n`` and ``depth`` arrive unscaled from the YAML (``parse_model`` scales repeats only for the modules
    it knows), so the repeat count is computed here exactly as Ultralytics computes it for C2f.

    Args:
        c1 (int): Input (and output) channels.
        k_size (int): LSKA's receptive field k in every bottleneck.
        n (int): Number of bottlenecks as written in the YAML, before depth scaling.
        depth (float): The model scale's depth multiple, applied to ``n`` as Ultralytics applies it to C2f.
        shortcut (bool): Whether the bottlenecks add their input to their output.
        block (str): ``"gate"`` for the bare LSKA gate, ``"van"`` for VAN's attention block around it.
    """

    def __init__(
        self,
        c1: int,
        k_size: int = 23,
        n: int = 1,
        depth: float = 1.0,
        shortcut: bool = True,
        block: str = "gate",
        design: str = "lska",
    ) -> None:
        repeats = max(round(n * depth), 1) if n > 1 else n
        super().__init__(c1, c1, repeats, shortcut)
        self.m = nn.ModuleList(
            BottleneckLSKA(self.c, self.c, k_size, block, shortcut, k=((3, 3), (3, 3)), e=1.0, design=design)
            for _ in range(repeats)
        )

    def reset_to_identity(self, scale: float = GRAFT_GATE_SCALE, seed: int = 0) -> None:
        for i, bottleneck in enumerate(self.m):
            bottleneck.attn.reset_to_identity(scale, seed + i)


YAML_MODULES: tuple[type[nn.Module], ...] = (*GATES.values(), LSKABlock, C2fLSKA)


def register_with_ultralytics() -> None:
    """Make the YAML names resolvable: ``parse_model`` looks module names up in its own module's globals."""
    from ultralytics.nn import tasks

    for module in YAML_MODULES:
        setattr(tasks, module.__name__, module)


@dataclass(frozen=True)
class VariantSpec:
    """One YOLOv8 model: ``k=None`` is the baseline.

    A baseline has no insertion point, block or design: they are set to the defaults, so that every baseline
    of a scale and class count is one value (equal, one cache key, one zoo entry), whatever a caller passed.
    ``design`` names the gate (kernels.GATES): one of the paper's four designs, or ``pointwise``, the
    control without a spatial kernel, whose receptive field ``k`` is 1.
    """

    k: int | None = None
    point: str = "sppf"
    block: str = "gate"
    scale: str = "n"
    nc: int = 80
    design: str = "lska"

    def __post_init__(self) -> None:
        if self.design not in GATES:
            raise ValueError(f"unknown gate design {self.design!r}; choose one of {sorted(GATES)}")
        if self.k is None:  # the canonical baseline (frozen: set through object's own setter)
            object.__setattr__(self, "point", "sppf")
            object.__setattr__(self, "block", "gate")
            object.__setattr__(self, "design", "lska")
        else:
            GATES[self.design].check_k_size(self.k)
        if self.block == "van" and self.design != "lska":
            raise ValueError(f"VAN's block carries LSKA only, not {self.design!r}")
        if self.point not in INSERTION_POINTS:
            raise ValueError(f"unknown insertion point {self.point!r}; choose one of {list(INSERTION_POINTS)}")
        if self.block not in BLOCKS:
            raise ValueError(f"unknown block kind {self.block!r}; choose one of {sorted(BLOCKS)}")
        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}; choose one of {SCALES}")
        if isinstance(self.nc, bool) or not isinstance(self.nc, int) or self.nc < 1:
            raise ValueError(f"number of classes must be a positive integer, got {self.nc!r}")

    @property
    def is_baseline(self) -> bool:
        return self.k is None

    @property
    def name(self) -> str:
        if self.is_baseline:
            return f"yolov8{self.scale}"
        suffix = "" if self.block == "gate" else f"-{self.block}"
        gate = "pointwise" if self.design == "pointwise" else f"{self.design.replace('_', '-')}{self.k}"
        return f"yolov8{self.scale}-{gate}-{self.point}{suffix}"

    def baseline(self) -> VariantSpec:
        """The baseline this variant is compared with: the same scale and class count, no LSKA."""
        return VariantSpec(scale=self.scale, nc=self.nc)


def _absolute(f: int | list[int], i: int) -> int | list[int]:
    if isinstance(f, list):
        return [x if x >= 0 else i + x for x in f]
    return f if f >= 0 else i + f


def _relative(f: int | list[int], i: int) -> int | list[int]:
    if isinstance(f, list):  # YOLOv8's own style: -1 only leads a list, as in [-1, 6]; Detect lists stay absolute
        return [-1 if x == i - 1 and j == 0 else x for j, x in enumerate(f)]
    return -1 if f == i - 1 else f


def _insert_rows(
    rows: list[list[Any]], after: dict[int, list[Any]], inline: bool
) -> tuple[list[list[Any]], dict[int, int]]:
    """Insert ``after[i]`` right after row i. Inline: every consumer of row i now reads the new row.
    Branch: only Detect reads it. Returns the new rows and the map old index -> new index."""
    rows = [[_absolute(f, i), n, m, list(args)] for i, (f, n, m, args) in enumerate(rows)]
    new_rows: list[list[Any]] = []
    index_of: dict[int, int] = {}
    consumer_of: dict[int, int] = {}
    detect_of: dict[int, int] = {}
    for i, row in enumerate(rows):
        index_of[i] = consumer_of[i] = detect_of[i] = len(new_rows)
        new_rows.append(row)
        if i in after:
            new_rows.append([len(new_rows) - 1, 1, *copy.deepcopy(after[i])])
            detect_of[i] = len(new_rows) - 1
            if inline:
                consumer_of[i] = detect_of[i]
    inserted = {index_of[i] + 1 for i in after}
    for j, row in enumerate(new_rows):
        if j in inserted:
            continue
        lookup = detect_of if row[2] == "Detect" else consumer_of
        f = row[0]
        row[0] = [lookup.get(x, x) for x in f] if isinstance(f, list) else lookup.get(f, f)  # -1 at row 0: input
    for j, row in enumerate(new_rows):
        row[0] = _relative(row[0], j)
    return new_rows, index_of


def variant_yaml(spec: VariantSpec) -> tuple[dict[str, Any], dict[int, int]]:
    """The model table of ``spec`` and the map from YOLOv8's layer indices to this table's."""
    base = yaml_model_load(f"yolov8{spec.scale}.yaml")
    d = {key: copy.deepcopy(base[key]) for key in ("nc", "scales", "backbone", "head")}
    d["nc"], d["scale"] = spec.nc, spec.scale
    n_backbone = len(d["backbone"])
    rows = d["backbone"] + d["head"]
    identity = {i: i for i in range(len(rows))}
    if spec.is_baseline:
        return d, identity
    module = LSKABlock if spec.block == "van" else GATES[spec.design]
    unit = [module.__name__, ["c2", spec.k]]
    if spec.point == "residual":
        for i in _BACKBONE_C2F:
            f, n, _, args = rows[i]
            shortcut = args[1] if len(args) > 1 else True
            design = [] if spec.design == "lska" else [spec.design]  # LSKA's rows stay as they always were
            rows[i] = [f, 1, "C2fLSKA", ["c2", spec.k, n, "depth", shortcut, spec.block, *design]]
        new_rows, index_map = rows, identity
    elif spec.point == "sppf":
        new_rows, index_map = _insert_rows(rows, {_BACKBONE_C2F[-1]: unit}, inline=True)
        n_backbone += 1
    elif spec.point == "neck":
        new_rows, index_map = _insert_rows(rows, dict.fromkeys(_NECK_C2F, unit), inline=True)
    else:  # head
        new_rows, index_map = _insert_rows(rows, dict.fromkeys(_DETECT_INPUTS, unit), inline=False)
    d["backbone"], d["head"] = new_rows[:n_backbone], new_rows[n_backbone:]
    return d, index_map


def export_yaml(spec: VariantSpec) -> str:
    """The model YAML of ``spec`` as text, ready for ``YOLO('file.yaml')`` once ``lska_demo`` is imported."""
    d, _ = variant_yaml(spec)
    header = [
        f"# {spec.name}: Ultralytics YOLOv8 generated by lska_demo",
        "# Load with: import lska_demo; from ultralytics import YOLO; YOLO('this.yaml')",
        "# 'c2' is the previous row's output channels and 'depth' the scale's depth multiple, both resolved",
        "# by Ultralytics' parse_model, so the file works at any scale (set `scale:`) and any class count.",
    ]
    if not spec.is_baseline:
        header.append(f"# {GATE_LABELS[spec.design]} k={spec.k} at '{spec.point}': {INSERTION_POINTS[spec.point]}")

    def row(r: list[Any]) -> str:
        return "  - " + yaml.safe_dump(r, default_flow_style=True, width=1000).strip()

    body = [
        f"nc: {d['nc']}",
        f"scale: {d['scale']}",
        "scales:",
        *(f"  {s}: {v}" for s, v in d["scales"].items()),
        "backbone:",
        *(row(r) for r in d["backbone"]),
        "head:",
        *(row(r) for r in d["head"]),
    ]
    return "\n".join(header + body) + "\n"


def build_model(spec: VariantSpec, verbose: bool = False) -> DetectionModel:
    """A freshly initialised DetectionModel of ``spec`` (eval mode, CPU).

    Args:
        spec: the variant (k, insertion point, block, design, scale, classes); ``k=None`` is plain YOLOv8.
        verbose: let Ultralytics print the layer table.

    Returns:
        The model, built by Ultralytics' ``parse_model`` from the generated YAML (``variant_yaml``).
    """
    d, _ = variant_yaml(spec)
    model = DetectionModel(d, ch=3, nc=spec.nc, verbose=verbose)
    return model.eval()


def spec_of(model: DetectionModel, **changes: Any) -> VariantSpec:
    """The baseline spec matching a model's scale and class count, with ``changes`` applied."""
    return VariantSpec(scale=model.yaml.get("scale", "n"), nc=int(model.yaml["nc"]), **changes)


def graft(
    baseline: DetectionModel, spec: VariantSpec, gate_scale: float = GRAFT_GATE_SCALE, seed: int = 0
) -> DetectionModel:
    """Insert LSKA into a trained baseline with near-identity initialisation.

    Args:
        baseline: a trained plain YOLOv8 ``DetectionModel``; its weights are copied to their new indices.
        spec: the variant to build (k, insertion point, block, design).
        gate_scale: std of each inserted unit's last 1x1 weight (``conv1`` of a gate, ``proj_2`` of VAN's
            block; bias 1 and 0). The graft's outputs stay within about this much of the baseline's, and
            the large kernels receive a gradient from the first step; 0 is the exact identity, whose
            kernels never learn.
        seed: seeds those 1x1 draws (the rest of the graft is the baseline's or the architecture's init).

    Returns:
        The grafted model, in the baseline's train/eval mode.
    """
    if spec.is_baseline:
        raise ValueError("graft needs an LSKA variant (k is None)")
    if any(isinstance(m, YAML_MODULES) for m in baseline.modules()):
        raise ValueError("graft needs a plain YOLOv8 baseline; this model already contains LSKA")
    spec = replace(spec, scale=baseline.yaml.get("scale", spec.scale), nc=int(baseline.yaml["nc"]))
    d, index_map = variant_yaml(spec)
    model = DetectionModel(d, ch=3, nc=spec.nc, verbose=False)
    for old, new in index_map.items():
        result = model.model[new].load_state_dict(baseline.model[old].state_dict(), strict=False)
        foreign = [key for key in result.missing_keys if ".attn." not in f".{key}"]
        if result.unexpected_keys or foreign:
            raise RuntimeError(f"layer {old} -> {new}: weights do not line up ({result})")
    for j, layer in enumerate(model.model):
        if j not in index_map.values() or isinstance(layer, C2fLSKA):
            layer.reset_to_identity(gate_scale, seed + j)
    model.names = dict(getattr(baseline, "names", model.names))
    model.args = getattr(baseline, "args", {})
    return model.train(baseline.training)


def lska_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every inserted gate in a model, by qualified name, whatever its design (LSKA, LKA, the trivial
    designs, the pointwise control); VAN blocks contribute their inner gate."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, LargeKernelGate)]


def large_kernels(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every depthwise kernel of every inserted gate (the weights LSKA is about), by state-dict key."""
    return {
        f"{name}.{stage}.weight": getattr(gate, stage).weight
        for name, gate in lska_layers(model)
        for stage in gate.stage_names[:-1]
    }


def kernel_change(init: dict[str, torch.Tensor], trained: dict[str, torch.Tensor]) -> float:
    """Relative L2 change of the large kernels from their init, ||w - w0|| / ||w0|| over all of them together:
    0 for kernels that never moved (e.g. behind a zero 1x1 conv)."""
    if set(init) != set(trained):
        raise ValueError("init and trained kernels do not name the same tensors")
    if not init:
        raise ValueError("the model has no large kernels")
    delta = sum(float((trained[k].double() - init[k].double()).pow(2).sum()) for k in init)
    norm = sum(float(init[k].double().pow(2).sum()) for k in init)
    return (delta / norm) ** 0.5


def save_checkpoint(model: DetectionModel, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """An Ultralytics-format checkpoint (half precision, no optimiser) that ``YOLO(path)`` loads and trains.

    Its ``model.yaml`` carries the LSKA rows, so Ultralytics' trainer rebuilds the same architecture.
    """
    import datetime

    import ultralytics

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "version": ultralytics.__version__,
        "epoch": -1,
        "best_fitness": None,
        "model": copy.deepcopy(model).half().eval(),
        "ema": None,
        "updates": None,
        "optimizer": None,
        "train_args": {"task": "detect", **(metadata or {}).get("train_args", {})},
        "train_metrics": {},
        "lska_demo": metadata or {},
    }
    torch.save(ckpt, path)
    return path
