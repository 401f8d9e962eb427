"""Train the zoo's default and extended plans with Ultralytics' trainer: resumable, one entry at a time."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lska_demo.benchmark.data import CLASS_NAMES, BenchmarkConfig, dataset_hash, generate
from lska_demo.core.runtime import CACHE_DIR, WEIGHTS_DIR
from lska_demo.model.yolo import save_checkpoint
from lska_demo.zoo.load import load_entry
from lska_demo.zoo.manifest import REGIMES, Manifest, ZooError
from lska_demo.zoo.plan import PlanItem, default_plan


def build_zoo(
    plan: list[PlanItem] | None = None,
    config: BenchmarkConfig | None = None,
    weights_dir: str | Path = WEIGHTS_DIR,
    work_dir: str | Path = CACHE_DIR / "zoo",
    scratch_recipe: Any = None,
    finetune_recipe: Any = None,
    log: Callable[[str], None] = print,
) -> Manifest:
    """Train every plan item not yet in the manifest, writing the manifest after each: resumable."""
    from lska_demo.core.provenance import training_machine
    from lska_demo.train.trainer import FINETUNE, SCRATCH, evaluate, graft_init, train, with_seed
    from lska_demo.zoo.convert import ship_full

    plan = plan if plan is not None else default_plan()
    if any(item.mode == "adapter" for item in plan):
        raise ZooError("adapter items are trained by lska_demo.zoo.build_adapters.build_adapters, not build_zoo")
    config = config or BenchmarkConfig()
    scratch_recipe, finetune_recipe = scratch_recipe or SCRATCH, finetune_recipe or FINETUNE
    weights_dir, work_dir = Path(weights_dir), Path(work_dir)
    data_root = work_dir / "data"
    manifest = Manifest.load(weights_dir)
    data_yaml = data_root / "data.yaml"
    if not data_yaml.exists() or manifest.benchmark.get("config") != asdict(config):
        shutil.rmtree(data_root, ignore_errors=True)
        log(f"generating the benchmark in {data_root}")
        generate(data_root, config)
    data_hash = dataset_hash(data_root)
    if manifest.benchmark.get("data_hash") not in (None, data_hash):
        raise ZooError("the generated benchmark differs from the one the manifest's models saw")
    manifest.benchmark = {"config": asdict(config), "data_hash": data_hash, "classes": list(CLASS_NAMES)}
    manifest.save(weights_dir)
    for item in plan:
        if manifest.entry(item.id):
            log(f"{item.id}: done already")
            continue
        recipe = with_seed(scratch_recipe if item.mode == "scratch" else finetune_recipe, item.seed)
        parent = work_dir / "runs" / f"{item.parent}.pt" if item.parent else None
        if parent is not None and not parent.exists():
            parent_entry = manifest.entry(item.parent)
            if parent_entry is None:
                raise ZooError(f"{item.id} needs {item.parent}, which is not trained yet")
            parent = save_checkpoint(load_entry(parent_entry, weights_dir, manifest), parent)  # trainer input
        log(f"{item.id}: training ({item.mode}, {recipe.epochs} epochs, seed {item.seed})")
        result = train(
            item.mode, data_yaml, recipe, spec=item.spec, base_weights=parent, out=work_dir / "runs", name=item.id
        )
        shutil.copyfile(result.weights, work_dir / "runs" / f"{item.id}.pt")
        entry: dict[str, Any] = {
            "id": item.id,
            "file": None,
            "sha256": None,
            "mode": item.mode,
            "spec": asdict(item.spec),
            "parent": item.parent,
            "seed": item.seed,
            "recipe": recipe.overrides(),
            "data_hash": data_hash,
            "val_metrics": result.metrics,
            "metrics": evaluate(result.weights, data_yaml, split="test", imgsz=recipe.imgsz),
            "train_seconds": round(result.seconds, 1),
            "machine": training_machine(),
        }
        entry["regime"] = REGIMES[item.mode]
        if item.mode == "graft":
            entry.update(init=graft_init(), kernel_change=result.kernel_change)
        if item.ship:
            entry.update(ship_full(result.weights, entry, weights_dir))
        manifest.upsert(entry)
        manifest.save(weights_dir)
        log(f"{item.id}: test mAP50-95 {entry['metrics']['mAP50-95']:.4f} in {result.seconds:.0f} s")
    return manifest
