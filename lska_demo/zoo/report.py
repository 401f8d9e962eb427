"""The results table: held-out metrics from the manifest, with cost and CPU latency measured now.

``python -m lska_demo report --readme README.md`` rewrites the block between the README's
``<!-- results:start -->`` and ``<!-- results:end -->`` markers; nothing in it is typed by hand.
"""

from __future__ import annotations

import platform
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from lska_demo.core.provenance import cpu_name
from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.core.stats import PairedComparison, compare_paired
from lska_demo.model.kernels import GATE_LABELS
from lska_demo.model.yolo import VariantSpec, build_model
from lska_demo.zoo.manifest import Manifest, control_spec, regime_of
from lska_demo.zoo.plan import default_plan

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _mean_std(values: list[float]) -> tuple[float, float | None]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _fmt(mean: float, std: float | None) -> str:
    return f"{mean:.3f} ± {std:.3f}" if std is not None else f"{mean:.3f}"


def compare_to_control(variant: dict[int, float], control: dict[int, float]) -> PairedComparison:
    """The variant against its control, paired by seed (same parent, recipe and seed): the per-seed
    differences, their mean, std, 95 % t-interval, a paired t-test and a verdict that says when there are
    too few seeds to tell (``lska_demo.core.stats``)."""
    return compare_paired(variant, control)


# Row labels of the training regimes recorded in the manifest.
REGIME_LABELS: dict[str, str] = {"finetune": "fine-tune", "adapter": "adapter", "scratch": "scratch"}


def is_control_of(regime: str, candidate: VariantSpec, spec: VariantSpec) -> bool:
    """Whether ``candidate`` is the control of ``spec`` in ``regime`` (``zoo.control_spec``): the pointwise
    design at the same point for adapters, the baseline (no LSKA) for full fine-tunes and from-scratch training."""
    return candidate == control_spec(regime, spec)


def _example_images() -> list[np.ndarray]:
    """The benchmark images shipped in assets/: what the gate effect is measured on."""
    from lska_demo.benchmark.images import example_images, load_image

    return [load_image(p) for name, p in example_images().items() if name.startswith("benchmark")]


def _gate_effect(
    entries: list[dict[str, Any]], folder: str | Path, images: list[np.ndarray], imgsz: int
) -> float | None:
    """Mean gate effect (analysis.attention.gate_effect) of the first shipped file of ``entries``."""
    from lska_demo.analysis.attention import gate_effect
    from lska_demo.zoo.load import load_entry

    shipped = next((e for e in entries if e.get("file")), None)
    if shipped is None:
        return None
    effects = gate_effect(load_entry(shipped, folder), images, imgsz)
    return statistics.fmean(effects.values())


Group = tuple[str, VariantSpec, list[dict[str, Any]]]


def _groups(manifest: Manifest) -> list[Group]:
    """(regime, architecture, entries) of the manifest: regimes in ``REGIME_LABELS`` order, each control
    first, then by point, k and design."""
    groups: dict[tuple[str, VariantSpec], list[dict[str, Any]]] = defaultdict(list)
    for entry in manifest.active:
        groups[(regime_of(entry), VariantSpec(**entry["spec"]))].append(entry)
    regimes = list(REGIME_LABELS)
    order = sorted(
        groups,
        key=lambda g: (regimes.index(g[0]), not is_control_of(g[0], g[1], g[1]), g[1].point, g[1].k or 0, g[1].design),
    )
    return [(regime, spec, groups[(regime, spec)]) for regime, spec in order]


def _metric(entries: list[dict[str, Any]], name: str) -> dict[int, float]:
    return {e["seed"]: e["metrics"][name] for e in entries}


def _judged(regime: str, spec: VariantSpec, entries: list[dict[str, Any]], groups: list[Group]) -> dict[str, Any]:
    """The manifest's part of a row: mAP over seeds and the paired comparison with the regime's control."""
    is_control = is_control_of(regime, spec, spec)
    control = next((es for r, s, es in groups if r == regime and is_control_of(r, s, spec)), [])
    comparison = None if is_control else compare_to_control(_metric(entries, "mAP50-95"), _metric(control, "mAP50-95"))
    m5095, s5095 = _mean_std(list(_metric(entries, "mAP50-95").values()))
    m50, s50 = _mean_std(list(_metric(entries, "mAP50").values()))
    return {
        "model": spec.name,
        "regime": REGIME_LABELS[regime],
        "design": None if spec.is_baseline else spec.design,
        "epochs": entries[0]["recipe"].get("epochs"),
        "fraction": entries[0]["recipe"].get("fraction", 1.0),  # the share of the training split each epoch saw
        "k": spec.k,
        "point": None if spec.is_baseline else spec.point,
        "seeds": sorted(e["seed"] for e in entries),
        "shipped": any(e.get("file") for e in entries),
        "kernel_change": _kernel_change(entries),
        "kernels_told_apart": _told_apart(entries),
        "kernels_shuffled": _shuffled_drops(entries),
        "mAP50-95": m5095,
        "mAP50-95_std": s5095,
        "mAP50": m50,
        "mAP50_std": s50,
        "control": None if is_control else control_spec(regime, spec).name,
        "delta_vs_control": comparison.mean if comparison else None,
        "delta_std": comparison.std if comparison else None,
        "delta_ci95": list(comparison.ci95) if comparison and comparison.ci95 else None,
        "delta_p": comparison.p_value if comparison else None,
        "pairs": comparison.n if comparison else None,
        "significant": comparison.significant if comparison else None,
        "verdict": comparison.verdict if comparison else "control",
    }


def _kernel_change(entries: list[dict[str, Any]]) -> float | None:
    """The smallest recorded relative change of the large kernels from their init over the seeds (None where
    the architecture has no large kernel or nothing was recorded)."""
    changes = [e["kernel_change"] for e in entries if e.get("kernel_change") is not None]
    return min(changes) if changes else None


def _told_apart(entries: list[dict[str, Any]]) -> list[int] | None:
    """[told apart, testable] summed over the seeds' ``kernel_tests`` (``zoo.retire``), None where none recorded."""
    tests = [e["kernel_tests"] for e in entries if e.get("kernel_tests") and e["kernel_tests"]["testable"]]
    if not tests:
        return None
    return [sum(t["told_apart"] for t in tests), sum(t["testable"] for t in tests)]


def _shuffled_drops(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The trained kernels against their shuffles (``zoo.shuffle``), paired by seed: the mean drop over the seeds,
    its std and, from three seeds on, the paired t-test's p (``core.stats``). None where nothing was measured."""
    measured = {e["seed"]: e["kernel_shuffle"] for e in entries if e.get("kernel_shuffle")}
    if not measured:
        return None
    trained = {seed: m["trained"] for seed, m in measured.items()}
    shuffled = {seed: statistics.fmean(m["shuffled"]) for seed, m in measured.items()}
    comparison = compare_paired(trained, shuffled)
    return {"drop": comparison.mean, "std": comparison.std, "p": comparison.p_value, "seeds": len(measured)}


def _shuffled(row: dict[str, Any]) -> str:
    drops = row.get("kernels_shuffled")
    if not drops:
        return "—" if row["kernel_change"] is None else "not measured"
    cell = f"{drops['drop']:+.4f}" + (f" ± {drops['std']:.4f}" if drops["std"] is not None else "")
    return cell + (f" (p = {drops['p']:.2g})" if drops["p"] is not None else "")


def _moved(row: dict[str, Any]) -> str:
    told = row.get("kernels_told_apart")
    return _opt(row["kernel_change"], ".2f", "—") + (f" ({told[0]}/{told[1]})" if told else "")


def verdict_rows(manifest: Manifest) -> list[dict[str, Any]]:
    """One row per (training regime, architecture) from the manifest alone (nothing is built or timed): test
    mAP (mean ± std over seeds) and the difference to the control of the same regime, paired by seed, with
    its interval, p-value and verdict (``lska_demo.core.stats``). What the Zoo tab and ``plots.delta_figure`` show."""
    groups = _groups(manifest)
    return [_judged(regime, spec, entries, groups) for regime, spec, entries in groups]


def results(
    manifest: Manifest, imgsz: int | None = None, repeats: int = 7, folder: str | Path = WEIGHTS_DIR
) -> dict[str, Any]:
    """``verdict_rows`` with, per row, the gate effect, params, GFLOPs and latency vs the baseline measured now."""
    from lska_demo.analysis.cost import forward_runner, measure_latency, model_cost

    groups = _groups(manifest)
    if not groups:
        return {"rows": [], "machine": platform.machine()}
    imgsz = imgsz or int(groups[0][2][0]["recipe"]["imgsz"])
    baseline_model = build_model(VariantSpec(nc=groups[0][1].nc))
    images = _example_images()
    measured: dict[VariantSpec, tuple[Any, dict[str, Any]]] = {}
    baseline_ms: list[float] = []

    def measure(spec: VariantSpec) -> tuple[Any, dict[str, Any]]:
        if spec not in measured:
            model = build_model(spec)
            runners = {"baseline": forward_runner(baseline_model, imgsz), "variant": forward_runner(model, imgsz)}
            latency = measure_latency(runners, repeats=repeats)
            baseline_ms.append(latency["baseline"]["median_ms"])
            measured[spec] = (model_cost(model, imgsz), latency)
        return measured[spec]

    rows = []
    for regime, spec, entries in groups:
        cost, latency = measure(spec) if not spec.is_baseline else (model_cost(baseline_model, imgsz), None)
        row = _judged(regime, spec, entries, groups)
        row["gate_effect"] = None if spec.is_baseline else _gate_effect(entries, folder, images, imgsz)
        row["params"], row["gflops"] = cost.params, cost.gflops
        row["latency_ms"] = latency["variant"]["median_ms"] if latency else None
        row["latency_ratio"] = latency["ratio"] if latency else None
        rows.append(row)
    for row in rows:  # the baseline's latency: the median of its medians, measured beside every variant
        if row["latency_ms"] is None and baseline_ms:
            row["latency_ms"], row["latency_ratio"] = statistics.median(baseline_ms), 1.0
    default_ids = {item.id for item in default_plan()}
    train_minutes = sum(e.get("train_seconds", 0.0) for e in manifest.models) / 60
    default_minutes = sum(e.get("train_seconds", 0.0) for e in manifest.models if e["id"] in default_ids) / 60
    adapter_minutes = sum(e.get("train_seconds", 0.0) for e in manifest.models if regime_of(e) == "adapter") / 60
    return {
        "imgsz": imgsz,
        "rows": rows,
        "machine": f"{platform.machine()}, {cpu_name()}",
        "data": manifest.benchmark,
        "models": len(manifest.active),
        "retired": [(e["id"], e["retired"]) for e in manifest.retired],
        "train_minutes": train_minutes,
        "default_plan_minutes": default_minutes,
        "adapter_minutes": adapter_minutes,
    }


def _opt(value: float | None, spec: str, empty: str = "") -> str:
    return empty if value is None else format(value, spec)


def _epochs(row: dict[str, Any]) -> str:
    fraction = row.get("fraction", 1.0)
    return f"{row['epochs']} ep" + ("" if fraction == 1.0 else f" on {fraction:.0%} of the training split")


def _interval(ci: list[float] | None) -> str:
    return "" if ci is None else f"[{ci[0]:+.4f}, {ci[1]:+.4f}]"


def markdown(report: dict[str, Any]) -> str:
    if not report["rows"]:
        return "_No trained models in the manifest yet: run `python -m lska_demo zoo`._"
    lines = [
        f"Held-out test split, {report['imgsz']} px. mAP is mean ± std over the seeds listed. Δ is the "
        "difference to the control of the same training regime (the baseline fine-tuned with the same recipe, the "
        "baseline trained from scratch, or for adapters the pointwise design at the same point), paired by seed: "
        "mean ± std of the per-seed differences and their 95 % t-interval. The verdict is a paired t-test at 0.05 "
        "from three seeds on; with one or two seeds it says only what was seen. "
        "Gate effect: mean ‖x·attn − x‖ / ‖x‖ of the inserted gates on the example images (0 = identity). "
        "Kernels moved: the relative L2 change of the large kernels from their init, ‖w − w₀‖ / ‖w₀‖, measured on "
        "the weights after training (the smallest over the seeds; — where there is no large kernel), and in "
        "brackets how many of its kernels of at least five taps a KS test tells apart from both random inits at "
        "p < 0.001, over all seeds (`lska_demo.zoo.retire`; a gate of few channels gives the test little power). "
        f"{SHUFFLED_WORDS} "
        "Params and GFLOPs (2 × MACs) at the same size; latency: median CPU forward (batch 1), interleaved "
        f"with the baseline, on {report['machine']}.",
        "",
        "| model | training | seeds | mAP50-95 | mAP50 | Δ mAP50-95 | Δ 95 % interval | verdict | gate effect "
        "| kernels moved | kernels shuffled | params | GFLOPs | latency ms (× baseline) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        delta = _opt(r["delta_vs_control"], "+.4f")
        if r["delta_std"] is not None:
            delta += f" ± {r['delta_std']:.4f}"
        lines.append(
            f"| {r['model']} | {r['regime']}, {_epochs(r)} | {', '.join(map(str, r['seeds']))} | "
            f"{_fmt(r['mAP50-95'], r['mAP50-95_std'])} | {_fmt(r['mAP50'], r['mAP50_std'])} | {delta} | "
            f"{_interval(r['delta_ci95'])} | "
            f"{r['verdict']} | {_opt(r['gate_effect'], '.3f', '—' if r['k'] is None else 'not shipped')} | "
            f"{_moved(r)} | {_shuffled(r)} | "
            f"{r['params']:,} | {r['gflops']:.3f} | {_opt(r['latency_ms'], '.1f')} "
            f"(×{_opt(r['latency_ratio'], '.2f')}) |"
        )
    judged = [r for r in report["rows"] if r["delta_vs_control"] is not None]
    tested = [r for r in judged if r["significant"] is not None]
    beyond = [r for r in tested if r["significant"]]
    extended = report["train_minutes"] - report["default_plan_minutes"] - report.get("adapter_minutes", 0.0)
    lines += [
        "",
        f"{len(tested)} of {len(judged)} rows with a control have the three seeds a paired test needs; {len(beyond)} "
        f"of them differ significantly from their control"
        f"{': ' + ', '.join(r['model'] + ' (' + r['verdict'] + ')' for r in beyond) if beyond else ''}. "
        f"{report['models']} trained models in the manifest; their training took {report['train_minutes']:.0f} min "
        f"in all: {report['default_plan_minutes']:.0f} min for the default plan (`python -m lska_demo zoo`), "
        f"{extended:.0f} min for `--plan extended` and {report.get('adapter_minutes', 0.0):.0f} min for "
        "`--plan adapters` (Ultralytics' trainer on this machine's CPU, evaluation not included).",
        *_retired_lines(report.get("retired", [])),
        *design_markdown(design_rows(report["rows"])),
    ]
    return "\n".join(lines)


def _retired_lines(retired: list[tuple[str, str]]) -> list[str]:
    """One paragraph per reason the zoo retired models (``lska_demo.zoo.retire``)."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for model_id, reason in retired:
        by_reason[reason].append(model_id)
    return [
        line
        for reason, ids in by_reason.items()
        for line in (
            "",
            f"**Retired, not in the table** ({len(ids)}; {reason}): " + ", ".join(f"`{i}`" for i in ids) + ". "
            "Their metrics stay in the manifest; no file ships and the app does not offer them as trained.",
        )
    ]


SHUFFLED_WORDS = (
    "Kernels shuffled: the trained model's mAP50-95 minus the mean over seeded shuffles of its large kernels' values "
    "(the same values, so the same KS verdict, in random places; `python -m lska_demo kernel-shuffle`), mean ± std "
    "over the seeds and, from three seeds on, a paired t-test's p: near 0, the detector does not use where training "
    "put them."
)
DESIGN_COMPARISON = (23, "sppf")  # where the zoo trains the paper's four designs (zoo.adapters_plan)


def design_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The paper's comparison inside YOLOv8: the adapter rows at k=23 ``sppf`` of every design, with their
    pointwise control first."""
    k, point = DESIGN_COMPARISON
    adapters = [r for r in rows if r["regime"] == REGIME_LABELS["adapter"] and r["point"] == point]
    return [r for r in adapters if r["k"] == k or r["design"] == "pointwise"]


def design_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The design rows side by side: mAP, Δ to the pointwise control and its verdict, params, GFLOPs, latency."""
    if not rows:
        return []
    k, point = DESIGN_COMPARISON
    lines = [
        "",
        f"**The paper's design comparison inside YOLOv8** (k={k} at `{point}`, adapters on the same frozen control; "
        "Δ against the pointwise gate, paired by seed):",
        "",
        "| design | seeds | mAP50-95 | Δ vs pointwise | verdict | kernels shuffled | params | GFLOPs "
        "| latency ms (× baseline) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        delta = _opt(r["delta_vs_control"], "+.4f", "—")
        lines.append(
            f"| {GATE_LABELS[r['design']]} | {', '.join(map(str, r['seeds']))} | "
            f"{_fmt(r['mAP50-95'], r['mAP50-95_std'])} | {delta} | {r['verdict']} | {_shuffled(r)} | {r['params']:,} | "
            f"{r['gflops']:.3f} | {_opt(r['latency_ms'], '.1f')} (×{_opt(r['latency_ratio'], '.2f')}) |"
        )
    return lines


def replace_block(text: str, start: str, end: str, body: str) -> str:
    """Replace what stands between two markers (both kept); append the block if the markers are absent."""
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        return f"{head}{start}\n{body}\n{end}{tail}"
    return f"{text.rstrip()}\n\n{start}\n{body}\n{end}\n"
