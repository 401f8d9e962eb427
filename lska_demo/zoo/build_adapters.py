"""Train the adapter regime: each gate alone on the frozen shipped control, resumable, one entry at a time.

Every item of an adapter plan is grafted into the parent (identity at start), trained with Ultralytics'
``freeze`` covering every tensor from the parent (frozen BatchNorm layers keep their statistics), checked
(``frozen_max_change`` must be 0.0), saved as an adapter file and evaluated on the held-out test split as
loaded back from parent + adapter file by the zoo's own loader (``zoo.attach_adapter``), which is exactly what
ships. Parents are read through ``zoo.load_entry`` (safetensors, sha256-verified); the adapter file is written
by ``zoo.ship_adapter``. The output folder holds the adapter files and a manifest of the new entries only.

Run: ``python -m lska_demo zoo --plan adapters --out OUT``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from torch import nn

from lska_demo.benchmark.data import BenchmarkConfig, dataset_hash, generate
from lska_demo.core.provenance import training_machine
from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.model.yolo import graft, kernel_change, large_kernels, save_checkpoint
from lska_demo.train.trainer import FINETUNE, LSKADetectionTrainer, Recipe, evaluate_model, graft_init, train, with_seed
from lska_demo.zoo.adapters import attach_adapter, frozen_max_change, frozen_modules, ship_adapter
from lska_demo.zoo.load import load_checkpoint_model, load_entry
from lska_demo.zoo.manifest import Manifest, ZooError, verified_bytes
from lska_demo.zoo.plan import PlanItem

# The fine-tune recipe, with epochs and a share of the training split per epoch that depend on the insertion point
# (the same for every design and seed at a point, so every pair and the design table compare equal training). At
# ``sppf`` one epoch on a quarter (500 images, 32 steps) moves the 128-channel gate's kernels far enough that a KS
# test tells every one of them from a random init. The gates at ``residual``, ``neck`` and ``head`` have 16 to 64
# channels per kernel: a quarter epoch moved them as much (relative change 0.6-0.95), but on so few values the test
# told only 2 of 12 to 11 of 24 kernels apart, and one whole epoch (125 steps) still left a 5-tap kernel or two
# near one of the inits; they train for two whole epochs (250 steps).
ADAPTER_RECIPE = replace(FINETUNE, epochs=1)
ADAPTER_SCHEDULE: dict[str, tuple[int, float]] = {  # point -> (epochs, fraction of the training split per epoch)
    "sppf": (1, 0.25),
    "residual": (2, 1.0),
    "neck": (2, 1.0),
    "head": (2, 1.0),
}


def adapter_recipe(point: str) -> tuple[Recipe, float]:
    """The adapter recipe at ``point`` and the share of the training split each epoch sees."""
    epochs, fraction = ADAPTER_SCHEDULE[point]
    return replace(ADAPTER_RECIPE, epochs=epochs), fraction


class AdapterTrainer(LSKADetectionTrainer):
    """Ultralytics' trainer without the final re-validation of best.pt: only the last epoch is validated
    (``val=False``), so best.pt is the model that validation already measured (the held-out test evaluation
    follows anyway), and every validation of 500 images is a large share of an adapter's time on 2 cores."""

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
    parent: nn.Module,
    data_yaml: Path,
    data_hash: str,
    out_dir: Path,
    recipe: Recipe | None = None,
    fraction: float | None = None,
) -> dict[str, Any]:
    """Train one adapter on ``parent`` (the shipped model ``item.parent``, as ``load_entry`` returns it),
    write ``out_dir/<id>.safetensors`` and return its manifest entry. ``recipe`` and ``fraction`` (of the training
    split per epoch) default to ``adapter_recipe`` at the item's insertion point."""
    if item.mode != "adapter" or item.parent is None:
        raise ValueError(f"{item.id} is not an adapter item")
    scheduled, share = adapter_recipe(item.spec.point)
    recipe, fraction = recipe or scheduled, share if fraction is None else fraction
    recipe = with_seed(recipe, item.seed)
    runs = out_dir / "runs"
    grafted = graft(parent, item.spec, seed=item.seed)
    init = {key: w.detach().clone() for key, w in large_kernels(grafted).items()}
    start = save_checkpoint(grafted, runs / f"{item.id}-graft.pt")  # the trainer's input
    extra = {"freeze": frozen_modules(item.spec), "fraction": fraction}
    run = {"out": runs, "name": item.id, "extra_args": extra, "trainer": AdapterTrainer}
    result = train("finetune", data_yaml, recipe, base_weights=start, **run)
    start.unlink()  # 6 MB; the trained run's own weights stay for auditing
    trained = load_checkpoint_model(result.weights)  # this run's own output, not a shipped file
    change = frozen_max_change(parent, trained, item.spec)
    if change != 0.0:
        raise ZooError(f"{item.id}: a frozen parent tensor moved by {change:g}; the adapter would not rebuild it")
    entry: dict[str, Any] = {
        "id": item.id,
        "mode": "adapter",
        "spec": asdict(item.spec),
        "parent": item.parent,
        "seed": item.seed,
        "recipe": {**recipe.overrides(), "fraction": fraction},
        "data_hash": data_hash,
        "val_metrics": result.metrics,
        "train_seconds": round(result.seconds, 1),
        "machine": training_machine(),
        "regime": "adapter",
        "frozen_max_change": change,
        "init": graft_init(),
    }
    if init:  # the pointwise control has no large kernel
        entry["kernel_change"] = kernel_change(init, large_kernels(trained))
    entry.update(ship_adapter(trained, parent, entry, out_dir))
    shipped = attach_adapter(parent, entry, verified_bytes(entry, out_dir)).float().eval()  # what ships
    entry["metrics"] = evaluate_model(shipped, data_yaml, split="test", imgsz=recipe.imgsz)
    entry["adapter_params"] = sum(p.numel() for p in shipped.parameters()) - sum(p.numel() for p in parent.parameters())
    return entry


def build_adapters(
    plan: list[PlanItem],
    out_dir: str | Path,
    weights_dir: str | Path = WEIGHTS_DIR,
    recipe: Recipe | None = None,
    fraction: float | None = None,
    log: Callable[[str], None] = print,
) -> Manifest:
    """Train every adapter item not yet in ``out_dir``'s manifest, saving the manifest after each:
    resumable. Parents are read (sha256-verified) from ``weights_dir`` and never written. ``recipe`` and
    ``fraction`` default to each item's ``adapter_recipe``."""
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
        scheduled, share = adapter_recipe(item.spec.point)
        epochs, share = (recipe or scheduled).epochs, share if fraction is None else fraction
        log(f"{item.id}: training the adapter ({epochs} epochs, fraction {share}, seed {item.seed})")
        parent = load_entry(parent_entry, weights_dir, parent_manifest)
        entry = train_adapter(item, parent, data_yaml, data_hash, out_dir, recipe, fraction)
        manifest.upsert(entry)
        manifest.save(out_dir)
        log(f"{item.id}: test mAP50-95 {entry['metrics']['mAP50-95']:.4f} in {entry['train_seconds']:.0f} s")
    return manifest
