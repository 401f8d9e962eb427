"""Commands for the analysis engine: cost, designs, erf, attention, kernels.

Every command prints JSON with ``--json`` and writes its figures as PNG into ``--out DIR`` when given.
Models are built with random weights from the variant arguments unless ``--weights`` names a checkpoint.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lska_demo.cli.common import add_variant_arguments, command, variant_from
from lska_demo.model.vocabulary import CAM_METHODS

LAYER_ALIASES = {"insertion": "insertion point", "backbone": "end of backbone"}


def _model(spec: Any, weights: str | None) -> Any:
    if weights:
        from lska_demo.zoo.load import load_checkpoint_model

        return load_checkpoint_model(weights)
    from lska_demo.model.yolo import build_model

    return build_model(spec)


def _save(out: str | None, figures: dict[str, Callable[[], np.ndarray]]) -> dict[str, str]:
    """Render and write the figures only when an output folder is given (rendering costs time)."""
    if not out:
        return {}
    from PIL import Image

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, draw in figures.items():
        path = folder / f"{name}.png"
        Image.fromarray(draw()).save(path)
        paths[name] = str(path)
    return paths


def _bar(total: int, desc: str, args: argparse.Namespace) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=args.json or total <= 1)


# --- cost -----------------------------------------------------------------------------------------------


def _cost(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.analysis.cost import cost_comparison

    spec = variant_from(args)
    baseline = _model(spec.baseline(), args.base_weights)
    variant = _model(spec, args.weights)
    repeats = args.repeats if args.latency else 0
    return {"variant_name": spec.name, **cost_comparison(baseline, variant, args.imgsz, latency_repeats=repeats)}


def _render_cost(r: dict[str, Any]) -> str:
    d = r["delta"]
    lines = [
        f"{r['variant_name']} at {r['imgsz']}x{r['imgsz']} ({r['convention']})",
        f"  baseline  {r['baseline']['params']:>10,d} params  {r['baseline']['gflops']:8.3f} GFLOPs",
        f"  variant   {r['variant']['params']:>10,d} params  {r['variant']['gflops']:8.3f} GFLOPs",
        f"  delta     {d['params']:>+10,d} params  {d['gflops']:+8.3f} GFLOPs "
        f"({d['params_pct'] or 0:+.2f} % params, {d['gflops_pct'] or 0:+.2f} % GFLOPs)",
    ]
    for g in r["lska"]:
        h, w = g["feature_map"]
        lines.append(
            f"  {g['name']}: k={g['k']} on {g['channels']}x{h}x{w}: depthwise {g['depthwise_gflops']:.4f} + "
            f"1x1 {g['pointwise_gflops']:.4f} GFLOPs{' (kernel wider than the map)' if g['reads_padding'] else ''}"
        )
    if "latency" in r:
        lat = r["latency"]
        lines.append(
            f"  latency median {lat['baseline']['median_ms']:.1f} ms -> {lat['variant']['median_ms']:.1f} ms "
            f"(x{lat['ratio']:.3f})"
        )
    return "\n".join(lines)


# --- designs --------------------------------------------------------------------------------------------


def _designs(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.analysis.cost import design_costs
    from lska_demo.present import plots

    rows = design_costs(args.dim, args.size, args.ks)
    figures = _save(args.out, {"designs_cost_vs_k": lambda: plots.cost_vs_k_figure(rows)})
    return {"dim": args.dim, "size": args.size, "rows": rows, "figures": figures}


def _render_designs(r: dict[str, Any]) -> str:
    lines = [f"{'design':<14}{'k':>4}{'weights/ch':>12}{'params':>10}{'GFLOPs':>10}"]
    lines += [
        f"{row['design']:<14}{row['k']:>4}{row['weights_per_channel']:>12}{row['params']:>10}{row['gflops']:>10.4f}"
        for row in r["rows"]
    ]
    return "\n".join(lines)


# --- erf ------------------------------------------------------------------------------------------------


def _module_erfs(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.analysis.erf import module_erf
    from lska_demo.model.kernels import DESIGNS
    from lska_demo.present import plots

    rows, erfs = [], {}
    with _bar(len(DESIGNS) * len(args.ks), "module ERFs", args) as bar:
        for design in DESIGNS:
            for k in args.ks:
                erf = module_erf(design, k, dim=args.dim, size=args.size, seed=args.seed)
                erfs[f"{design} k={k}"] = erf
                rows.append({"design": design, "k": k, **erf.to_dict()})
                bar.update(1)
    figures = _save(args.out, {"erf_modules": lambda: plots.erf_grid(erfs)})
    return {"mode": "module", "dim": args.dim, "size": args.size, "rows": rows, "figures": figures}


def _model_erfs(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.analysis.erf import compare_erf
    from lska_demo.benchmark.images import example_images, load_image
    from lska_demo.present import plots

    spec = variant_from(args)
    if spec.is_baseline:
        raise ValueError("the model ERF compares the baseline with an LSKA variant: give --k")
    paths = args.images or list(example_images().values())
    pictures = [load_image(p) for p in paths[: args.n]]
    name = LAYER_ALIASES.get(args.layer, args.layer)
    baseline, variant = _model(spec.baseline(), args.base_weights), _model(spec, args.weights)
    bars = {role: _bar(len(pictures), f"ERF {role}", args) for role in ("baseline", "variant")}
    done = dict.fromkeys(bars, 0)

    def step(role: str, n: int, _total: int) -> None:
        bars[role].update(n - done[role])
        done[role] = n

    try:
        comparison = compare_erf(baseline, variant, spec, name, pictures, args.imgsz, progress=step, batch=args.batch)
    finally:
        for bar in bars.values():
            bar.close()
    result: dict[str, Any] = {"mode": "model", "layer": name, "imgsz": args.imgsz, "images": [str(p) for p in paths]}
    for role in ("baseline", "variant"):
        result[role] = {"layer_index": getattr(comparison.layers, role), **getattr(comparison, role).to_dict()}
    titles = (f"baseline · layer {comparison.layers.baseline}", f"{spec.name} · layer {comparison.layers.variant}")
    result["figures"] = _save(
        args.out, {"erf_models": lambda: plots.erf_pair(comparison.baseline, comparison.variant, titles)}
    )
    return result


def _erf(args: argparse.Namespace) -> dict[str, Any]:
    return _module_erfs(args) if args.module else _model_erfs(args)


def _render_erf(r: dict[str, Any]) -> str:
    if r["mode"] == "module":
        return "\n".join(f"{row['design']:<14} k={row['k']:<3} area ratios {row['ratios']}" for row in r["rows"])
    return "\n".join(
        f"{role:<9} layer {r[role]['layer_index']:>2} ({r['layer']}): area ratios {r[role]['ratios']}"
        for role in ("baseline", "variant")
    )


# --- attention ------------------------------------------------------------------------------------------


def _attention(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.analysis.attention import class_activation_map, stage_maps
    from lska_demo.benchmark.images import example_images, load_image
    from lska_demo.model.yolo import lska_layers
    from lska_demo.present import plots

    spec = variant_from(args)
    model = _model(spec, args.weights)
    picture = load_image(args.image or example_images()["bus"])
    figures: dict[str, Callable[[], np.ndarray]] = {}
    result: dict[str, Any] = {"model": spec.name if not args.weights else args.weights, "imgsz": args.imgsz}
    if lska_layers(model):
        stages = stage_maps(model, picture, args.imgsz)
        result["stages"] = [{"name": n, "shape": list(a.shape), "mean": float(a.mean())} for n, a in stages]
        figures["attention_stages"] = lambda: plots.stage_maps_figure(stages, picture)
    else:
        result["stages"] = []
        result["stages_note"] = "the baseline has no LSKA: no stage maps"
    cam = class_activation_map(model, picture, args.method, args.layer, args.imgsz, args.conf)
    result["cam"] = {"method": cam.method, "layer": cam.layer, "detections": cam.detections, "note": cam.note}
    figures[f"attention_{cam.method}cam"] = lambda: plots.cam_overlay(picture, cam)
    result["figures"] = _save(args.out, figures)
    return result


def _render_attention(r: dict[str, Any]) -> str:
    lines = [f"{r['model']} at {r['imgsz']}"]
    lines += [f"  stage {s['name']:<16} {s['shape'][0]}x{s['shape'][1]}" for s in r["stages"]]
    c = r["cam"]
    lines.append(f"  {c['method']}-CAM at layer {c['layer']}: {c['detections']} detections {c['note']}".rstrip())
    lines += [f"  figure: {p}" for p in r["figures"].values()]
    return "\n".join(lines)


# --- kernels --------------------------------------------------------------------------------------------


def _kernels(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.analysis.kernel_views import equivalent_kernels, rank1
    from lska_demo.present import plots

    kernels = equivalent_kernels(args.k, seed=args.seed)
    approximations = {design: rank1(kernel) for design, kernel in kernels.items()}
    figures: dict[str, Callable[[], np.ndarray]] = {"kernels": lambda: plots.kernels_figure(kernels, args.k)}
    for design, (approx, err) in approximations.items():
        figures[f"rank1_{design}"] = lambda kernel=kernels[design], approx=approx, err=err: plots.rank1_figure(
            kernel, approx, err
        )
    return {
        "k": args.k,
        "seed": args.seed,
        "rank1_error": {design: err for design, (_, err) in approximations.items()},
        "figures": _save(args.out, figures),
    }


def _render_kernels(r: dict[str, Any]) -> str:
    lines = [f"equivalent {r['k']}x{r['k']} kernels: relative error of the best separable (rank-1) approximation"]
    lines += [f"  {design:<14} {err:.4f}" for design, err in r["rank1_error"].items()]
    return "\n".join(lines)


# --- registration ---------------------------------------------------------------------------------------


def _weights(p: argparse.ArgumentParser, baseline: bool) -> None:
    p.add_argument("--weights", default=None, help="a trusted checkpoint for the variant (else random init)")
    if baseline:
        p.add_argument("--base-weights", default=None, help="a trusted checkpoint for the baseline")


def register(sub: argparse._SubParsersAction) -> None:
    """Add cost, designs, erf, attention and kernels."""
    from lska_demo.model.kernels import PAPER_KERNEL_SIZES

    ks = {"type": int, "nargs": "+", "default": list(PAPER_KERNEL_SIZES), "help": "kernel sizes"}

    p = command(
        sub,
        "cost",
        _cost,
        "parameters, GFLOPs and latency: baseline vs LSKA variant, per layer",
        _render_cost,
        figures=True,
    )
    add_variant_arguments(p)
    _weights(p, baseline=True)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--latency", action="store_true", help="also time forward passes (interleaved, CPU)")
    p.add_argument("--repeats", type=int, default=7)

    p = command(
        sub, "designs", _designs, "GFLOPs and weights vs k of the four large-kernel designs", _render_designs, True
    )
    p.add_argument("--dim", type=int, default=256, help="channels (YOLOv8n's P5: 256)")
    p.add_argument("--size", type=int, default=20, help="feature map side (P5 at 640: 20)")
    p.add_argument("--ks", **ks)

    p = command(
        sub, "erf", _erf, "effective receptive fields (RepLKNet's method): modules or models", _render_erf, True
    )
    p.add_argument("--module", action="store_true", help="ERFs of the four designs' attention paths for each k")
    p.add_argument("--ks", **ks)
    p.add_argument("--dim", type=int, default=8, help="--module: channels")
    p.add_argument("--size", type=int, default=96, help="--module: input side")
    p.add_argument("--seed", type=int, default=0, help="--module: weight seed")
    add_variant_arguments(p)
    _weights(p, baseline=True)
    p.add_argument("--images", nargs="+", default=None, help="images (default: the shipped examples)")
    p.add_argument("-n", type=int, default=16, help="use at most this many images")
    p.add_argument("--layer", default="insertion point", help="'insertion point' (or insertion), 'end of backbone'")
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--batch", type=int, default=8, help="images per backward pass")

    p = command(sub, "attention", _attention, "LSKA stage maps and an Eigen-CAM or Grad-CAM", _render_attention, True)
    add_variant_arguments(p)
    _weights(p, baseline=False)
    p.add_argument("--image", default=None, help="an image (default: Ultralytics' bus.jpg)")
    p.add_argument("--method", default="eigen", choices=list(CAM_METHODS), help="; ".join(CAM_METHODS.values()))
    p.add_argument("--layer", type=int, default=None, help="CAM layer index (default: the layer before Detect)")
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument("--imgsz", type=int, default=640)

    p = command(
        sub,
        "kernels",
        _kernels,
        "equivalent kernels of the four designs and their rank-1 errors",
        _render_kernels,
        figures=True,
    )
    p.add_argument("--k", type=int, default=23)
    p.add_argument("--seed", type=int, default=0)
