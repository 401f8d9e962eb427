"""Re-evaluate a shipped zoo model from its safetensors file and compare with the manifest's metrics.

``python -m lska_demo.zoo.reproduce yolov8n-s0`` regenerates the benchmark if needed (checked against the
manifest's data hash), loads the model through the verified loader and runs Ultralytics' validator with
the arguments the zoo's evaluation used. Every held-out number in the manifest should come back exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lska_demo.benchmark.data import BenchmarkConfig, dataset_hash, generate
from lska_demo.core.runtime import CACHE_DIR, WEIGHTS_DIR
from lska_demo.train.trainer import evaluate_model
from lska_demo.zoo.load import load_entry
from lska_demo.zoo.manifest import Manifest, ZooError

DATA_ROOT = CACHE_DIR / "zoo" / "data"


def benchmark_data(manifest: Manifest, root: str | Path = DATA_ROOT) -> Path:
    """The data YAML of the manifest's benchmark, generated if absent; ZooError if its hash differs."""
    root = Path(root)
    data_yaml = root / "data.yaml"
    if not data_yaml.exists():
        generate(root, BenchmarkConfig(**manifest.benchmark["config"]))
    if dataset_hash(root) != manifest.benchmark.get("data_hash"):
        raise ZooError("the benchmark data on disk is not the one the manifest's models were evaluated on")
    return data_yaml


def reevaluate(
    model_id: str, weights_dir: str | Path = WEIGHTS_DIR, data_root: str | Path = DATA_ROOT, split: str = "test"
) -> dict[str, Any]:
    """The manifest's metrics of ``model_id`` beside the ones recomputed now from its shipped file.

    Args:
        model_id: a shipped manifest entry's id.
        weights_dir: the weights folder (manifest and files).
        data_root: where the benchmark lives (generated there if absent).
        split: "test" compares with ``metrics``, "val" with ``val_metrics``.
    """
    manifest = Manifest.load(weights_dir)
    entry = manifest.entry(model_id)
    if entry is None:
        raise ZooError(f"the manifest has no model {model_id!r}")
    data_yaml = benchmark_data(manifest, data_root)
    model = load_entry(entry, weights_dir, manifest)
    recomputed = evaluate_model(model, data_yaml, split, imgsz=int(entry["recipe"]["imgsz"]))
    stored = entry["metrics" if split == "test" else "val_metrics"]
    return {"id": model_id, "split": split, "manifest": stored, "recomputed": recomputed, "exact": recomputed == stored}
