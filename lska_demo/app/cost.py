"""The cost tab: parameters, GFLOPs and per-layer deltas of the baseline vs the variant; latency on request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lska_demo.app import notes
from lska_demo.app.common import Progress, report
from lska_demo.app.inputs import VariantChoice, check_flag, check_imgsz
from lska_demo.app.sources import ZOO, ZOO_IMGSZ, ModelSources, model_words
from lska_demo.model.yolo import VariantSpec


@dataclass
class CostResult:
    summary: list[dict[str, Any]]
    layers: list[dict[str, Any]]
    lska: list[dict[str, Any]]
    latency: dict[str, Any] | None
    imgsz: int
    note: str
    nc: int = 80
    label: str = ""  # "at 256 px, 4 classes (the zoo's models)": what the numbers are of


class CostService:
    """Answers the cost tab on architecture-only models, built with the source's classes."""

    def __init__(self, models: ModelSources) -> None:
        self.models = models

    def run(
        self, source: str, choice: VariantChoice, imgsz: Any, latency: Any, progress: Progress | None
    ) -> CostResult:
        """The source's YOLOv8n vs the variant, counted at ``imgsz``: by default (None or 0) the size the
        source's models run at (the zoo: 256 px; yolov8n.pt: 640 px). ``label`` says which. In the zoo the
        left model is the one the Compare tab shows beside the variant: the control of the variant's regime
        (the pointwise gate for an adapter, the baseline for a full graft)."""
        from lska_demo.analysis.cost import cost_comparison
        from lska_demo.present import explain

        nc, native, who = self._source_shape(source, choice.spec())
        spec = choice.spec(nc=nc)
        imgsz = native if imgsz is None or (imgsz == 0 and not isinstance(imgsz, bool)) else check_imgsz(imgsz)
        latency = check_flag("measure latency", latency)
        report(progress, 0.1, "counting parameters and FLOPs" + (" and timing forward passes" if latency else ""))
        control = self.models.zoo_control(spec) if source == ZOO else spec.baseline()
        base, variant = self.models.architecture(control), self.models.architecture(spec)
        with base.use() as b, variant.use() as v:  # always baseline first: one lock order, no deadlock
            counted = cost_comparison(b, v, imgsz, latency_repeats=10 if latency else 0, warmup=2)
        timing = counted.get("latency")
        return CostResult(
            _cost_summary(counted, control, spec),
            explain.layer_table(counted["layers"], spec),
            explain.lska_table(counted["lska"], spec),
            timing,
            imgsz,
            notes.cost_note(nc, imgsz, native, who, bool(timing)),
            nc,
            notes.cost_label(nc, imgsz, native, who),
        )

    def _source_shape(self, source: str, spec: VariantSpec) -> tuple[int, int, str]:
        """(classes, input size, who) of a source's models; the zoo's are known without loading anything."""
        if source == ZOO:
            from lska_demo.zoo.plan import NC

            return NC, ZOO_IMGSZ, "the zoo's models"
        base, _ = self.models.pair(source, spec)
        return int(base.model.yaml["nc"]), base.imgsz, f"the {source} models"


def _cost_summary(counted: dict[str, Any], control: VariantSpec, spec: VariantSpec) -> list[dict[str, Any]]:
    """The summary table of a cost comparison: one row per model (named in words), then their difference."""
    timing = counted.get("latency")
    summary = []
    for role, name in (("baseline", model_words(control)), ("variant", model_words(spec))):
        row = {"model": name, "params": counted[role]["params"], "GFLOPs": round(counted[role]["gflops"], 4)}
        if timing:
            row["latency median ms"] = round(timing[role]["median_ms"], 1)
            row["latency IQR ms"] = round(timing[role]["iqr_ms"], 1)
        summary.append(row)
    delta = counted["delta"]
    summary.append(
        {
            "model": "difference",
            "params": f"{delta['params']:+d} ({delta['params_pct']:+.2f} %)",
            "GFLOPs": f"{delta['gflops']:+.4f} ({delta['gflops_pct']:+.2f} %)",
            **({"latency median ms": f"x{timing['ratio']:.3f}", "latency IQR ms": ""} if timing else {}),
        }
    )
    return summary
