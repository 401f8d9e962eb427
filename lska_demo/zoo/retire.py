"""Retiring models whose large kernels never left their random init, judged on the weights themselves.

A graft made with a zero 1x1 gate conv gives its depthwise kernels exactly zero gradient, so a short fine-tune
leaves them at their random init: such a model is not a trained LSKA, whatever its file says. Two measures, both
recorded in the manifest: ``kernel_change`` (relative L2 change from the init, taken at training) and
``kernel_init_p`` (the largest KS p-value of the shipped kernels with at least five taps against the random
inits, ``core.stats.init_p_value``, taken on the file). A retired model keeps its metrics (with the reason) but
ships no file, and the app never offers it as trained.
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
UNTESTABLE_REASON = "some of its large kernels cannot be told from their random init (KS p >= 0.001)"


def has_large_kernels(entry: dict[str, Any]) -> bool:
    spec = VariantSpec(**entry["spec"])
    return not spec.is_baseline and spec.design != "pointwise"


def kernels_unmoved(entry: dict[str, Any]) -> str | None:
    """Why a graft or adapter with large kernels counts as untrained (``kernel_change`` missing or below the
    minimum, or ``kernel_init_p`` not below its maximum), else None. Models trained from scratch train their
    kernels from the first step and are never judged so."""
    if regime_of(entry) == "scratch" or not has_large_kernels(entry):
        return None
    if float(entry.get("kernel_change") or 0.0) < KERNEL_CHANGE_MIN:
        return RETIRED_REASON
    p_value = entry.get("kernel_init_p")
    return UNTESTABLE_REASON if p_value is not None and p_value >= KERNEL_INIT_P_MAX else None


def measure_init_p(entry: dict[str, Any], folder: str | Path = WEIGHTS_DIR) -> float | None:
    """``kernel_init_p`` of a shipped entry, read from its sha256-verified file (None: no kernel to test)."""
    from safetensors.numpy import load

    tensors = load(verified_bytes(entry, folder))
    p_values = [
        init_p_value(w)
        for w in tensors.values()
        if w.ndim == 4 and w.shape[1] == 1 and w.shape[2] * w.shape[3] >= MIN_TAPS_FOR_INIT_TEST
    ]
    return max(p_values) if p_values else None


def retire_unmoved(manifest: Manifest, folder: str | Path = WEIGHTS_DIR) -> list[str]:
    """Measure ``kernel_init_p`` of every shipped graft and adapter, mark every entry whose kernels count as
    untrained (``kernels_unmoved``) as retired and delete its file; returns their ids. The caller saves the
    manifest."""
    retired = []
    for entry in manifest.models:
        if entry.get("retired") or not has_large_kernels(entry) or regime_of(entry) == "scratch":
            continue
        if entry.get("file") and entry.get("kernel_change") is not None:
            entry["kernel_init_p"] = measure_init_p(entry, folder)
        reason = kernels_unmoved(entry)
        if reason is None:
            continue
        if entry.get("file"):
            (Path(folder) / entry["file"]).unlink(missing_ok=True)
        entry.update(file=None, sha256=None, retired=reason)
        retired.append(entry["id"])
    return retired
