"""The results table: held-out metrics from the manifest, with cost and CPU latency measured now.

``python -m lska_demo report --readme README.md`` rewrites the block between the README's
``<!-- results:start -->`` and ``<!-- results:end -->`` markers; nothing in it is typed by hand.
"""

from __future__ import annotations

import argparse
import platform
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from lska_demo.runtime import WEIGHTS_DIR
from lska_demo.yolo import VariantSpec, build_model
from lska_demo.zoo import Manifest

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _mean_std(values: list[float]) -> tuple[float, float | None]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _fmt(mean: float, std: float | None) -> str:
    return f"{mean:.3f} ± {std:.3f}" if std is not None else f"{mean:.3f}"


def results(manifest: Manifest, imgsz: int | None = None, repeats: int = 7) -> dict[str, Any]:
    """One row per architecture: test mAP (mean ± std over seeds), params, GFLOPs, latency vs the baseline."""
    from lska_demo.analysis.cost import forward_runner, measure_latency, model_cost

    groups: dict[VariantSpec, list[dict[str, Any]]] = defaultdict(list)
    for entry in manifest.models:
        if entry["mode"] != "scratch":
            groups[VariantSpec(**entry["spec"])].append(entry)
    if not groups:
        return {"rows": [], "machine": platform.processor() or platform.machine()}
    imgsz = imgsz or int(next(iter(groups.values()))[0]["recipe"]["imgsz"])
    baseline_spec = next((s for s in groups if s.is_baseline), None)
    baseline_model = build_model(baseline_spec or VariantSpec(nc=next(iter(groups)).nc))
    control = groups.get(baseline_spec, []) if baseline_spec else []
    control_mean, control_std = _mean_std([e["metrics"]["mAP50-95"] for e in control]) if control else (None, None)
    rows = []
    for spec, entries in sorted(groups.items(), key=lambda kv: (not kv[0].is_baseline, kv[0].point, kv[0].k or 0)):
        model = build_model(spec)
        cost = model_cost(model, imgsz)
        latency = measure_latency(
            {"baseline": forward_runner(baseline_model, imgsz), "variant": forward_runner(model, imgsz)},
            repeats=repeats,
        )
        m5095, s5095 = _mean_std([e["metrics"]["mAP50-95"] for e in entries])
        m50, s50 = _mean_std([e["metrics"]["mAP50"] for e in entries])
        delta = None if spec.is_baseline or control_mean is None else m5095 - control_mean
        spread = max(s for s in (s5095, control_std, 0.0) if s is not None)
        if delta is None:
            verdict = "control" if spec.is_baseline else "no control"
        elif len(entries) < 2:
            verdict = "one seed: no verdict"
        elif abs(delta) <= spread:
            verdict = "within seed spread"
        else:
            verdict = "better" if delta > 0 else "worse"
        rows.append(
            {
                "model": spec.name,
                "k": spec.k,
                "point": None if spec.is_baseline else spec.point,
                "seeds": sorted(e["seed"] for e in entries),
                "mAP50-95": m5095,
                "mAP50-95_std": s5095,
                "mAP50": m50,
                "mAP50_std": s50,
                "delta_vs_control": delta,
                "verdict": verdict,
                "params": cost.params,
                "gflops": cost.gflops,
                "latency_ms": latency["variant"]["median_ms"],
                "latency_ratio": latency["ratio"],
            }
        )
    train_minutes = sum(e.get("train_seconds", 0.0) for e in manifest.models) / 60
    return {
        "imgsz": imgsz,
        "rows": rows,
        "machine": f"{platform.machine()}, {_cpu_name()}",
        "data": manifest.benchmark,
        "models": len(manifest.models),
        "train_minutes": train_minutes,
    }


def _cpu_name() -> str:
    import os

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError as err:
        return f"unknown CPU ({err.strerror})"
    return f"{os.cpu_count()} cores"


def markdown(report: dict[str, Any]) -> str:
    if not report["rows"]:
        return "_No trained models in the manifest yet: run `python -m lska_demo zoo`._"
    lines = [
        f"Held-out test split, {report['imgsz']} px. mAP is mean ± std over the seeds listed; Δ is against the "
        "control (the baseline fine-tuned with the same recipe). Params and GFLOPs (2 × MACs) at the same size; "
        f"latency is the median CPU forward (batch 1) measured interleaved with the baseline on {report['machine']}.",
        "",
        "| model | seeds | mAP50-95 | mAP50 | Δ mAP50-95 | verdict | params | GFLOPs | latency ms (× baseline) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        delta = "" if r["delta_vs_control"] is None else f"{r['delta_vs_control']:+.3f}"
        lines.append(
            f"| {r['model']} | {', '.join(map(str, r['seeds']))} | {_fmt(r['mAP50-95'], r['mAP50-95_std'])} | "
            f"{_fmt(r['mAP50'], r['mAP50_std'])} | {delta} | {r['verdict']} | {r['params']:,} | {r['gflops']:.3f} | "
            f"{r['latency_ms']:.1f} (×{r['latency_ratio']:.2f}) |"
        )
    lines += [
        "",
        f"{report['models']} trained models in the manifest; their training took {report['train_minutes']:.0f} min "
        "in all (Ultralytics' trainer on this machine's CPU, evaluation not included).",
    ]
    return "\n".join(lines)


def replace_block(text: str, start: str, end: str, body: str) -> str:
    """Replace what stands between two markers (both kept); append the block if the markers are absent."""
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        return f"{head}{start}\n{body}\n{end}{tail}"
    return f"{text.rstrip()}\n\n{start}\n{body}\n{end}\n"


def _report(args: argparse.Namespace) -> dict[str, Any]:
    report = results(Manifest.load(args.weights_dir), imgsz=args.imgsz)
    if args.readme:
        path = Path(args.readme)
        path.write_text(replace_block(path.read_text(), START, END, markdown(report)))
    return report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="the zoo's results table (metrics from the manifest, cost measured now)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    p.add_argument("--imgsz", type=int, default=None, help="input size for cost and latency (default: training size)")
    p.add_argument("--readme", default=None, help="rewrite the results block of this README")
    p.set_defaults(handler=_report, render=markdown)
