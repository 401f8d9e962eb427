"""Pictures the app draws itself: boxes on an image, and YOLOv8 as an inline SVG with LSKA's insertion points.

No external assets: the font is the DejaVuSans that matplotlib ships, the diagram is plain SVG text.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lska_demo.analysis.detect import DetectionResult
from lska_demo.model.yolo import INSERTION_POINTS

# Colour-blind-safe (Okabe-Ito) colours, cycled by class index.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (213, 94, 0),
    (204, 121, 167),
    (0, 114, 178),
    (240, 228, 66),
)


@functools.lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont:
    import matplotlib

    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)


Rect = tuple[float, float, float, float]


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(boxes: list[Rect], sizes: list[tuple[float, float]], canvas: tuple[int, int]) -> list[Rect]:
    """Where each box's label goes so that no two labels overlap: above the box's top-left corner, else inside it,
    else below the box, else the nearest free place up or down from the corner; always inside the canvas.

    Args:
        boxes: (x1, y1, x2, y2) of each detection, in drawing order (the most confident first).
        sizes: (width, height) of each label's rectangle.
        canvas: (width, height) of the image.
    """
    width, height = canvas
    placed: list[Rect] = []
    for (x1, y1, _, y2), (w, h) in zip(boxes, sizes, strict=True):
        left = min(max(x1, 0.0), max(width - w, 0.0))
        steps = range(1, int(2 * height // max(h, 1)) + 1)
        tops = [y1 - h, y1, y2, *(y1 - h + sign * step * h / 2 for step in steps for sign in (-1, 1))]
        candidates = [(left, t, left + w, t + h) for t in tops if 0 <= t <= height - h]
        free = next((c for c in candidates if not any(_overlaps(c, p) for p in placed)), None)
        placed.append(free or (candidates[0] if candidates else (left, 0.0, left + w, h)))
    return placed


def draw_detections(image: np.ndarray, result: DetectionResult) -> np.ndarray:
    """A copy of ``image`` with every detection's box, label and score; sizes follow the image's size, and labels
    are placed so that none covers another (``place_labels``), the most confident placed first. With nothing to
    draw, ``image`` itself (read-only: the callers never write to either)."""
    if not result.detections:
        return image
    canvas = Image.fromarray(image)  # a copy: the caller's array stays as it is
    canvas = canvas if canvas.mode == "RGB" else canvas.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    side = max(canvas.size)
    width = max(2, round(side / 320))
    text_font = font(max(11, round(side / 45)))
    detections = sorted(result.detections, key=lambda d: -d.score)
    texts = [f"{det.label} {det.score:.2f}" for det in detections]
    extents = [draw.textbbox((0, 0), text, font=text_font) for text in texts]
    sizes = [(right - left + 2 * width, bottom - top + 2 * width) for left, top, right, bottom in extents]
    for det in detections:
        draw.rectangle(det.box, outline=PALETTE[det.cls % len(PALETTE)], width=width)
    spots = place_labels([tuple(map(float, det.box)) for det in detections], sizes, canvas.size)
    for det, text, (_, top, _, _), spot in zip(detections, texts, extents, spots, strict=True):
        draw.rectangle(spot, fill=PALETTE[det.cls % len(PALETTE)])
        draw.text((spot[0] + width, spot[1] + width - top), text, fill=(0, 0, 0), font=text_font)
    return np.asarray(canvas)


# --- YOLOv8 diagram -------------------------------------------------------------------------------------------

_ROW_Y = {"P1": 34, "P2": 84, "P3": 144, "P4": 224, "P5": 304, "SPPF": 372}
_BOX_H = 34
_COLS = {"backbone": 16, "topdown": 262, "bottomup": 478, "detect": 704}
_COL_W = {"backbone": 190, "topdown": 170, "bottomup": 170, "detect": 110}
_ACCENT = "#d55e00"
_MUTED = "#9aa3ad"


def _box(col: str, row: str, label: str, sub: str = "", fill: str = "#eef2f7") -> str:
    x, y, w = _COLS[col], _ROW_Y[row], _COL_W[col]
    sub_text = f'<text x="{x + w / 2}" y="{y + 27}" class="sub">{html.escape(sub)}</text>' if sub else ""
    dy = 14 if sub else 21
    return (
        f'<rect x="{x}" y="{y}" width="{w}" height="{_BOX_H}" rx="6" fill="{fill}" stroke="#5b6b7b"/>'
        f'<text x="{x + w / 2}" y="{y + dy}" class="lbl">{html.escape(label)}</text>{sub_text}'
    )


def _badge(x: float, y: float, chosen: bool, text: str = "LSKA") -> str:
    """An insertion-point marker: filled and labelled where LSKA goes, a faint dashed ring elsewhere."""
    if chosen:
        return (
            f'<rect x="{x - 23}" y="{y - 9}" width="46" height="18" rx="9" fill="{_ACCENT}"/>'
            f'<text x="{x}" y="{y + 4}" class="badge">{text}</text>'
        )
    return f'<circle cx="{x}" cy="{y}" r="6" fill="white" stroke="{_MUTED}" stroke-dasharray="2 2"/>'


def _arrow(points: list[tuple[float, float]]) -> str:
    d = " ".join(f"{x},{y}" for x, y in points)
    return f'<polyline points="{d}" fill="none" stroke="#5b6b7b" stroke-width="1.4" marker-end="url(#arr)"/>'


def _mid_y(row: str) -> float:
    return _ROW_Y[row] + _BOX_H / 2


def yolo_diagram(point: str) -> str:
    """YOLOv8 (backbone P1..P5, SPPF, neck top-down and bottom-up, Detect at P3/P4/P5) as inline SVG,
    with the four insertion points marked and ``point`` highlighted. Layer numbers are YOLOv8's own."""
    if point not in INSERTION_POINTS:
        raise ValueError(f"unknown insertion point {point!r}; choose one of {list(INSERTION_POINTS)}")
    bx, bw = _COLS["backbone"], _COL_W["backbone"]
    tx, tw = _COLS["topdown"], _COL_W["topdown"]
    ux, uw = _COLS["bottomup"], _COL_W["bottomup"]
    dx = _COLS["detect"]
    parts: list[str] = [
        '<text x="111" y="18" class="hdr">Backbone</text>',
        '<text x="347" y="18" class="hdr">Neck: top-down</text>',
        '<text x="563" y="18" class="hdr">Neck: bottom-up</text>',
        '<text x="759" y="18" class="hdr">Head</text>',
        _box("backbone", "P1", "Conv s2 (0)", "P1/2"),
        _box("backbone", "P2", "Conv s2 (1) → C2f (2)", "P2/4"),
        _box("backbone", "P3", "Conv s2 (3) → C2f (4)", "P3/8"),
        _box("backbone", "P4", "Conv s2 (5) → C2f (6)", "P4/16"),
        _box("backbone", "P5", "Conv s2 (7) → C2f (8)", "P5/32"),
        _box("backbone", "SPPF", "SPPF (9)", "pooling 5, 9, 13"),
        _box("topdown", "P4", "Up · Concat · C2f (12)", "P4/16"),
        _box("topdown", "P3", "Up · Concat · C2f (15)", "P3/8"),
        _box("bottomup", "P4", "Conv · Concat · C2f (18)", "P4/16"),
        _box("bottomup", "P5", "Conv · Concat · C2f (21)", "P5/32"),
        *(_box("detect", row, "Detect", row) for row in ("P3", "P4", "P5")),
    ]
    bc = bx + bw / 2
    parts += [
        _arrow([(bc, _ROW_Y[a] + _BOX_H), (bc, _ROW_Y[b])]) for a, b in zip(_ROW_Y, list(_ROW_Y)[1:], strict=False)
    ]
    parts += [
        _arrow([(bx + bw, _mid_y("SPPF")), (tx + tw / 2, _mid_y("SPPF")), (tx + tw / 2, _ROW_Y["P4"] + _BOX_H)]),
        _arrow([(bx + bw, _mid_y("P4")), (tx, _mid_y("P4"))]),
        _arrow([(bx + bw, _mid_y("P3")), (tx, _mid_y("P3"))]),
        _arrow([(tx + tw / 2 - 30, _ROW_Y["P4"]), (tx + tw / 2 - 30, _ROW_Y["P3"] + _BOX_H)]),
        _arrow([(tx + tw, _mid_y("P3")), (dx, _mid_y("P3"))]),
        _arrow([(ux + uw / 2, _mid_y("P3") + 6), (ux + uw / 2, _ROW_Y["P4"])]),
        _arrow([(tx + tw, _mid_y("P4")), (ux, _mid_y("P4"))]),
        _arrow([(ux + uw, _mid_y("P4")), (dx, _mid_y("P4"))]),
        _arrow([(ux + uw / 2, _ROW_Y["P4"] + _BOX_H), (ux + uw / 2, _ROW_Y["P5"])]),
        _arrow(
            [
                (tx + tw / 2, _mid_y("SPPF")),
                (ux + uw / 2 + 40, _mid_y("SPPF")),
                (ux + uw / 2 + 40, _ROW_Y["P5"] + _BOX_H),
            ]
        ),
        _arrow([(ux + uw, _mid_y("P5")), (dx, _mid_y("P5"))]),
    ]
    # Insertion points, where yolo.INSERTION_POINTS puts them.
    parts += [_badge(bx + bw - 28, _ROW_Y[row] + 6, point == "residual") for row in ("P2", "P3", "P4", "P5")]
    parts.append(_badge(bc, (_ROW_Y["P5"] + _BOX_H + _ROW_Y["SPPF"]) / 2, point == "sppf"))
    neck = [(tx + tw - 28, "P4"), (tx + tw - 28, "P3"), (ux + uw - 28, "P4"), (ux + uw - 28, "P5")]
    parts += [_badge(x, _ROW_Y[row] + _BOX_H - 6, point == "neck") for x, row in neck]
    parts += [_badge(dx - 26, _mid_y(row), point == "head") for row in ("P3", "P4", "P5")]
    legend_y = _ROW_Y["SPPF"] + _BOX_H + 26
    body = "".join(parts)
    return f"""<div class="yolo-diagram" style="max-width:840px">
<svg viewBox="0 0 830 {legend_y + 6}" xmlns="http://www.w3.org/2000/svg" role="img"
 aria-label="YOLOv8 with LSKA at the {html.escape(point)} insertion point" style="width:100%;height:auto">
<defs><marker id="arr" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
<path d="M0,0 L10,5 L0,10 z" fill="#5b6b7b"/></marker>
<style>.lbl{{font:600 12px sans-serif;fill:#1f2933;text-anchor:middle}}
.sub{{font:10px sans-serif;fill:#52606d;text-anchor:middle}}
.hdr{{font:700 13px sans-serif;fill:#323f4b;text-anchor:middle}}
.badge{{font:700 10px sans-serif;fill:white;text-anchor:middle}}
.leg{{font:12px sans-serif;fill:#323f4b}}</style></defs>
<rect x="0" y="0" width="830" height="{legend_y + 6}" fill="white"/>
{body}
<rect x="16" y="{legend_y - 12}" width="46" height="18" rx="9" fill="{_ACCENT}"/>
<text x="39" y="{legend_y + 1}" class="badge">LSKA</text>
<text x="70" y="{legend_y + 1}" class="leg">where LSKA goes at '{html.escape(point)}'</text>
<circle cx="340" cy="{legend_y - 3}" r="6" fill="white" stroke="{_MUTED}" stroke-dasharray="2 2"/>
<text x="352" y="{legend_y + 1}" class="leg">the other insertion points</text>
</svg>
<p style="margin:4px 0 0 0;font-size:0.9em"><b>{html.escape(point)}</b>: {html.escape(INSERTION_POINTS[point])}</p>
</div>"""
