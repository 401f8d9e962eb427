"""What each analysis panel shows and what a visitor may conclude from it, in words: pure functions from the
numbers the service computed to the sentences and readable tables around its figures."""

from __future__ import annotations

from typing import Any

from lska_demo.model.describe import feature_side, layer_labels, layer_strides
from lska_demo.model.kernels import kernel_spec
from lska_demo.model.yolo import VariantSpec

ALIKE_TOLERANCE = 0.25
"""Two ERFs look alike when every area ratio of one is within this fraction of the other's."""
SPPF_POOLS, SPPF_POOL = 3, 5  # SPPF chains three 5x5 max-pools (YOLOv8's table: SPPF [c, 5])
SPPF_REACH = 1 + SPPF_POOLS * (SPPF_POOL - 1)  # cells one SPPF output sees along each side


def _percent(value: float) -> str:
    return f"{100 * value:.2g} %" if value < 0.1 else f"{100 * value:.0f} %"


def untrained_warning(sides: dict[str, tuple[str, bool]], what: str, gate: str = "LSKA") -> str:
    """A warning (Markdown blockquote) when a side is untrained, else "". ``sides``: role -> (name, trained);
    ``gate``: the design the pair tests ("LSKA", "LKA", ...)."""
    untrained = [f"{role} ({name})" for role, (name, trained) in sides.items() if not trained]
    if not untrained:
        return ""
    return (
        f"> ⚠️ **Untrained network: {' and '.join(untrained)}.** Its weights are random, so its {what} shows only "
        f"the wiring, not what a trained network does; set beside a trained one it says **nothing about {gate}**. "
        "Choose a k and insertion point whose zoo models are trained to compare like with like."
    )


def images_used(files: int, upload: bool, count: int) -> str:
    """Which images an ERF was averaged over, in words."""
    if files:
        return f"{count} image(s): your files above."
    if upload:
        return "1 image: the one uploaded at the top of the page."
    return f"{count} image(s): held-out benchmark images (upload an image at the top to use yours)."


def ratios_alike(rows: list[dict[str, Any]], tolerance: float = ALIKE_TOLERANCE) -> bool:
    """Whether every threshold's area ratio of the two sides agrees within ``tolerance`` (relative)."""
    for row in rows:
        a, b = row["baseline"], row["variant"]
        if (a is None) != (b is None):
            return False
        if a is not None and abs(a - b) > tolerance * max(a, b):
            return False
    return True


def why_alike(spec: VariantSpec, layer: int, imgsz: int) -> str:
    """Why two trained networks' ERFs agree at layer ``layer`` of the variant: the map is already small.

    SPPF is named only for a layer SPPF has run before (at 'sppf' the gate comes before it); a kernel is said to
    read padding only where it is wider than the map.
    """
    side, stride = feature_side(spec, layer, imgsz), layer_strides(spec)[layer]
    text = (
        f"**Why the two maps look alike:** at {imgsz} px this layer's map is only {side}×{side} cells "
        f"(one cell = {stride} px), so the layers before it already see most of the image"
    )
    if spec.k is not None and spec.k > side:
        text += f" and a k={spec.k} kernel, wider than the map, mostly reads padding"
    sppf = next(i for i, label in enumerate(layer_labels(spec)) if "SPPF" in label)
    if layer >= sppf and stride == max(layer_strides(spec)) and side <= SPPF_REACH:
        pools = f"{SPPF_POOLS} stacked {SPPF_POOL}×{SPPF_POOL} poolings"
        text += f"; SPPF's {pools} ({SPPF_REACH}×{SPPF_REACH} cells) already span it"
    return (
        text + ". Compare the area ratios in the table: large kernels add reach only where the map is larger "
        "(the panel below shows where)."
    )


def erf_caption(rows: list[dict[str, Any]], names: tuple[str, str] = ("the baseline", "LSKA")) -> str:
    """What the ERF figure shows and what to conclude from its 50 % area ratios; ``names``: the two sides in words
    ("the control", "LKA"...)."""
    half = next((r for r in rows if r["threshold"] == 0.5), None)
    shows = (
        "**What this shows:** how strongly each input pixel moves the centre cell of the chosen layer (bright = "
        "strong); the dashed square holds half of that influence."
    )
    if half is None or half["baseline"] is None or half["variant"] is None:
        return shows + " **What to conclude:** a side where no square reaches 50 % has a field too spread to measure."
    a, b = half["baseline"], half["variant"]
    if ratios_alike([half]):
        verdict = "both fields are about the same size"
    else:
        verdict = f"{names[1] if b > a else names[0]} has the wider field"
    where = f"half the influence lies within {_percent(a)} of the image for {names[0]}, {_percent(b)} for {names[1]}"
    return f"{shows} **What to conclude:** {verdict}: {where}."


ERF_RATIO_COLUMNS = {"threshold": "share of the gradient", "baseline": "baseline: area", "variant": "LSKA: area"}


def ratio_table(rows: list[dict[str, Any]], names: tuple[str, str] = ("baseline", "LSKA")) -> list[dict[str, Any]]:
    """The area ratios with readable columns: a share of the gradient, and each side's area as % of the image
    (``names``: the sides' column names, e.g. "control", "LKA")."""
    return [
        {
            ERF_RATIO_COLUMNS["threshold"]: f"{100 * row['threshold']:g} %",
            **{
                f"{name}: area": "no square reaches it" if row[role] is None else f"{100 * row[role]:.2f} %"
                for role, name in zip(("baseline", "variant"), names, strict=True)
            },
        }
        for row in rows
    ]


STAGE_CAPTION = (
    "**What this shows:** inside the LSKA unit of the variant, the mean strength of the features after each 1-D "
    "convolution, then the gate and the gated output, over the image (bright = strong; each panel scaled on its "
    "own, so compare shapes, not brightness). **What to conclude:** the horizontal then vertical kernels spread "
    "a response along rows, then columns; the gate marks which places the unit lets through."
)


def cam_caption(method: str, layer: int, detections: int) -> str:
    """A one-line caption for a class activation map."""
    what = "which places raise the detected boxes' scores" if method == "grad" else "the features' main pattern"
    name = "Grad-CAM" if method == "grad" else "EigenCAM"
    return f"{name} on layer {layer}: red = {what}, blue = weakest; {detections} box(es) detected."


def kernel_text(lengths: list[int], k: int) -> str:
    """LSKA's four 1-D kernels as shapes: "1×5, 5×1, 1×7, 7×1 (dilation 3)"."""
    if len(lengths) != 4:
        return ", ".join(map(str, lengths))
    a, _, big, _ = lengths
    return f"1×{a}, {a}×1, 1×{big}, {big}×1 (dilation {kernel_spec(k).dilation})"


KERNEL_EXPLANATION = (
    "LSKA's kernels are four 1-D depthwise convolutions: 1×a then a×1 (a small square), then 1×K and K×1 "
    "dilated by d (a large sparse cross), so a + d(K − 1) = k; a 1×1 conv then mixes channels into the gate."
)


def _unit_label(name: str, labels: list[str]) -> str:
    parts = name.split(".")
    if len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) >= len(labels):
        return name
    label = labels[int(parts[1])]
    if len(parts) > 3 and parts[2] == "m" and parts[3].isdigit():  # inside a C2f's bottleneck
        return f"{label}, bottleneck {parts[3]}"
    return label if len(parts) == 2 else f"{label}, inside {'.'.join(parts[2:])}"


def lska_table(rows: list[dict[str, Any]], spec: VariantSpec) -> list[dict[str, Any]]:
    """Each LSKA unit's cost with readable column names and layer names in words."""
    labels = layer_labels(spec)
    return [
        {
            "LSKA unit": _unit_label(row["name"], labels),
            "feature map": f"{row['feature_map'][0]}×{row['feature_map'][1]} × {row['channels']} ch",
            "1-D kernels": kernel_text(list(row["kernel_lengths"]), int(row["k"])),
            "GFLOPs: 1-D convs": round(row["depthwise_gflops"], 4),
            "GFLOPs: 1×1 mix": round(row["pointwise_gflops"], 4),
            "parameters": row["depthwise_params"] + row["pointwise_params"],
            "kernel wider than map": "yes (reads padding)" if row["reads_padding"] else "no",
        }
        for row in rows
    ]


def layer_table(rows: list[dict[str, Any]], spec: VariantSpec) -> list[dict[str, Any]]:
    """The variant's layers in words beside their baseline counterpart's cost; new layers say so."""
    labels = layer_labels(spec)
    table = []
    for row in rows:
        base = row.get("baseline_index")
        table.append(
            {
                "layer (variant)": labels[row["index"]] if row["index"] < len(labels) else row["name"],
                "baseline layer": "new" if base is None else base,
                "parameters": row["params"],
                "Δ parameters": row["params"] - (row.get("baseline_params") or 0),
                "GFLOPs": round(row["gflops"], 4),
                "Δ GFLOPs": round(row["delta_gflops"], 4),
            }
        )
    return table
