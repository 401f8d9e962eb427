"""The model zoo: a plan, a manifest, and verified loading.

``weights/manifest.json`` records, for every trained model, its architecture, recipe, seed, data hash,
held-out metrics and (for shipped files) the sha256. The app reads the manifest and never guesses; a
file whose hash does not match is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from ultralytics.nn.tasks import DetectionModel

from lska_demo.data import CLASS_NAMES, BenchmarkConfig, dataset_hash, generate
from lska_demo.kernels import PAPER_KERNEL_SIZES
from lska_demo.runtime import CACHE_DIR, WEIGHTS_DIR
from lska_demo.safeweights import SUFFIX, WeightsError, load_strict, parse, write
from lska_demo.yolo import INSERTION_POINTS, VariantSpec, build_model, graft, save_checkpoint, variant_yaml

MANIFEST_NAME = "manifest.json"
LOG = logging.getLogger(__name__)
NC = len(CLASS_NAMES)
ADAPTER_PARENT = "yolov8n-s0"


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
    """The default plan plus the from-scratch pair: LSKA k=23 at ``sppf`` and the baseline, both trained from
    scratch with the baseline's scratch recipe, seeds 0 to 3 (metrics only; the baseline's seed 0 is the
    default plan's parent).

    A graft starts as the identity and may barely move in a short fine-tune; this pair asks instead
    whether LSKA helps when it is trained from the first step (about 35 minutes per model on 2 cores).
    """
    base, spec = VariantSpec(nc=NC), VariantSpec(k=23, point="sppf", nc=NC)
    plan = [*default_plan(), PlanItem(f"{spec.name}-scratch-s0", "scratch", spec, ship=False)]
    for seed in (1, 2, 3):
        plan += [
            PlanItem(f"yolov8n-scratch-s{seed}", "scratch", base, seed=seed, ship=False),
            PlanItem(f"{spec.name}-scratch-s{seed}", "scratch", spec, seed=seed, ship=False),
        ]
    return plan


def adapters_plan() -> list[PlanItem]:
    """The adapter regime (``lska_demo.adapter_zoo``): gates trained alone on the frozen control, in the order
    the budget should go. First k=23 ``sppf``: the paper's four designs and the pointwise control (the regime's
    fair control: the same gate without a spatial kernel), three seeds each, so the design table is paired;
    then the k sweep at ``sppf`` (three seeds at its ends, k=7 and k=53); then every other (k, point) the UI
    offers and the pointwise control at each point, one seed."""

    def adapter(k: int, point: str, design: str = "lska", seed: int = 0) -> PlanItem:
        spec = VariantSpec(k=k, point=point, nc=NC, design=design)
        return PlanItem(f"{spec.name}-adapter-s{seed}", "adapter", spec, seed, ADAPTER_PARENT)

    designs = ("lska", "lka", "lska_trivial", "lka_trivial")
    plan = [adapter(23, "sppf", design, seed) for seed in (0, 1, 2) for design in designs]
    plan += [adapter(1, "sppf", "pointwise", seed) for seed in (0, 1, 2)]
    sweep = [k for k in PAPER_KERNEL_SIZES if k != 23]
    plan += [adapter(k, "sppf") for k in sweep]
    plan += [adapter(k, "sppf", seed=seed) for seed in (1, 2) for k in (sweep[0], sweep[-1])]
    others = [point for point in INSERTION_POINTS if point != "sppf"]
    plan += [adapter(1, point, "pointwise") for point in others]
    plan += [adapter(k, point) for k in (23, *sweep) for point in others]
    return plan


PLANS: dict[str, Callable[[], list[PlanItem]]] = {
    "default": default_plan,
    "extended": extended_plan,
    "adapters": adapters_plan,
}


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

    def find(
        self, spec: VariantSpec, seed: int = 0, shipped: bool = True, regime: str = "finetune"
    ) -> dict[str, Any] | None:
        """The entry trained for ``spec`` in ``regime`` (``regime_of``; the default is the full fine-tune, whose
        control is the fine-tuned baseline) with a file, if any. The regime is always explicit, so a graft and
        an adapter of the same spec never stand in for each other."""
        for m in self.models:
            if regime_of(m) != regime or m["seed"] != seed or (shipped and not m.get("file")):
                continue
            if VariantSpec(**m["spec"]) == spec:  # a baseline spec is canonical: equal whatever it was given
                return m
        return None

    def trained(self, spec: VariantSpec, seed: int = 0, shipped: bool = True) -> dict[str, Any] | None:
        """The entry that answers a choice of ``spec``: the first regime of ``REGIME_PREFERENCE`` that has one."""
        return next((e for r in REGIME_PREFERENCE if (e := self.find(spec, seed, shipped, regime=r)) is not None), None)


def _weights_file(entry: dict[str, Any], folder: str | Path) -> Path:
    if not entry.get("file"):
        raise ZooError(f"model {entry['id']} has metrics only: its weights are not shipped")
    path = Path(folder) / entry["file"]
    if not path.is_file():
        raise ZooError(
            f"model {entry['id']}: its weights file {entry['file']} is missing; run `python -m lska_demo zoo` "
            "to rebuild the zoo"
        )
    return path


def _hash_mismatch(entry: dict[str, Any]) -> ZooError:
    return ZooError(f"model {entry['id']}: {entry['file']} does not match the sha256 in the manifest; refusing it")


def verified_path(entry: dict[str, Any], folder: str | Path = WEIGHTS_DIR) -> Path:
    """The file of a manifest entry, after checking its sha256; raises ZooError otherwise."""
    path = _weights_file(entry, folder)
    if sha256_of(path) != entry.get("sha256"):
        raise _hash_mismatch(entry)
    return path


def verified_bytes(entry: dict[str, Any], folder: str | Path = WEIGHTS_DIR) -> bytes:
    """The bytes of a manifest entry's file, checked against its sha256 before anything parses them.

    Reading once and hashing what was read means the bytes parsed are the bytes verified.
    """
    data = _weights_file(entry, folder).read_bytes()
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise _hash_mismatch(entry)
    return data


# How each training mode is judged: grafts are fine-tunes of the same parent with the control's recipe.
REGIMES: dict[str, str] = {"scratch": "scratch", "finetune": "finetune", "graft": "finetune", "adapter": "adapter"}


def regime_of(entry: dict[str, Any]) -> str:
    """The training regime of a manifest entry: recorded in the manifest, else derived from its mode."""
    return entry.get("regime") or REGIMES[entry["mode"]]


# The regimes a shipped model can answer a choice with, preferred first: the full fine-tune graft (the
# headline experiment), then the adapter (only the inserted gates trained, on the frozen control).
REGIME_PREFERENCE: tuple[str, ...] = ("finetune", "adapter")


def pointwise_at(spec: VariantSpec) -> VariantSpec:
    """The adapter regime's control of ``spec``: the pointwise gate (1×1, no spatial kernel) at the same
    point, trained the same way on the same frozen parent, so a difference is the large kernel's."""
    return VariantSpec(k=1, point=spec.point, scale=spec.scale, nc=spec.nc, design="pointwise")


# Which architecture is the control of a variant within each regime; any other regime: the baseline (no gate).
CONTROLS: dict[str, Callable[[VariantSpec], VariantSpec]] = {"adapter": pointwise_at}


def control_spec(regime: str, spec: VariantSpec) -> VariantSpec:
    """The architecture ``spec`` is compared with in ``regime`` (same regime, seed and recipe)."""
    return CONTROLS.get(regime, VariantSpec.baseline)(spec)


def _class_names(manifest: Manifest, nc: int) -> dict[int, str]:
    classes = manifest.benchmark.get("classes") or list(CLASS_NAMES)
    return dict(enumerate(classes)) if len(classes) == nc else {i: str(i) for i in range(nc)}


def adapter_keys(parent: nn.Module, variant: nn.Module, spec: VariantSpec) -> set[str]:
    """The state-dict keys of ``variant`` (a graft of ``parent``) that the parent does not provide: what an
    adapter file holds, the inserted modules' tensors."""
    _, index_map = variant_yaml(spec)
    provided = set()
    for key in parent.state_dict():
        _, layer, rest = key.split(".", 2)  # "model.<layer>.<rest>"
        provided.add(f"model.{index_map[int(layer)]}.{rest}")
    return set(variant.state_dict()) - provided


def _load_full(entry: dict[str, Any], folder: Path, manifest: Manifest) -> DetectionModel:
    with torch.random.fork_rng(devices=[]):  # building draws random init; loading must not move the global RNG
        model = build_model(VariantSpec(**entry["spec"]))
    load_strict(model, parse(verified_bytes(entry, folder), "full", entry["spec"]))
    return model


def _load_adapter(entry: dict[str, Any], folder: Path, manifest: Manifest) -> DetectionModel:
    parent_entry = manifest.entry(entry.get("parent") or "")
    if parent_entry is None or parent_entry.get("format") != "full":
        raise ZooError(f"model {entry['id']}: its parent {entry.get('parent')!r} is not a shipped full model")
    data = verified_bytes(entry, folder)  # before the parent's load: a tampered adapter costs nothing
    return attach_adapter(load_entry(parent_entry, folder, manifest), entry, data)


def attach_adapter(parent: nn.Module, entry: dict[str, Any], data: bytes) -> DetectionModel:
    """The variant of an adapter entry: ``parent`` grafted with the entry's spec, then the adapter's tensors
    (``data``, already sha256-verified) copied in strictly. The one way an adapter becomes a model, for the
    zoo's loader and for the adapter trainer's evaluation alike.

    Args:
        parent: the entry's parent model, as ``load_entry`` returns it (not modified).
        entry: the adapter's manifest entry (``spec`` and ``parent`` are checked against the file).
        data: the adapter file's bytes.
    """
    spec = VariantSpec(**entry["spec"])
    variant = graft(parent, spec)
    load_strict(variant, parse(data, "adapter", entry["spec"], entry["parent"]), adapter_keys(parent, variant, spec))
    return variant


def ship_adapter(
    variant: nn.Module, parent: nn.Module, entry: dict[str, Any], weights_dir: str | Path = WEIGHTS_DIR
) -> dict[str, Any]:
    """Write ``<id>.safetensors`` with only the tensors ``variant`` adds to ``parent`` (dtypes as they are:
    pass the model exactly as it was evaluated); returns the manifest fields it sets.

    Args:
        variant: the trained graft of ``parent`` (the parent's own tensors unchanged: frozen).
        parent: the shipped full model it was grafted on, as ``load_entry`` returns it.
        entry: the adapter's manifest entry (``id``, ``spec``, ``parent`` are used).
        weights_dir: where the file goes.
    """
    state = variant.state_dict()
    tensors = {k: state[k] for k in adapter_keys(parent, variant, VariantSpec(**entry["spec"]))}
    path = write(Path(weights_dir) / f"{entry['id']}{SUFFIX}", tensors, "adapter", entry["spec"], entry["parent"])
    return {"file": path.name, "sha256": sha256_of(path), "format": "adapter"}


LOADERS: dict[str, Callable[[dict[str, Any], Path, Manifest], DetectionModel]] = {
    "full": _load_full,
    "adapter": _load_adapter,
}


def load_entry(entry: dict[str, Any], folder: str | Path = WEIGHTS_DIR, manifest: Manifest | None = None) -> Any:
    """A shipped model from its manifest entry: sha256-verified safetensors, architecture from the spec,
    strict keys and shapes; fp32, eval mode, class names from the manifest. Never unpickles anything.

    Args:
        entry: the manifest entry (``format`` "full" or "adapter").
        folder: the weights folder holding the entry's file (and its parent's).
        manifest: the manifest the entry belongs to (adapters look their parent up in it); loaded from
            ``folder`` if not given.
    """
    folder = Path(folder)
    manifest = manifest if manifest is not None else Manifest.load(folder)
    loader = LOADERS.get(entry.get("format", ""))
    if loader is None:
        raise ZooError(
            f"model {entry['id']}: unknown weights format {entry.get('format')!r}; this app reads {sorted(LOADERS)}"
        )
    try:
        model = loader(entry, folder, manifest)
    except (WeightsError, ValueError, TypeError) as err:  # TypeError/ValueError: a spec the code cannot build
        raise ZooError(f"model {entry['id']}: {err}") from err
    model.names = _class_names(manifest, int(model.yaml["nc"]))
    model.args = {"task": "detect", "imgsz": int(entry.get("recipe", {}).get("imgsz", 640))}
    return model.float().eval()


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
    from lska_demo.convert import ship_full
    from lska_demo.provenance import training_machine
    from lska_demo.train import FINETUNE, SCRATCH, evaluate, train, with_seed

    plan = plan if plan is not None else default_plan()
    if any(item.mode == "adapter" for item in plan):
        raise ZooError("adapter items are trained by lska_demo.adapter_zoo.build_adapters, not build_zoo")
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
        if item.ship:
            entry.update(ship_full(result.weights, entry, weights_dir))
        manifest.upsert(entry)
        manifest.save(weights_dir)
        log(f"{item.id}: test mAP50-95 {entry['metrics']['mAP50-95']:.4f} in {result.seconds:.0f} s")
    return manifest


def load_checkpoint_model(path: str | Path) -> Any:
    """An operator's trusted Ultralytics checkpoint (``--weights my.pt``, ``yolov8n.pt``) as an eval float model,
    unpickled with ``weights_only=True`` (``checkpoints.load_safely``); ZooError with a plain message when it
    cannot be. Never used for ``weights/``'s zoo files (``load_entry`` reads those)."""
    from lska_demo.checkpoints import CheckpointError, load_safely

    try:
        return load_safely(path)
    except CheckpointError as err:
        raise ZooError(str(err)) from err


def load_zoo_model(spec: VariantSpec, seed: int = 0, folder: str | Path = WEIGHTS_DIR) -> tuple[Any, dict[str, Any]]:
    """The shipped, sha256-verified model trained for ``spec`` (full fine-tune preferred, else adapter);
    ZooError if the zoo has none."""
    manifest = Manifest.load(folder)
    entry = manifest.trained(spec, seed)
    if entry is None:
        raise ZooError(f"the zoo has no trained weights for {spec.name}")
    return load_entry(entry, folder, manifest), entry


def load_pretrained(name: str = "yolov8n.pt", folder: str | Path = WEIGHTS_DIR) -> Any:
    """Ultralytics' COCO-pretrained weights: from ``weights/`` if the operator placed them there, else
    through Ultralytics' own download (online only). Offline it fails at once with a plain message for
    visitors; what the operator can do goes to the log."""
    local = Path(folder) / name
    if local.is_file():
        return load_checkpoint_model(local)
    try:
        from ultralytics.utils.downloads import attempt_download_asset

        downloaded = Path(attempt_download_asset(name))  # Ultralytics' cache, or its release download
        if not downloaded.is_file():
            raise FileNotFoundError(name)
        return load_checkpoint_model(downloaded)
    except (ConnectionError, OSError, FileNotFoundError) as err:
        # The operator's detail goes to the log; the message reaches visitors, so it names no path or setting.
        LOG.warning(
            "%s is not in %s and could not be downloaded (%s: %s). Offline, place %s in %s/; online, start the "
            "app with YOLO_OFFLINE=0 (the default on a Hugging Face Space).",
            name, folder, type(err).__name__, err, name, folder,
        )  # fmt: skip
        raise ZooError(
            "this server cannot download the COCO-pretrained YOLOv8n, and it is not installed here."
        ) from err
