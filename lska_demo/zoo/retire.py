"""Retiring models whose large kernels never left their random init, and measuring the rest on their weights.

A graft made with a zero 1x1 gate conv gives its depthwise kernels exactly zero gradient, so a short fine-tune
leaves them at their random init: such a model is not a trained LSKA, whatever its file says. ``kernel_change``
(relative L2 change from the init, taken at training) below ``KERNEL_CHANGE_MIN`` retires a model: it keeps its
metrics (with the reason) but ships no file, and the app never offers it as trained. Every shipped model also gets
``kernel_tests``, taken on its file: how many of its kernels of at least five taps a KS test tells apart from both
random inits at p < 0.001 (``core.stats.init_p_value``). A short adapter run moves every kernel, but the test has
little power on a gate of 16 to 128 channels; the app and the results table show the count, so a visitor sees
which models are only partly told apart from noise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.core.stats import MIN_TAPS_FOR_INIT_TEST, init_p_value
from lska_demo.model.yolo import VariantSpec
from lska_demo.zoo.manifest import Manifest, regime_of, verified_bytes

# The smallest relative L2 change of the large kernels from their init (``yolo.kernel_change``) that counts as
# trained; the identity grafts' kernels moved by less than 0.01.
KERNEL_CHANGE_MIN = 0.1
KERNEL_INIT_P_MAX = 1e-3
RETIRED_REASON = "its large kernels never left their random init (identity graft with a zero 1x1 gate conv)"


def has_large_kernels(entry: dict[str, Any]) -> bool:
    spec = VariantSpec(**entry["spec"])
    return not spec.is_baseline and spec.design != "pointwise"


def kernels_unmoved(entry: dict[str, Any]) -> bool:
    """A graft or adapter with large kernels whose recorded ``kernel_change`` is missing or below the minimum.
    Models trained from scratch train their kernels from the first step and are never judged so."""
    if regime_of(entry) == "scratch" or not has_large_kernels(entry):
        return False
    return float(entry.get("kernel_change") or 0.0) < KERNEL_CHANGE_MIN


def kernel_tests(entry: dict[str, Any], folder: str | Path = WEIGHTS_DIR) -> dict[str, int | float | None]:
    """Of a shipped entry's kernels with at least five taps (read from its sha256-verified file): how many there
    are, how many a KS test tells apart from both random inits at p < ``KERNEL_INIT_P_MAX``, and the largest p."""
    from safetensors.numpy import load

    tensors = load(verified_bytes(entry, folder))
    p_values = [
        init_p_value(w)
        for w in tensors.values()
        if w.ndim == 4 and w.shape[1] == 1 and w.shape[2] * w.shape[3] >= MIN_TAPS_FOR_INIT_TEST
    ]
    return {
        "testable": len(p_values),
        "told_apart": sum(p < KERNEL_INIT_P_MAX for p in p_values),
        "max_p": max(p_values) if p_values else None,
    }


def retire_unmoved(manifest: Manifest, folder: str | Path = WEIGHTS_DIR) -> list[str]:
    """Mark every entry whose kernels never moved (``kernels_unmoved``) as retired and delete its file, and record
    ``kernel_tests`` of every other shipped graft and adapter; returns the retired ids. The caller saves the
    manifest."""
    retired = []
    for entry in manifest.models:
        if entry.get("retired") or not has_large_kernels(entry) or regime_of(entry) == "scratch":
            continue
        if not kernels_unmoved(entry):
            if entry.get("file"):
                entry["kernel_tests"] = kernel_tests(entry, folder)
            continue
        if entry.get("file"):
            (Path(folder) / entry["file"]).unlink(missing_ok=True)
        entry.update(file=None, sha256=None, retired=RETIRED_REASON)
        retired.append(entry["id"])
    return retired
