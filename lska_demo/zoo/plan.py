"""The zoo's plans: which models are trained, how, and in what order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lska_demo.benchmark.data import CLASS_NAMES
from lska_demo.model.kernels import PAPER_KERNEL_SIZES
from lska_demo.model.yolo import INSERTION_POINTS, VariantSpec

NC = len(CLASS_NAMES)


ADAPTER_PARENT = "yolov8n-s0"


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
    """The adapter regime (``lska_demo.zoo.build_adapters``): gates trained alone on the frozen control, in the order
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
