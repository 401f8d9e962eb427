"""The sentences the tabs show beside their results, as pure functions: the tab services decide what to compute,
this module says what it means to a visitor, so either can change without the other."""

from __future__ import annotations

from typing import Any

from lska_demo.app.sources import ZOO, model_words, side_role
from lska_demo.benchmark.domain import DomainNote
from lska_demo.core.cache import LoadedModel
from lska_demo.model.yolo import VariantSpec
from lska_demo.present import explain

NEITHER_TRAINED = (
    "Neither side is trained: both are randomly initialised networks. No detections; receptive fields and "
    "attention show the architectures, not anything learned."
)


def joined(*parts: str) -> str:
    """The paragraphs of a note, the empty ones left out."""
    return "\n\n".join(part for part in parts if part)


def pair_banner(base_trained: bool, variant_trained: bool, gate: str = "LSKA") -> str:
    """The warning for a pair whose sides differ in training, or that has no trained side at all; ``gate`` names
    the variant's design ("LSKA", "LKA", ...)."""
    if base_trained and variant_trained:
        return ""
    if not (base_trained or variant_trained):
        return NEITHER_TRAINED
    untrained = f"{gate} side" if base_trained else "baseline"
    return (
        f"Not a fair comparison: the {untrained} is untrained (random weights) while the other side is trained. "
        f"Differences between them come from training, not from {gate}. Pick a choice marked trained on both sides "
        "(the Zoo tab lists them)."
    )


def untrained_warning(
    base: LoadedModel, variant: LoadedModel, what: str, roles: tuple[str, str] = ("Baseline", "LSKA")
) -> str:
    """The warning to show first when a side of ``what`` (receptive field, attention) has random weights;
    ``roles``: the sides as the status names them ("Control", "LKA"...)."""
    sides = {roles[0].lower(): (base.name, base.trained), roles[1]: (variant.name, variant.trained)}
    return explain.untrained_warning(sides, what, gate=roles[1])


# --- compare ------------------------------------------------------------------------------------------------


def empty_reason(trained: bool, found: bool, conf: float, domain: DomainNote | None) -> str:
    """Why a trained side found nothing; empty where it found something or is untrained."""
    if not trained or found:
        return ""
    reason = f"Nothing scored above the confidence threshold ({conf:.2f})."
    if domain is not None and not domain.is_benchmark:
        return f"{reason} The zoo's models know only four synthetic shapes, so on this image that means nothing."
    if domain is not None:
        return f"{reason} Lower the threshold to see the model's weaker guesses."
    return f"{reason} This model knows the 80 COCO classes; lower the threshold to see weaker guesses."


ANECDOTE = "One image is an anecdote: the zoo's test-set metrics (the Zoo tab) are the evidence."


def zoo_pair_note(base: LoadedModel, variant: LoadedModel, spec: VariantSpec) -> str:
    """How the two trained zoo models shown were made, each named, so the note says what the side panels say."""
    entry = variant.entry or {}
    gate, role = model_words(spec).split(" + ", 1)[-1], side_role(spec)  # "LSKA k=23 at sppf", "LSKA"
    if entry.get("regime") == "adapter":
        return (
            f"Both models are adapters on the same frozen fine-tuned baseline ({entry.get('parent')}): only the gates "
            f"inserted at '{spec.point}' were trained, with the same recipe and seed. The control, {base.name}, "
            f"has a 1×1 pointwise gate (no spatial kernel); the {role} side, {variant.name}, has {gate}. So a "
            f"difference is the large kernel's, not the extra gating. {ANECDOTE}"
        )
    return (
        f"Both models were fine-tuned in full from the same scratch baseline with the same recipe and seed. The "
        f"baseline, {base.name}, has no gate; the {role} side, {variant.name}, has {gate} grafted in. So only the "
        f"gate differs. {ANECDOTE}"
    )


def compare_note(
    source: str, base: LoadedModel, variant: LoadedModel, domain: DomainNote | None, spec: VariantSpec
) -> str:
    """What one image's detections can and cannot say about LSKA, for this source and pair."""
    base_trained, variant_trained = base.trained, variant.trained
    lines = (
        [] if domain is None or domain.is_benchmark else [f"**⚠ Outside what the zoo was trained on.** {domain.advice}"]
    )
    if source == ZOO and base_trained and variant_trained:
        lines.append(zoo_pair_note(base, variant, spec))
    elif source != ZOO and variant_trained:
        lines.append(
            "The LSKA side is an identity-initialised graft: its detections equal the baseline's by construction."
        )
    elif base_trained or variant_trained:
        untrained = "LSKA side" if base_trained else "baseline"
        lines.append(
            f"The {untrained} has no trained weights, so it shows no detections: this pair compares training, not LSKA."
        )
    else:
        lines.append(NEITHER_TRAINED)
    return "\n\n".join(lines)


# --- receptive field and attention --------------------------------------------------------------------------


def erf_details(files: int, upload: bool, used: int, imgsz: int, layer: str) -> list[str]:
    """Which images the receptive field was measured on, and how to read its areas."""
    return [
        explain.images_used(files, upload, used),
        f"At {imgsz} px, layer '{layer}'. Area: the smallest centred square holding that share of "
        "the gradient, as a share of the image (larger = wider field).",
    ]


def stage_caption(units: list[tuple[str, Any]]) -> str:
    """What the stage maps show, and which LSKA unit they come from when the variant has several."""
    which = "" if len(units) == 1 else f" Shown: the first of {len(units)} LSKA units ({units[0][0]})."
    return explain.STAGE_CAPTION + which


def cam_caption(cam: Any) -> str:
    """A class activation map's caption; a flat map says why there is no picture."""
    return f"No map: {cam.flat_reason}." if cam.flat else explain.cam_caption(cam.method, cam.layer, cam.detections)


def attention_note(warning: str, uploaded: bool, identity_graft: bool, cams: dict[str, dict[str, Any]]) -> str:
    """The attention tab's note: the untrained warning, which image, the graft's identity, each CAM's remark."""
    return joined(
        warning,
        "" if uploaded else "No image was uploaded above: showing the first held-out benchmark image.",
        "Identity graft: LSKA's 1x1 conv is zero with bias 1, so the gate passes features unchanged."
        if identity_graft
        else "",
        *(f"{role.capitalize()} ({c['model']}): {c['note']}." for role, c in cams.items() if c.get("note")),
    )


# --- cost ---------------------------------------------------------------------------------------------------


def cost_label(nc: int, imgsz: int, native: int, who: str) -> str:
    """What the cost numbers are of: "at 256 px input, 4 classes (as the zoo's models run)"."""
    own = f"as {who} run" if imgsz == native else f"{who} run at {native} px"
    return f"at {imgsz} px input, {nc} classes ({own})"


def cost_note(nc: int, imgsz: int, native: int, who: str, timed: bool) -> str:
    """How the parameters, FLOPs and (when timed) latency were counted."""
    note = (
        f"YOLOv8n with {nc} classes, {imgsz}x{imgsz} input ({who} run at {native} px). FLOPs count "
        "multiply-adds x 2 and include every tap of a kernel wider than its feature map (padding), which is "
        f"what the hardware runs. {explain.KERNEL_EXPLANATION}"
    )
    if timed:
        note += " Latency: median of 10 CPU forward passes after 2 warm-ups, on whatever else this machine runs."
    return note


# --- where a larger k can widen the field -------------------------------------------------------------------

WIDE_SIZE, P3_STRIDE = 640, 8  # the head's first gate reads P3 (stride 8): 80×80 at 640 px


def reach_sentence(point: str, imgsz: int, side: int, where: str, ks: list[int]) -> str:
    """Where a larger k can and cannot change the measured field: the gate's map against each kernel size.

    A centred k×k kernel wider than the map (k > side) already spans it from the centre cell the ERF measures,
    so from there on a larger k only reads more padding.
    """
    fits, wider = [k for k in ks if k <= side], [k for k in ks if k > side]
    head = f"At {imgsz} px the gate at {point} ({where}) sees a map of {side}×{side} cells"
    if not wider:
        return (
            f"{head}, and every k up to {ks[-1]} fits inside it, so a larger k can widen the field there: the ERF "
            "column shows how far each gate reaches."
        )
    if fits:
        text = (
            f"{head}: up to k={fits[-1]} the kernel fits; from k={wider[0]} on it is wider than the map (its outer "
            "taps read padding), so a larger k cannot widen the field there."
        )
    else:
        text = f"{head}: even k={wider[0]} is wider than the map, so a larger k cannot widen the field there."
    p3 = WIDE_SIZE // P3_STRIDE
    return f"{text} Where it can: at head, P3 is {p3}×{p3} at {WIDE_SIZE} px and every k up to {ks[-1]} fits."
