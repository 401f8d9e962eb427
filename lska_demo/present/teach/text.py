"""The teaching tab's words and tables, read from the modules themselves (nothing typed by hand)."""

from __future__ import annotations

from typing import Any

from lska_demo.analysis.cascade import conv_label
from lska_demo.analysis.playground import RankView
from lska_demo.model.kernels import DESIGN_LABELS, DESIGNS, PAPER_KERNEL_SIZES, build_design, kernel_spec
from lska_demo.model.yolo import VariantSpec


def pipelines_html(k: int) -> str:
    """Each design as the pipeline of convs its module really builds (read from the modules, not typed).

    One block per design (name and weights, then the pipeline's chips, which wrap), so that it reads on a
    phone as on a laptop: no table wider than the screen.
    """
    blocks = []
    for design in DESIGNS:
        gate = build_design(design, 1, k)
        steps = [conv_label(getattr(gate, name)) for name in gate.stage_names]
        weights = sum(c.weight.numel() for c in gate.depthwise_convs())
        chips = " → ".join(
            f'<span style="display:inline-block;padding:2px 7px;margin:2px 0;border-radius:5px;'
            f'background:{"#fde2cf" if i < len(steps) - 1 else "#dbe7f3"};color:#1f2933;font-family:monospace">'
            f"{s}</span>"
            for i, s in enumerate(steps)
        )
        blocks.append(
            f"<div style='margin:0 0 10px'><b>{DESIGN_LABELS[design]}</b>: <b>{weights}</b> spatial weights per "
            f"channel<br>x → {chips} → attn; out = x · attn</div>"
        )
    return (
        f"<div><p style='margin:0 0 8px'>The four designs at k = {k}, as their modules build them "
        "(orange: depthwise convs, blue: the 1×1 conv)</p>" + "".join(blocks) + "</div>"
    )


def weights_table(k: int) -> list[dict[str, Any]]:
    """Per-channel spatial weights of each design at every paper k (the chosen k marked)."""
    table = []
    for size in PAPER_KERNEL_SIZES:
        row: dict[str, Any] = {"k": f"{size} ◀" if size == k else size}
        for design in DESIGNS:
            gate = build_design(design, 1, size)
            row[DESIGN_LABELS[design]] = sum(c.weight.numel() for c in gate.depthwise_convs())
        table.append(row)
    return table


def teaching_text(k: int, rank: RankView) -> str:
    """The worked explanation at ``k``; ``rank`` (e.g. playground.rank_view("ring", k)) gives the numbers of
    what one separable kernel loses and what LSKA's 1×1 mixing of a few channels recovers."""
    s = kernel_spec(k)
    a, big_k, d = s.plain, s.dilated, s.dilation
    lka = a * a + big_k * big_k
    lska = 2 * a + 2 * big_k
    nth = f"{d}{'nd' if d == 2 else 'rd'}"
    return f"""### How LSKA reaches a {k}×{k} receptive field with {lska} weights

1. **The naive way (LKA-trivial).** One depthwise {k}×{k} kernel: {k * k} weights per channel, and as many
   multiply-adds per pixel. Doubling k quadruples both.
2. **LKA (VAN).** A small {a}×{a} kernel, then a {big_k}×{big_k} kernel with dilation {d} (it reads every
   {nth} pixel). Stacked, they see {a} + {d}·({big_k} − 1) = {k} pixels across, with {a}² + {big_k}² = {lka}
   weights.
3. **LSKA.** Split each 2-D kernel into a row and a column: 1×{a} then {a}×1, then 1×{big_k} and {big_k}×1 (dilated).
   Same {k}×{k} reach, **2·{a} + 2·{big_k} = {lska}** weights: the cost grows linearly with k, not with k².
4. **The gate.** A 1×1 conv mixes channels into `attn`; the output is `x · attn` (no sigmoid). LSKA decides
   *where* to amplify or damp features from {k}×{k} of context.

**What separability keeps.** A row kernel followed by a column kernel equals one 2-D kernel that is their outer
product (rank 1). That covers blurs, box sums, horizontal and vertical edges, and a wide view of the scene —
the context the paper argues biases the network towards shape rather than texture.

**What it loses.** A rank-1 kernel cannot be diagonal, ring-shaped or otherwise "rotated": those need several
rank-1 terms. Asked to draw a {k}×{k} {rank.name} as its kernel, the best single separable kernel (SVD) misses
{rank.rank1_error:.0%} of it; LSKA's 1×1 conv sums its channels' separable kernels, and with {rank.channels}
channels the best LSKA-shaped fit misses {rank.lska_error:.0%} (the playground below shows both). The paper's
claim is that the loss costs little accuracy, because depth and the 1×1 mixing make up for it; the Zoo tab
shows what it cost on this app's benchmark, and the trained kernels below show where training moved the zoo's
gates' kernels (whether the detector uses where they went: the Compare tab's status, which scores them shuffled).

**Cost in a detector.** At YOLOv8n's P5 (20×20 at 640 px) a {k}-wide kernel may be wider than the map: the taps
that land on padding still cost FLOPs. See the Cost tab.
"""


def python_snippet(spec: VariantSpec) -> str:
    return f"""# pip install -r requirements.txt && pip install -e .   (in a clone of this repository)
import lska_demo  # registers LSKA, LSKABlock and C2fLSKA with Ultralytics' YAML parser
from lska_demo.train.trainer import LSKADetectionTrainer
from ultralytics import YOLO

# 1) From scratch: save the YAML above as {spec.name}.yaml
model = YOLO("{spec.name}.yaml")
model.train(data="your.yaml", epochs=100, imgsz=640, trainer=LSKADetectionTrainer)

# 2) Or graft LSKA into a trained YOLOv8 (identity at start, so nothing is lost), then fine-tune:
#    python -m lska_demo train --mode graft --base yolov8{spec.scale}.pt --data your.yaml \\
#        --k {spec.k} --point {spec.point} --block {spec.block} --design {spec.design}
"""
