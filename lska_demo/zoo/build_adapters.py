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
from lska_demo.train.trainer import (
    FINETUNE,
    KERNEL_LR_SCALE,
    LSKADetectionTrainer,
    Recipe,
    evaluate_model,
    graft_init,
    train,
    with_kernel_lr_scale,
    with_seed,
)
from lska_demo.zoo.adapters import attach_adapter, frozen_max_change, frozen_modules, ship_adapter
from lska_demo.zoo.load import load_checkpoint_model, load_entry
from lska_demo.zoo.manifest import Manifest, ZooError, verified_bytes
from lska_demo.zoo.plan import PlanItem

# One epoch of the fine-tune recipe on a quarter of the training split (500 images, 32 steps), the same for every
# item, so every pair and the design table compare equal training. Longer was tried and not shipped: two whole
# epochs (``zoo --plan adapters --only '*-neck-*' '*-head-*' '*-residual-*' --epochs 2 --fraction 1``, 250 steps)
# let a KS test tell more neck and head kernels from a random init (68 of 72 and 47 of 54, against 45 and 38) but
# fewer residual ones (9 of 24 against 13 of 24 at k=23), and only by growing them: the kernels moved 2.1-2.7 times
# their init's norm, the four cascaded kernels multiply, and the gates' effect on their input rose from 0.1-0.4 to
# 24-33 (the P5 gate of the k=23 neck adapter scaled its input about 40 times, flipping signs) at the same mAP.
# The same two epochs with the kernels at 10x instead of 100x (``... --epochs 2 --fraction 1 --kernel-lr-scale 10``)
# kept the gates sane but told fewer apart at k=23: residual 0 of 24, neck 4 of 16, head 4 of 12 (kernel change
# 0.33-0.57). The test needs distribution changes these small kernels do not make: a 16-channel 5-tap kernel that
# drifts without structure must grow several-fold before it can be told from random (``stats.init_test_power``).
ADAPTER_RECIPE = replace(FINETUNE, epochs=1)
ADAPTER_FRACTION = 0.25


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
    recipe: Recipe = ADAPTER_RECIPE,
    fraction: float = ADAPTER_FRACTION,
    kernel_lr_scale: float = KERNEL_LR_SCALE,
) -> dict[str, Any]:
    """Train one adapter on ``parent`` (the shipped model ``item.parent``, as ``load_entry`` returns it),
    write ``out_dir/<id>.safetensors`` and return its manifest entry."""
    if item.mode != "adapter" or item.parent is None:
        raise ValueError(f"{item.id} is not an adapter item")
    recipe = with_seed(recipe, item.seed)
    runs = out_dir / "runs"
    grafted = graft(parent, item.spec, seed=item.seed)
    init = {key: w.detach().clone() for key, w in large_kernels(grafted).items()}
    start = save_checkpoint(grafted, runs / f"{item.id}-graft.pt")  # the trainer's input
    extra = {"freeze": frozen_modules(item.spec), "fraction": fraction}
    trainer = with_kernel_lr_scale(AdapterTrainer, kernel_lr_scale)
    run = {"out": runs, "name": item.id, "extra_args": extra, "trainer": trainer}
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
        "init": graft_init(kernel_lr_scale),
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
    recipe: Recipe = ADAPTER_RECIPE,
    fraction: float = ADAPTER_FRACTION,
    kernel_lr_scale: float = KERNEL_LR_SCALE,
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
        log(
            f"{item.id}: training the adapter ({recipe.epochs} epoch, fraction {fraction}, kernel learning rate "
            f"{kernel_lr_scale:g}x, seed {item.seed})"
        )
        parent = load_entry(parent_entry, weights_dir, parent_manifest)
        entry = train_adapter(item, parent, data_yaml, data_hash, out_dir, recipe, fraction, kernel_lr_scale)
        manifest.upsert(entry)
        manifest.save(out_dir)
        log(f"{item.id}: test mAP50-95 {entry['metrics']['mAP50-95']:.4f} in {entry['train_seconds']:.0f} s")
    return manifest
