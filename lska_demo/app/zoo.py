"""The Zoo tab: every trained model with its held-out metrics, and each variant judged against its control."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lska_demo.app.inputs import VariantChoice
from lska_demo.app.sources import ModelSources
from lska_demo.zoo.manifest import control_spec, regime_of


@dataclass
class ZooVerdicts:
    """The zoo's results judged from the manifest: one row per (regime, architecture) with its paired
    comparison to the control of its regime (``report.verdict_rows``), and the Δ chart with intervals."""

    rows: list[dict[str, Any]]
    figure: np.ndarray


class ZooService:
    """Answers the Zoo tab from the manifest alone: no model loads."""

    def __init__(self, models: ModelSources) -> None:
        self.models = models

    def verdicts(self) -> ZooVerdicts:
        """Every variant's Δ mAP50-95 against the control of its regime, paired by seed, with its verdict."""
        from lska_demo.present import plots
        from lska_demo.zoo.report import verdict_rows

        rows = verdict_rows(self.models.manifest())
        return ZooVerdicts(rows, plots.delta_figure(rows))

    def table(self) -> list[dict[str, Any]]:
        """Every model in the manifest, with its architecture and held-out metrics."""
        return [_zoo_row(entry) for entry in self.models.manifest().models]

    def pair(self, choice: VariantChoice) -> list[dict[str, Any]]:
        """The variant's zoo entry (full graft preferred, else adapter) and the control of its regime, with the
        regime named (missing ones say so)."""
        from lska_demo.zoo.plan import NC

        spec = choice.spec(nc=NC)
        manifest = self.models.manifest()
        variant = manifest.trained(spec, shipped=False)
        regime = regime_of(variant) if variant else "finetune"
        control = control_spec(regime, spec)
        rows = []
        for role, wanted, entry in (
            ("control", control, manifest.find(control, shipped=False, regime=regime)),
            ("variant", spec, variant),
        ):
            found = _zoo_row(entry) if entry else {"model": wanted.name, "regime": regime, "status": "not trained"}
            rows.append({"role": role, **found})
        return rows


def _zoo_row(entry: dict[str, Any]) -> dict[str, Any]:
    """One manifest entry as a table row: architecture, regime, seed, rounded metrics."""
    spec = entry.get("spec") or {}
    metrics = entry.get("metrics") or {}
    return {
        "model": entry["id"],
        "mode": entry.get("mode"),
        "k": spec.get("k"),
        "point": spec.get("point") if spec.get("k") else None,
        "block": spec.get("block") if spec.get("k") else None,
        "design": spec.get("design", "lska") if spec.get("k") else None,
        "regime": regime_of(entry),
        "seed": entry.get("seed"),
        "mAP50": None if metrics.get("mAP50") is None else round(metrics["mAP50"], 4),
        "mAP50-95": None if metrics.get("mAP50-95") is None else round(metrics["mAP50-95"], 4),
        "shipped": bool(entry.get("file")),
        "train s": entry.get("train_seconds"),
    }
