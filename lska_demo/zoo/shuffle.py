"""Whether a shipped gate's large kernels matter as trained: its held-out mAP beside the same model with the values
of each large kernel shuffled into random places.

A KS test against the init (``zoo.retire.kernel_tests``) only says that the weights left it. A shuffle keeps every
kernel's values, so its distribution and its KS verdict stay the same, and destroys where training put them: if the
detector scores the same, the learned arrangement carries nothing it uses. Each permutation is seeded, so the
measurement repeats exactly; ``p`` is the one-sided permutation p-value that the trained arrangement scores higher
than a shuffled one, (1 + shuffles scoring at least as high) / (1 + shuffles).

Run: ``python -m lska_demo kernel-shuffle [IDS ...] [--shuffles N]``; it records ``kernel_shuffle`` in the manifest.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.model.yolo import large_kernels
from lska_demo.train.trainer import evaluate_model
from lska_demo.zoo.load import load_entry
from lska_demo.zoo.manifest import Manifest, ZooError
from lska_demo.zoo.reproduce import DATA_ROOT, benchmark_data
from lska_demo.zoo.retire import has_large_kernels

METRIC = "mAP50-95"


def shuffle_kernels(model: nn.Module, seed: int) -> None:
    """Permute the values of every large kernel of ``model`` in place (across its channels and taps), seeded."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for weight in large_kernels(model).values():
            flat = weight.view(-1)
            flat.copy_(flat[torch.randperm(flat.numel(), generator=generator)])


def shuffle_summary(trained: float, shuffled: list[float]) -> dict[str, Any]:
    """What the manifest records: the trained metric, each shuffle's, the mean drop and the permutation p."""
    at_least = sum(s >= trained for s in shuffled)
    return {
        "metric": METRIC,
        "trained": trained,
        "shuffled": shuffled,
        "drop": trained - statistics.fmean(shuffled),
        "p": (1 + at_least) / (1 + len(shuffled)),
    }


def kernel_shuffle(entry: dict[str, Any], folder: Path, manifest: Manifest, data_yaml: Path, shuffles: int) -> dict:
    """``shuffle_summary`` of a shipped gate on the held-out test split, against the manifest's own score (which
    ``python -m lska_demo reproduce`` recomputes exactly from the file)."""
    imgsz = int(entry["recipe"]["imgsz"])
    shuffled = []
    for seed in range(shuffles):
        model = load_entry(entry, folder, manifest)
        shuffle_kernels(model, seed)
        shuffled.append(evaluate_model(model, data_yaml, "test", imgsz=imgsz)[METRIC])
    return shuffle_summary(entry["metrics"][METRIC], shuffled)


def record_kernel_shuffles(
    ids: list[str] | None = None,
    shuffles: int = 4,
    weights_dir: str | Path = WEIGHTS_DIR,
    data_root: str | Path = DATA_ROOT,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Measure and record ``kernel_shuffle`` for ``ids`` (default: every shipped gate with large kernels that has
    none yet), saving the manifest after each: resumable."""
    weights_dir = Path(weights_dir)
    manifest = Manifest.load(weights_dir)
    shipped = [e for e in manifest.active if e.get("file") and has_large_kernels(e)]
    if ids:
        unknown = sorted(set(ids) - {e["id"] for e in shipped})
        if unknown:
            raise ZooError(f"no shipped gate with large kernels is called {', '.join(unknown)}")
        todo = [e for e in shipped if e["id"] in ids]
    else:
        todo = [e for e in shipped if "kernel_shuffle" not in e]
    data_yaml = benchmark_data(manifest, data_root)
    done = []
    for entry in todo:
        entry["kernel_shuffle"] = kernel_shuffle(entry, weights_dir, manifest, data_yaml, shuffles)
        manifest.save(weights_dir)
        result = entry["kernel_shuffle"]
        log(f"{entry['id']}: {result['drop']:+.4f} {METRIC} above its shuffled kernels, p {result['p']:.2f}")
        done.append({"id": entry["id"], **result})
    return done
