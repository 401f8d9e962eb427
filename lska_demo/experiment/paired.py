"""The paired experiment on a user's own data: control and LSKA variant, same recipe, for every seed.

Each seed trains two models that differ only in LSKA: with a base checkpoint, the control is the base
fine-tuned and the variant is LSKA grafted into the base (identity start) and fine-tuned the same way;
with ``scratch`` both are trained from their YAML. The difference variant − control per seed is the
evidence, judged by ``lska_demo.core.stats`` exactly as the zoo's report judges its rows (mean, spread, 95 %
interval, paired t-test from three seeds on), never a single run.

Resumable: each finished run is recorded in ``state.json`` inside the report folder, and a rerun of the
same experiment skips it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import yaml
from PIL import Image

from lska_demo.core.provenance import training_machine
from lska_demo.core.runtime import CACHE_DIR, WEIGHTS_DIR
from lska_demo.core.stats import compare_paired
from lska_demo.model.yolo import VariantSpec
from lska_demo.train.trainer import FINETUNE, Recipe, TrainResult, evaluate, train, with_seed

METRICS = ("mAP50-95", "mAP50")
LATENCY_THREADS = 1  # the report's latency: batch 1 on one torch thread, the same in every run of the command
STATE_NAME = "state.json"
ARMS = ("control", "lska")


class ExperimentError(ValueError):
    """The experiment cannot run as asked: the message says why and what to do."""


def paired(control: list[float], variant: list[float], seeds: list[int]) -> dict[str, Any]:
    """The per-seed differences variant − control judged by ``stats.compare_paired``: the same numbers and
    verdict wording as the zoo's report (a paired t-test from three seeds on), as a JSON-ready dict."""
    comparison = compare_paired(dict(zip(seeds, variant, strict=True)), dict(zip(seeds, control, strict=True)))
    fields = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(comparison).items()}  # as JSON reads back
    return {**fields, "n": comparison.n}


@dataclass(frozen=True)
class Experiment:
    """What is compared and how; recorded in the state file so that a resume cannot mix two experiments."""

    data: str
    spec: VariantSpec
    seeds: tuple[int, ...]
    recipe: Recipe
    base: str | None = None  # None: both arms from scratch

    def __post_init__(self) -> None:
        if self.spec.is_baseline:
            raise ExperimentError("the experiment needs an LSKA variant: pass --k")
        if not self.seeds:
            raise ExperimentError("the experiment needs at least one seed")

    @property
    def modes(self) -> dict[str, str]:
        return (
            {"control": "scratch", "lska": "scratch"} if self.base is None else {"control": "finetune", "lska": "graft"}
        )

    def run_ids(self) -> list[tuple[int, str]]:
        return [(seed, arm) for seed in self.seeds for arm in ARMS]

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "spec": asdict(self.spec),
            "seeds": list(self.seeds),
            "recipe": self.recipe.overrides(),
            "base": self.base,
            "modes": self.modes,
        }


@dataclass
class State:
    """Finished runs by id (``control-s0``...), written after each run."""

    experiment: dict[str, Any]
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(cls, folder: Path, experiment: Experiment) -> State:
        path = folder / STATE_NAME
        if not path.exists():
            return cls(experiment.to_dict())
        raw = json.loads(path.read_text())
        if raw.get("experiment") != experiment.to_dict():
            raise ExperimentError(
                f"{folder.name}/ holds a different experiment (data, variant, seeds, recipe or base differ): "
                "pass another --out, or delete that folder to start over"
            )
        return cls(raw["experiment"], raw.get("runs", {}))

    def save(self, folder: Path) -> None:
        tmp = folder / f"{STATE_NAME}.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(folder / STATE_NAME)  # atomic: an interrupted run never leaves half a state


def data_classes(data: str | Path) -> int:
    """The class count of an Ultralytics data YAML (``names`` as a list or a dict)."""
    path = Path(data)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ExperimentError(f"cannot read the data YAML {path.name} ({type(err).__name__})") from err
    names = raw.get("names") if isinstance(raw, dict) else None
    if not names:
        raise ExperimentError(f"{path.name} has no 'names': not an Ultralytics data YAML")
    return len(names)


def eval_split(data: str | Path) -> str:
    """The held-out split: ``test`` when the data YAML has one, else ``val``."""
    raw = yaml.safe_load(Path(data).read_text())
    return "test" if raw.get("test") else "val"


def _run_one(experiment: Experiment, seed: int, arm: str, runs_dir: Path, split: str) -> dict[str, Any]:
    recipe = with_seed(experiment.recipe, seed)
    spec = experiment.spec if arm == "lska" else experiment.spec.baseline()
    mode = experiment.modes[arm]
    result: TrainResult = train(
        mode,
        experiment.data,
        recipe,
        spec=spec if mode != "finetune" else None,
        base_weights=experiment.base,
        out=runs_dir,
        name=f"{arm}-s{seed}",
    )
    metrics = evaluate(result.weights, experiment.data, split=split, imgsz=recipe.imgsz, batch=recipe.batch)
    return {
        "seed": seed,
        "arm": arm,
        "mode": mode,
        "weights": str(result.weights),
        "val_metrics": result.metrics,
        "metrics": metrics,
        "train_seconds": round(result.seconds, 1),
        "machine": training_machine(),
    }


def run_all(experiment: Experiment, out: Path, progress: bool = True, log: Callable[[str], None] = print) -> State:
    """Train every run not yet in the state file, saving the state after each."""
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    state = State.open(out, experiment)
    split = eval_split(experiment.data)
    todo = [(s, a) for s, a in experiment.run_ids() if f"{a}-s{s}" not in state.runs]
    total = len(experiment.run_ids())
    if len(todo) < total:
        log(f"resuming: {total - len(todo)} of {total} runs done already")
    with tqdm(total=total, initial=total - len(todo), desc="runs", unit="run", disable=not progress) as bar:
        for seed, arm in todo:
            bar.set_postfix_str(f"{arm} seed {seed}")
            state.runs[f"{arm}-s{seed}"] = _run_one(experiment, seed, arm, out / "runs", split)
            state.save(out)
            bar.update(1)
    return state


def _cost(state: State, imgsz: int, latency_repeats: int) -> dict[str, Any]:
    """Params, GFLOPs and CPU latency of both arms (first seed's trained checkpoints)."""
    from lska_demo.analysis.cost import compare_cost, forward_runner, measure_latency
    from lska_demo.zoo.load import load_checkpoint_model

    seed = state.experiment["seeds"][0]
    control = load_checkpoint_model(state.runs[f"control-s{seed}"]["weights"])
    variant = load_checkpoint_model(state.runs[f"lska-s{seed}"]["weights"])
    cost = compare_cost(control, variant, imgsz)
    threads = torch.get_num_threads()
    torch.set_num_threads(LATENCY_THREADS)  # whether or not this process trained (Ultralytics changes the count)
    try:
        timing = measure_latency(
            {"control": forward_runner(control, imgsz), "lska": forward_runner(variant, imgsz)}, repeats=latency_repeats
        )
    finally:
        torch.set_num_threads(threads)
    return {
        "imgsz": imgsz,
        "control": {**cost["baseline"], "latency_ms": timing["control"]["median_ms"]},  # type: ignore[index]
        "lska": {**cost["variant"], "latency_ms": timing["lska"]["median_ms"]},  # type: ignore[index]
        "delta": cost["delta"],
        "latency_ratio": timing["ratio"],
        "latency_threads": LATENCY_THREADS,
        "convention": cost["convention"],
    }


def summarise(state: State, latency_repeats: int = 7, weights_dir: str | Path = WEIGHTS_DIR) -> dict[str, Any]:
    """The report's content, computed from the state file alone: per-seed metrics, paired statistics, cost,
    and, for an experiment the zoo ran itself, the zoo's metrics of the same runs."""
    from lska_demo.zoo.match import zoo_counterparts

    seeds = state.experiment["seeds"]
    rows = [
        {"seed": s, "control": state.runs[f"control-s{s}"]["metrics"], "lska": state.runs[f"lska-s{s}"]["metrics"]}
        for s in seeds
    ]
    paired_stats = {
        metric: paired([r["control"][metric] for r in rows], [r["lska"][metric] for r in rows], seeds)
        for metric in METRICS
    }
    return {
        "experiment": state.experiment,
        "variant": VariantSpec(**state.experiment["spec"]).name,
        "split": eval_split(state.experiment["data"]),
        "seeds": rows,
        "paired": paired_stats,
        "cost": _cost(state, state.experiment["recipe"]["imgsz"], latency_repeats),
        "train_seconds": sum(r["train_seconds"] for r in state.runs.values()),
        "zoo": zoo_counterparts(state.experiment, state.runs, weights_dir),
    }


def _num(value: float | None, spec: str = ".4f") -> str:
    return "–" if value is None else format(value, spec)


def markdown(report: dict[str, Any]) -> str:
    """report.md: what was compared, the per-seed table, the paired statistics and the cost."""
    exp, cost = report["experiment"], report["cost"]
    how = f"fine-tuned from `{Path(exp['base']).name}`" if exp["base"] else "both trained from scratch"
    recipe = exp["recipe"]
    lines = [
        f"# Paired experiment: {report['variant']} vs control",
        "",
        f"Data `{Path(exp['data']).name}`, {how}; control = {exp['modes']['control']}, "
        f"LSKA = {exp['modes']['lska']}. Recipe: {recipe['epochs']} epochs, imgsz {recipe['imgsz']}, "
        f"batch {recipe['batch']}, {recipe['optimizer']} lr0 {recipe['lr0']}. Metrics on the `{report['split']}` "
        f"split. Training took {report['train_seconds'] / 60:.1f} min in all.",
        "",
        "| seed | control mAP50-95 | LSKA mAP50-95 | Δ | control mAP50 | LSKA mAP50 | Δ |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["seeds"]:
        c, v = r["control"], r["lska"]
        lines.append(
            f"| {r['seed']} | {c['mAP50-95']:.4f} | {v['mAP50-95']:.4f} | {v['mAP50-95'] - c['mAP50-95']:+.4f} "
            f"| {c['mAP50']:.4f} | {v['mAP50']:.4f} | {v['mAP50'] - c['mAP50']:+.4f} |"
        )
    lines += [
        "",
        "Δ = LSKA − control, paired by seed (same seed, same recipe); statistics as in the zoo's report "
        "(`lska_demo.core.stats`): the paired t-test at 0.05 from three seeds on, with fewer it says only what "
        "was seen.",
        "",
        "| metric | mean Δ | std Δ | 95 % interval | p | higher/lower | verdict |",
        "|---|---:|---:|---|---:|---|---|",
    ]
    for metric, s in report["paired"].items():
        ci = "–" if s["ci95"] is None else f"[{s['ci95'][0]:+.4f}, {s['ci95'][1]:+.4f}]"
        lines.append(
            f"| {metric} | {_num(s['mean'], '+.4f')} | {_num(s['std'])} | {ci} | {_num(s['p_value'], '.3g')} "
            f"| {s['higher']}/{s['lower']} | {s['verdict']} |"
        )
    lines += [
        "",
        f"Cost at {cost['imgsz']} px ({cost['convention']}); CPU latency is the median of interleaved runs, batch 1, "
        f"{cost['latency_threads']} torch thread.",
        "",
        "| model | params | GFLOPs | latency (ms) |",
        "|---|---:|---:|---:|",
    ]
    for arm in ARMS:
        a = cost[arm]
        lines.append(f"| {arm} | {a['params']:,} | {a['gflops']:.3f} | {a['latency_ms']:.1f} |")
    lines += ["", "![per-seed pairs](pairs.png)", "", *_zoo_lines(report.get("zoo") or [])]
    return "\n".join(lines)


def _zoo_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The section that puts each run beside the zoo's run of the same model (none for other experiments)."""
    if not rows:
        return []
    lines = [
        "## The zoo's runs of this experiment",
        "",
        "The zoo trained these models itself (same benchmark data hash, parent, recipe and seed); its held-out "
        "metrics from `weights/manifest.json` beside this experiment's:",
        "",
        "| seed | arm | zoo model | mAP50-95 here | mAP50-95 zoo | mAP50 here | mAP50 zoo | max abs difference |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ours, zoo = r["experiment"], r["zoo"]
        lines.append(
            f"| {r['seed']} | {r['arm']} | `{r['zoo_id']}` | {ours['mAP50-95']:.6f} | {zoo['mAP50-95']:.6f} "
            f"| {ours['mAP50']:.6f} | {zoo['mAP50']:.6f} | {r['max_abs_difference']:.2g} |"
        )
    exact = sum(r["exact"] for r in rows)
    worst = max(r["max_abs_difference"] for r in rows)
    if exact == len(rows):
        return [*lines, "", f"All {len(rows)} runs reproduce the zoo's metrics exactly.", ""]
    machines = {_machine(r["machine"]) for r in rows}, {_machine(r["zoo_machine"]) for r in rows}
    return [
        *lines,
        "",
        f"{exact} of {len(rows)} runs reproduce the zoo's metrics exactly; the largest difference is {worst:.2g}. "
        "Training on a CPU repeats to the last digit on one machine, not across CPU kinds, thread counts or library "
        f"versions. This experiment's runs were trained on {' / '.join(sorted(machines[0]))}; the zoo's on "
        f"{' / '.join(sorted(machines[1]))}.",
        "",
    ]


def _machine(record: dict[str, Any] | None) -> str:
    if not record:
        return "an unrecorded machine"
    return (
        f"{record['cpu']}, {record['torch_threads']} torch thread(s), torch {record['torch']}, "
        f"Ultralytics {record['ultralytics']}"
    )


def write_report(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """report.json, report.md and pairs.png (mAP50-95 per seed) in ``out``."""
    from lska_demo.present.plots import paired_seeds_figure

    seeds = [r["seed"] for r in report["seeds"]]
    figure = paired_seeds_figure(
        [r["control"]["mAP50-95"] for r in report["seeds"]],
        [r["lska"]["mAP50-95"] for r in report["seeds"]],
        seeds,
        "mAP50-95",
        ("control", report["variant"]),
    )
    paths = {"json": out / "report.json", "markdown": out / "report.md", "plot": out / "pairs.png"}
    Image.fromarray(figure).save(paths["plot"])
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    paths["markdown"].write_text(markdown(report))
    return paths


def base_checkpoint(base: str | Path, folder: Path, weights_dir: str | Path = WEIGHTS_DIR) -> Path:
    """The base as a checkpoint file Ultralytics' trainer reads: a path as given, a zoo model id written once
    (verified safetensors -> ``folder/base/``)."""
    from lska_demo.zoo.manifest import ZooError
    from lska_demo.zoo.ref import as_checkpoint

    try:
        return as_checkpoint(base, folder / "base", weights_dir)
    except ZooError as err:
        raise ExperimentError(f"--base: {err}; pass an existing .pt, a zoo model id, or --scratch") from err


def run(
    data: str | Path,
    spec: VariantSpec,
    seeds: int | list[int] = 3,
    base: str | Path | None = None,
    recipe: Recipe = FINETUNE,
    out: str | Path | None = None,
    progress: bool = True,
    latency_repeats: int = 7,
    weights_dir: str | Path = WEIGHTS_DIR,
) -> dict[str, Any]:
    """``experiment``: train what is missing, then write the report folder; returns the report dict.

    Args:
        data: an Ultralytics data YAML (the user's own).
        spec: the LSKA variant; its class count is taken from ``data``.
        seeds: a count (seeds 0..n-1) or the list of seeds.
        base: a baseline checkpoint, or a zoo model id (e.g. ``yolov8n-scratch-s0``, the zoo's own parent), to
            graft into and fine-tune (``None``: both arms from scratch).
        recipe: the training recipe of both arms (seed replaced per run).
        out: the report folder (default ``.cache/experiments/<variant>``).
        progress: show a tqdm bar with the ETA.
        latency_repeats: interleaved forward passes per model for the CPU latency.
        weights_dir: the zoo's weights folder, where a zoo id in ``base`` is looked up.
    """
    data = Path(data).resolve()
    if not data.is_file():
        raise ExperimentError(f"no data YAML at {data.name}")
    spec = replace(spec, nc=data_classes(data))
    folder = Path(out) if out else CACHE_DIR / "experiments" / spec.name
    base_path = None if base is None else base_checkpoint(base, folder, weights_dir)
    seed_list = tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)
    experiment = Experiment(str(data), spec, seed_list, recipe, str(base_path.resolve()) if base_path else None)
    state = run_all(experiment, folder, progress)
    report = summarise(state, latency_repeats, weights_dir)
    report["files"] = {k: p.name for k, p in write_report(report, folder).items()}
    report["folder"] = str(folder)
    return report


def render(report: dict[str, Any]) -> str:
    s, zoo = report["paired"]["mAP50-95"], report.get("zoo") or []
    exact = sum(r["exact"] for r in zoo)
    same = f"\nthe zoo's runs of the same models: {exact} of {len(zoo)} reproduced exactly" if zoo else ""
    return (
        f"{report['variant']} vs control, {s['n']} seeds: mean Δ mAP50-95 {_num(s['mean'], '+.4f')}; "
        f"{s['verdict']}{same}\nreport: {Path(report['folder']) / report['files']['markdown']}"
    )
