"""Retiring models whose large kernels never left their random init.

A graft made with a zero 1x1 gate conv gives its depthwise kernels exactly zero gradient, so a short fine-tune
leaves them at their random init: such a model is not a trained LSKA, whatever its file says. The manifest keeps
its metrics (with the reason) but ships no file, and the app never offers it as trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lska_demo.core.runtime import WEIGHTS_DIR
from lska_demo.model.yolo import VariantSpec
from lska_demo.zoo.manifest import Manifest, regime_of

# The smallest relative L2 change of the large kernels from their init (``yolo.kernel_change``) that counts as
# trained; the identity grafts' kernels moved by less than 0.01.
KERNEL_CHANGE_MIN = 0.1
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


def retire_unmoved(manifest: Manifest, folder: str | Path = WEIGHTS_DIR) -> list[str]:
    """Mark every entry whose kernels never moved as retired, delete its shipped file; returns their ids.
    The caller saves the manifest."""
    retired = []
    for entry in manifest.models:
        if entry.get("retired") or not kernels_unmoved(entry):
            continue
        if entry.get("file"):
            (Path(folder) / entry["file"]).unlink(missing_ok=True)
        entry.update(file=None, sha256=None, retired=RETIRED_REASON)
        retired.append(entry["id"])
    return retired
