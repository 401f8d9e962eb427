"""What a model or a design costs: parameters, FLOPs per layer and per LSKA gate, and latency.

Convention everywhere: GFLOPs = 2 x MACs / 1e9, counted by ``torch.utils.flop_counter.FlopCounterMode``.
That counter counts convolutions and matrix products (biases excluded) and does **not** count
elementwise work such as the gate's ``x * attn``, activations or BatchNorm; Ultralytics' ``model.info()``
(thop) counts a little more, about 1.3 % on YOLOv8n. Counting runs on a weightless copy of the model on
PyTorch's ``meta`` device, so it needs no arithmetic and takes a fraction of a second at any input size.
"""

from __future__ import annotations

import copy
import difflib
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lska_demo.analysis.exclusive import flop_counting
from lska_demo.model.kernels import DESIGNS, PAPER_KERNEL_SIZES, LargeKernelGate, build_design

GIGA = 1e9


@dataclass
class LayerCost:
    """One top-level YOLO layer (``model.model[index]``)."""

    index: int
    name: str
    type: str
    params: int
    gflops: float


@dataclass
class ModelCost:
    """A model's totals and per-layer breakdown at one square input size."""

    params: int
    gflops: float
    layers: list[LayerCost] = field(default_factory=list)
    imgsz: int = 640


@dataclass
class _Profile:
    """Per-module FLOPs (keyed by qualified name, root = "") and the input shape each LSKA gate saw."""

    flops: dict[str, int]
    gate_inputs: dict[str, tuple[int, ...]]


def _meta_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose parameters and buffers live on the meta device (no data is copied).

    Other tensor attributes (Ultralytics' Detect strides) stay on the CPU, where the head reads them as
    Python numbers; the shared model itself is never touched.
    """
    memo: dict[int, Any] = {id(p): nn.Parameter(torch.empty_like(p, device="meta"), False) for p in model.parameters()}
    memo.update({id(b): torch.empty_like(b, device="meta") for b in model.buffers()})
    return copy.deepcopy(model, memo)


def _count(model: nn.Module, x: torch.Tensor) -> _Profile:
    gates = {name: m for name, m in model.named_modules() if isinstance(m, LargeKernelGate)}
    shapes: dict[str, tuple[int, ...]] = {}
    handles = [
        m.register_forward_pre_hook(lambda _m, args, name=name: shapes.__setitem__(name, tuple(args[0].shape)))
        for name, m in gates.items()
    ]
    counter = FlopCounterMode(display=False)
    try:
        with flop_counting(), torch.no_grad(), counter:  # never beside a gradient pass (analysis.exclusive)
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    root = type(model).__name__
    flops: dict[str, int] = {}
    for key, per_op in counter.get_flop_counts().items():
        if key == root or key.startswith(root + "."):
            flops[key[len(root) + 1 :]] = int(sum(per_op.values()))
    return _Profile(flops=flops, gate_inputs=shapes)


def warm_up() -> None:
    """Count one tiny conv: FlopCounterMode's first use in a process imports torch's symbolic-shape machinery
    (sympy, fx), about a second here. The app runs this in the background at start, so that the first cost
    table a user asks for does not pay it."""
    _count(nn.Conv2d(1, 1, 1).to("meta"), torch.zeros(1, 1, 1, 1, device="meta"))


def _profile(model: nn.Module, imgsz: int, channels: int = 3) -> _Profile:
    """Count on the meta device; fall back to a real forward of zeros for a model meta tensors cannot run."""
    try:
        return _count(_meta_copy(model).eval(), torch.zeros(1, channels, imgsz, imgsz, device="meta"))
    except (NotImplementedError, RuntimeError):  # e.g. a data-dependent .item() in a custom head
        was_training = model.training
        try:
            return _count(model.eval(), torch.zeros(1, channels, imgsz, imgsz))
        finally:
            model.train(was_training)


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _layers(model: nn.Module) -> Sequence[nn.Module]:
    layers = getattr(model, "model", None)
    if not isinstance(layers, nn.Sequential | nn.ModuleList):
        raise ValueError("expected an Ultralytics model whose layers are model.model[i]")
    return layers


def _model_cost(model: nn.Module, imgsz: int, profile: _Profile) -> ModelCost:
    rows = [
        LayerCost(
            index=i,
            name=f"model.{i}",
            type=type(layer).__name__,
            params=_params(layer),
            gflops=profile.flops.get(f"model.{i}", 0) / GIGA,
        )
        for i, layer in enumerate(_layers(model))
    ]
    return ModelCost(params=_params(model), gflops=profile.flops.get("", 0) / GIGA, layers=rows, imgsz=imgsz)


def model_cost(model: nn.Module, imgsz: int = 640) -> ModelCost:
    """Parameters and GFLOPs (2 x MACs / 1e9, FlopCounterMode) of a YOLO model, per top-level layer.

    The forward is of a 1x3xSxS input in eval mode without gradients; ``x * attn`` is not counted.
    """
    return _model_cost(model, imgsz, _profile(model, imgsz))


def _gate_rows(model: nn.Module, profile: _Profile) -> list[dict[str, Any]]:
    from lska_demo.model.yolo import lska_layers

    rows = []
    for name, gate in lska_layers(model):
        _, channels, h, w = profile.gate_inputs.get(name, (1, gate.dim, 0, 0))
        depthwise = list(gate.stage_names[:-1])
        lengths = [max(getattr(gate, n).kernel_size) for n in depthwise]  # 1-D kernels: one side is 1
        dw_flops = sum(profile.flops.get(f"{name}.{n}", 0) for n in depthwise)
        pw_flops = profile.flops.get(f"{name}.conv1", 0)
        # FlopCounterMode counts 2 per multiply-add of a convolution and leaves the bias out.
        taps = sum(math.prod(getattr(gate, n).kernel_size) for n in depthwise)  # a 1-D kernel's length; LKA's k×k
        analytic = 2 * h * w * channels * taps + 2 * h * w * channels * channels
        rows.append(
            {
                "name": name,
                "k": gate.k_size,
                "feature_map": [h, w],
                "channels": channels,
                "kernel_lengths": lengths,
                "depthwise_gflops": dw_flops / GIGA,
                "pointwise_gflops": pw_flops / GIGA,
                "gflops": (dw_flops + pw_flops) / GIGA,
                "analytic_gflops": analytic / GIGA,
                "depthwise_params": sum(_params(getattr(gate, n)) for n in depthwise),
                "pointwise_params": _params(gate.conv1),
                "reads_padding": max(gate.k_size > h, gate.k_size > w),
            }
        )
    return rows


def lska_breakdown(model: nn.Module, imgsz: int = 640) -> list[dict[str, Any]]:
    """One row per LSKA gate: feature map, channels, depthwise (four 1-D convs) vs pointwise (1x1) cost.

    ``analytic_gflops`` is the closed form 2*H*W*C*(a + a + K + K) + 2*H*W*C*C (no bias terms: the counter
    leaves biases out) and equals the measured ``gflops``. ``reads_padding`` flags a kernel wider than its map.
    """
    return _gate_rows(model, _profile(model, imgsz))


def _normalised_type(layer: nn.Module) -> str:
    if isinstance(layer, LargeKernelGate):  # a gate lines up with a gate of another design (LSKA vs pointwise)
        return "gate"
    name = type(layer).__name__
    return "C2f" if name == "C2fLSKA" else name  # C2fLSKA replaces a C2f at the same index


def _counterparts(variant: Sequence[nn.Module], baseline: Sequence[nn.Module]) -> dict[int, int]:
    """Variant layer index -> baseline layer index, aligning the two layer-type sequences.

    Inserted LSKA rows have no counterpart; everything else lines up in order.
    """
    a = [_normalised_type(m) for m in variant]
    b = [_normalised_type(m) for m in baseline]
    pairs: dict[int, int] = {}
    for block in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
        pairs.update({block.a + j: block.b + j for j in range(block.size)})
    return pairs


def _delta(new: float, old: float) -> float | None:
    return None if old == 0 else 100.0 * (new - old) / old


def compare_cost(baseline: nn.Module, variant: nn.Module, imgsz: int = 640) -> dict[str, Any]:
    """Baseline vs variant totals, per-layer rows with their baseline counterpart, and the LSKA breakdown.

    JSON-ready. GFLOPs = 2 x MACs / 1e9 (FlopCounterMode; ``x * attn`` not counted).
    """
    base_profile, var_profile = _profile(baseline, imgsz), _profile(variant, imgsz)
    base, var = _model_cost(baseline, imgsz, base_profile), _model_cost(variant, imgsz, var_profile)
    pairs = _counterparts(_layers(variant), _layers(baseline))
    rows = []
    for layer in var.layers:
        counterpart = base.layers[pairs[layer.index]] if layer.index in pairs else None
        rows.append(
            {
                **asdict(layer),
                "baseline_index": None if counterpart is None else counterpart.index,
                "baseline_params": None if counterpart is None else counterpart.params,
                "baseline_gflops": None if counterpart is None else counterpart.gflops,
                "delta_gflops": layer.gflops - (0.0 if counterpart is None else counterpart.gflops),
            }
        )
    return {
        "imgsz": imgsz,
        "convention": "GFLOPs = 2 x MACs / 1e9 (torch FlopCounterMode; the elementwise x * attn is not counted)",
        "baseline": {"params": base.params, "gflops": base.gflops},
        "variant": {"params": var.params, "gflops": var.gflops},
        "delta": {
            "params": var.params - base.params,
            "gflops": var.gflops - base.gflops,
            "params_pct": _delta(var.params, base.params),
            "gflops_pct": _delta(var.gflops, base.gflops),
        },
        "layers": rows,
        "lska": _gate_rows(variant, var_profile),
    }


def weights_per_channel(gate: LargeKernelGate) -> int:
    """Spatial (depthwise) weights per channel: the sum of kh * kw over the depthwise stages."""
    return sum(conv.kernel_size[0] * conv.kernel_size[1] for conv in gate.depthwise_convs())


def design_costs(dim: int = 256, size: int = 20, ks: Sequence[int] = PAPER_KERNEL_SIZES) -> list[dict[str, Any]]:
    """The paper's GFLOPs-vs-kernel-size comparison of the four designs on a dim x size x size map.

    Each gate is built on the meta device (no weights are allocated) and counted by FlopCounterMode;
    ``gflops_analytic`` = 2*S*S*C*(weights per channel) + 2*S*S*C*C. The defaults are YOLOv8n's P5 at 640.
    """
    rows = []
    for k in ks:
        for design in DESIGNS:
            with torch.device("meta"):
                gate = build_design(design, dim, k)
            profile = _profile(gate, size, channels=dim)
            wpc = weights_per_channel(gate)
            rows.append(
                {
                    "design": design,
                    "k": k,
                    "dim": dim,
                    "size": size,
                    "weights_per_channel": wpc,
                    "params": _params(gate),
                    "gflops": profile.flops.get("", 0) / GIGA,
                    "gflops_analytic": (2 * size * size * dim * wpc + 2 * size * size * dim * dim) / GIGA,
                }
            )
    return rows


def measure_latency(
    runners: dict[str, Callable[[], Any]], warmup: int = 2, repeats: int = 7
) -> dict[str, dict[str, float] | float]:
    """Wall-clock latency of each runner, called interleaved (A, B, A, B, ...) so that background noise
    hits all of them alike. Returns median, min and inter-quartile range in ms per runner, and with
    exactly two runners ``ratio`` = second median / first median."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    for _ in range(warmup):
        for run in runners.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) * 1e3)
    result: dict[str, dict[str, float] | float] = {}
    for name, values in times.items():
        q1, q3 = np.percentile(values, [25, 75])
        result[name] = {"median_ms": statistics.median(values), "min_ms": min(values), "iqr_ms": float(q3 - q1)}
    if len(times) == 2:
        first, second = (result[name]["median_ms"] for name in times)  # type: ignore[index]
        result["ratio"] = second / first
    return result


def cost_comparison(
    baseline: nn.Module, variant: nn.Module, imgsz: int = 640, latency_repeats: int = 0, warmup: int = 2
) -> dict[str, Any]:
    """The baseline-vs-variant comparison every front end shows: ``compare_cost``'s counts and, when
    ``latency_repeats`` > 0, ``latency``: both forward passes timed interleaved (``measure_latency``)."""
    result = compare_cost(baseline, variant, imgsz)
    if latency_repeats > 0:
        runners = {"baseline": forward_runner(baseline, imgsz), "variant": forward_runner(variant, imgsz)}
        result["latency"] = measure_latency(runners, warmup=warmup, repeats=latency_repeats)
    return result


def forward_runner(model: nn.Module, imgsz: int = 640, seed: int = 0) -> Callable[[], Any]:
    """A no-grad forward of one fixed random 1x3xSxS image (torch's thread count is left as it is)."""
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    x = torch.rand(1, 3, imgsz, imgsz, generator=generator).to(device)

    def run() -> Any:
        with torch.no_grad():
            return model(x)

    return run


__all__ = [
    "LayerCost",
    "ModelCost",
    "compare_cost",
    "cost_comparison",
    "design_costs",
    "forward_runner",
    "lska_breakdown",
    "measure_latency",
    "model_cost",
    "weights_per_channel",
]
