"""Train the adapter regime: each gate alone on the frozen shipped control, resumable, one entry at a time.

Every item of an adapter plan is grafted into the parent (identity at start), trained with Ultralytics'
``freeze`` covering every tensor from the parent (frozen BatchNorm layers keep their statistics), checked
(``frozen_max_change`` must be 0.0), saved as an adapter file and evaluated on the held-out test split as
rebuilt from parent + adapter, which is exactly what ships. The output folder holds the adapter files and
a manifest of the new entries only.

Run: ``python -m lska_demo.adapter_zoo --plan adapters --out OUT``.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from lska_demo.adapters import (
    adapter_keys,
    adapter_state,
    frozen_max_change,
    frozen_modules,
    load_adapter,
    rebuild,
    save_adapter,
)
from lska_demo.data import BenchmarkConfig, dataset_hash, generate
from lska_demo.runtime import WEIGHTS_DIR
from lska_demo.train import FINETUNE, LSKADetectionTrainer, Recipe, evaluate, train, with_seed
from lska_demo.yolo import graft, save_checkpoint
from lska_demo.zoo import PLANS, Manifest, PlanItem, ZooError, load_checkpoint_model, sha256_of, verified_path

# One epoch of the fine-tune recipe on a quarter of the training split (500 images, 32 steps), the same for every
# item: a whole epoch did not fit the time slot on 2 shared cores, where one quarter-epoch adapter took about
# 300 s end to end (validation and test evaluation included) while other jobs loaded the machine.
ADAPTER_RECIPE = replace(FINETUNE, epochs=1)
ADAPTER_FRACTION = 0.25


class AdapterTrainer(LSKADetectionTrainer):
    """Ultralytics' trainer without the final re-validation of best.pt: after one epoch best.pt is the
    model the last epoch already validated (the held-out test evaluation follows anyway), and every
    validation of 500 images is a large share of an adapter's time on 2 cores."""

    def final_eval(self) -> None:
        return None


def _benchmark(out_dir: Path, parent_manifest: Manifest, log: Callable[[str], None]) -> tuple[Path, str]:
    """The parent's benchmark regenerated under ``out_dir/data``, checked against the parent's data hash."""
    benchmark = parent_manifest.benchmark
    if not benchmark.get("config") or not benchmark.get("data_hash"):
        raise ZooError("the parent manifest records no benchmark: train the default zoo first")
    data_root = out_dir / "data"
    if not (data_root / "data.yaml").exists():  # data.yaml is written last: its absence means unfinished
        shutil.rmtree(data_root, ignore_errors=True)
        log(f"generating the benchmark in {data_root}")
        generate(data_root, BenchmarkConfig(**benchmark["config"]))
    data_hash = dataset_hash(data_root)
    if data_hash != benchmark["data_hash"]:
        raise ZooError("the regenerated benchmark differs from the one the parent saw")
    return data_root / "data.yaml", data_hash


def train_adapter(
    item: PlanItem,
    parent_path: Path,
    data_yaml: Path,
    data_hash: str,
    out_dir: Path,
    recipe: Recipe = ADAPTER_RECIPE,
    fraction: float = ADAPTER_FRACTION,
) -> dict[str, Any]:
    """Train one adapter, write ``out_dir/<id>.safetensors`` and return its manifest entry."""
    if item.mode != "adapter" or item.parent is None:
        raise ValueError(f"{item.id} is not an adapter item")
    recipe = with_seed(recipe, item.seed)
    runs = out_dir / "runs"
    parent = load_checkpoint_model(parent_path)
    start = save_checkpoint(graft(parent, item.spec), runs / f"{item.id}-graft.pt")
    extra = {"freeze": frozen_modules(item.spec), "fraction": fraction}
    run = {"out": runs, "name": item.id, "extra_args": extra, "trainer": AdapterTrainer}
    result = train("finetune", data_yaml, recipe, base_weights=start, **run)
    trained = load_checkpoint_model(result.weights)
    change = frozen_max_change(parent, trained, item.spec)
    if change != 0.0:
        raise ZooError(f"{item.id}: a frozen parent tensor moved by {change:g}; the adapter would not rebuild it")
    target = save_adapter(out_dir / f"{item.id}.safetensors", adapter_state(trained, item.spec), item.spec, item.parent)
    tensors, spec, _ = load_adapter(target)
    rebuilt = rebuild(parent, tensors, spec)
    evaluated = save_checkpoint(rebuilt, runs / f"{item.id}-rebuilt.pt")  # what ships: parent + adapter
    metrics = evaluate(evaluated, data_yaml, split="test", imgsz=recipe.imgsz)
    for scratch in (start, evaluated):  # 6 MB each; the trained run's own weights stay for auditing
        scratch.unlink()
    return {
        "id": item.id,
        "file": target.name,
        "sha256": sha256_of(target),
        "mode": "adapter",
        "spec": asdict(item.spec),
        "parent": item.parent,
        "seed": item.seed,
        "recipe": {**recipe.overrides(), "fraction": fraction},
        "data_hash": data_hash,
        "val_metrics": result.metrics,
        "metrics": metrics,
        "train_seconds": round(result.seconds, 1),
        "format": "adapter",
        "regime": "adapter",
        "frozen_max_change": change,
        "adapter_params": sum(tensors[key].numel() for key in adapter_keys(spec)),
    }


def build_adapters(
    plan: list[PlanItem],
    out_dir: str | Path,
    weights_dir: str | Path = WEIGHTS_DIR,
    recipe: Recipe = ADAPTER_RECIPE,
    fraction: float = ADAPTER_FRACTION,
    log: Callable[[str], None] = print,
) -> Manifest:
    """Train every adapter item not yet in ``out_dir``'s manifest, saving the manifest after each:
    resumable. Parents are read (sha256-verified) from ``weights_dir`` and never written."""
    out_dir, weights_dir = Path(out_dir).resolve(), Path(weights_dir).resolve()
    if out_dir == weights_dir:
        raise ZooError("write adapters to their own folder; the integrator copies them into weights/")
    parent_manifest = Manifest.load(weights_dir)
    data_yaml, data_hash = _benchmark(out_dir, parent_manifest, log)
    manifest = Manifest.load(out_dir)
    manifest.benchmark = parent_manifest.benchmark
    manifest.save(out_dir)
    for item in plan:
        if manifest.entry(item.id):
            log(f"{item.id}: done already")
            continue
        parent_entry = parent_manifest.entry(item.parent or "")
        if parent_entry is None:
            raise ZooError(f"{item.id} needs {item.parent}, which {weights_dir.name}/ does not hold")
        log(f"{item.id}: training the adapter ({recipe.epochs} epoch, fraction {fraction}, seed {item.seed})")
        entry = train_adapter(
            item, verified_path(parent_entry, weights_dir), data_yaml, data_hash, out_dir, recipe, fraction
        )
        manifest.upsert(entry)
        manifest.save(out_dir)
        log(f"{item.id}: test mAP50-95 {entry['metrics']['mAP50-95']:.4f} in {entry['train_seconds']:.0f} s")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lska_demo.adapter_zoo", description=__doc__.splitlines()[0])
    adapter_plans = [name for name, plan in PLANS.items() if all(item.mode == "adapter" for item in plan())]
    parser.add_argument("--plan", default="adapters", choices=adapter_plans)
    parser.add_argument("--out", required=True, help="folder for the adapter files and their manifest")
    parser.add_argument("--weights-dir", default=str(WEIGHTS_DIR), help="where the parent and its manifest are")
    parser.add_argument("--epochs", type=int, default=ADAPTER_RECIPE.epochs)
    parser.add_argument("--fraction", type=float, default=ADAPTER_FRACTION, help="share of the training split")
    parser.add_argument("--limit", type=int, default=None, help="train at most the first N items of the plan")
    args = parser.parse_args(argv)
    plan = PLANS[args.plan]()[: args.limit]
    recipe = replace(ADAPTER_RECIPE, epochs=args.epochs)
    try:
        build_adapters(plan, args.out, args.weights_dir, recipe, args.fraction)
    except ZooError as err:
        parser.exit(1, f"error: {err}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
