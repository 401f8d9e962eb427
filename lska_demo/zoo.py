"""The model zoo: a plan, a manifest, and verified loading.

``weights/manifest.json`` records, for every trained model, its architecture, recipe, seed, data hash,
held-out metrics and (for shipped files) the sha256. The app reads the manifest and never guesses; a
file whose hash does not match is refused.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lska_demo.data import CLASS_NAMES, BenchmarkConfig, dataset_hash, generate
from lska_demo.kernels import PAPER_KERNEL_SIZES
from lska_demo.runtime import CACHE_DIR, WEIGHTS_DIR
from lska_demo.yolo import INSERTION_POINTS, VariantSpec

MANIFEST_NAME = "manifest.json"
NC = len(CLASS_NAMES)


class ZooError(RuntimeError):
    """A zoo entry is missing, unverified or unknown: the message says which and what to do."""


@dataclass(frozen=True)
class PlanItem:
    """One model of the zoo: how it is made and whether its file ships in ``weights/``."""

    id: str
    mode: str
    spec: VariantSpec
    seed: int = 0
    parent: str | None = None
    ship: bool = True


def default_plan() -> list[PlanItem]:
    """Baseline from scratch, then fine-tunes of it: the control and LSKA grafts, most important first."""
    base = VariantSpec(nc=NC)
    scratch = PlanItem("yolov8n-scratch-s0", "scratch", base)

    def control(seed: int, ship: bool) -> PlanItem:
        return PlanItem(f"yolov8n-s{seed}", "finetune", base, seed, scratch.id, ship)

    def lska(k: int, point: str, seed: int = 0, ship: bool = True) -> PlanItem:
        spec = VariantSpec(k=k, point=point, nc=NC)
        return PlanItem(f"{spec.name}-s{seed}", "graft", spec, seed, scratch.id, ship)

    plan = [scratch, control(0, True), lska(23, "sppf")]
    for seed in (1, 2):
        plan += [control(seed, False), lska(23, "sppf", seed, ship=False)]
    plan += [lska(23, point) for point in INSERTION_POINTS if point != "sppf"]
    plan += [lska(k, "sppf") for k in PAPER_KERNEL_SIZES if k != 23]
    return plan


def extended_plan() -> list[PlanItem]:
    """The default plan plus the from-scratch pair: LSKA k=23 at ``sppf`` trained from scratch with the
    baseline's scratch recipe, seeds 0 and 1, and the baseline from scratch with seed 1 (metrics only).

    A graft starts as the identity and may barely move in a short fine-tune; this pair asks instead
    whether LSKA helps when it is trained from the first step (about 35 minutes per model on 2 cores).
    """
    base, spec = VariantSpec(nc=NC), VariantSpec(k=23, point="sppf", nc=NC)
    return [
        *default_plan(),
        PlanItem(f"{spec.name}-scratch-s0", "scratch", spec, ship=False),
        PlanItem("yolov8n-scratch-s1", "scratch", base, seed=1, ship=False),
        PlanItem(f"{spec.name}-scratch-s1", "scratch", spec, seed=1, ship=False),
    ]


PLANS: dict[str, Callable[[], list[PlanItem]]] = {"default": default_plan, "extended": extended_plan}


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Manifest:
    benchmark: dict[str, Any] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, folder: str | Path = WEIGHTS_DIR) -> Manifest:
        path = Path(folder) / MANIFEST_NAME
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text())
        return cls(benchmark=raw.get("benchmark", {}), models=raw.get("models", []))

    def save(self, folder: str | Path = WEIGHTS_DIR) -> Path:
        path = Path(folder) / MANIFEST_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)  # atomic: a reader never sees half a manifest
        return path

    def entry(self, model_id: str) -> dict[str, Any] | None:
        return next((m for m in self.models if m["id"] == model_id), None)

    def upsert(self, entry: dict[str, Any]) -> None:
        self.models = [m for m in self.models if m["id"] != entry["id"]] + [entry]

    def find(self, spec: VariantSpec, seed: int = 0, shipped: bool = True) -> dict[str, Any] | None:
        """The entry trained for ``spec`` (fine-tuned, not the scratch parent) with a file, if any."""
        for m in self.models:
            if m["mode"] == "scratch" or m["seed"] != seed or (shipped and not m.get("file")):
                continue
            if VariantSpec(**m["spec"]) == spec:  # a baseline spec is canonical: equal whatever it was given
                return m
        return None


def verified_path(entry: dict[str, Any], folder: str | Path = WEIGHTS_DIR) -> Path:
    """The file of a manifest entry, after checking its sha256; raises ZooError otherwise."""
    if not entry.get("file"):
        raise ZooError(f"model {entry['id']} has metrics only: its weights are not shipped")
    path = Path(folder) / entry["file"]
    if not path.is_file():
        raise ZooError(f"{path} is missing: run `python -m lska_demo zoo` to rebuild the zoo")
    if sha256_of(path) != entry["sha256"]:
        raise ZooError(f"{path} does not match the sha256 in the manifest: refusing to load it")
    return path


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
    from lska_demo.train import FINETUNE, SCRATCH, evaluate, train, with_seed

    plan = plan if plan is not None else default_plan()
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
            parent = verified_path(parent_entry, weights_dir)
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
        }
        if item.ship:
            target = weights_dir / f"{item.id}.pt"
            shutil.copyfile(result.weights, target.with_suffix(".tmp"))
            target.with_suffix(".tmp").replace(target)
            entry["file"], entry["sha256"] = target.name, sha256_of(target)
        manifest.upsert(entry)
        manifest.save(weights_dir)
        log(f"{item.id}: test mAP50-95 {entry['metrics']['mAP50-95']:.4f} in {result.seconds:.0f} s")
    return manifest


def load_checkpoint_model(path: str | Path) -> Any:
    """A trusted Ultralytics checkpoint (a verified zoo file or an operator's path) as an eval float model."""
    from ultralytics.nn.tasks import load_checkpoint

    model, _ = load_checkpoint(str(path), device="cpu", fuse=False)
    return model.float().eval()


def load_zoo_model(spec: VariantSpec, seed: int = 0, folder: str | Path = WEIGHTS_DIR) -> tuple[Any, dict[str, Any]]:
    """The shipped, sha256-verified model trained for ``spec``; ZooError if the zoo has none."""
    entry = Manifest.load(folder).find(spec, seed)
    if entry is None:
        raise ZooError(f"the zoo has no trained weights for {spec.name}")
    model = load_checkpoint_model(verified_path(entry, folder))
    model.names = {i: n for i, n in enumerate(CLASS_NAMES)} if len(getattr(model, "names", {})) != NC else model.names
    return model, entry


def load_pretrained(name: str = "yolov8n.pt", folder: str | Path = WEIGHTS_DIR) -> Any:
    """Ultralytics' COCO-pretrained weights: from ``weights/`` if the operator placed them there, else
    through Ultralytics' own download (online only). Offline it fails at once with what to do."""
    local = Path(folder) / name
    if local.is_file():
        return load_checkpoint_model(local)
    try:
        from ultralytics import YOLO

        return YOLO(name).model.float().eval()
    except (ConnectionError, OSError, FileNotFoundError) as err:
        raise ZooError(
            f"{name} is not in {folder} and could not be downloaded ({type(err).__name__}). Offline, place "
            f"{name} in {folder}/, or use the shipped zoo; online, start the app with YOLO_OFFLINE=0."
        ) from err
