"""What every command shares: how a command is added, and the arguments that name one YOLOv8 variant."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from lska_demo.model.vocabulary import BLOCK_LABELS, DESIGN_CHOICES, POINT_LABELS, SCALE_LABELS
from lska_demo.model.yolo import VariantSpec

Handler = Callable[[argparse.Namespace], Any]
Render = Callable[[Any], str]


def command(
    sub: argparse._SubParsersAction,
    name: str,
    handler: Handler,
    help_text: str,
    render: Render | None = None,
    figures: bool = False,
) -> argparse.ArgumentParser:
    """Add the command ``name``: ``handler(args)`` returns data, ``render(data)`` the text printed without
    ``--json`` (JSON when absent). ``figures=True`` adds ``--out DIR``, where the command writes its PNGs."""
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    if figures:
        p.add_argument("--out", default=None, help="write figures (PNG) into this folder")
    p.set_defaults(handler=handler, render=render)
    return p


def add_variant_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments that name one YOLOv8 variant; ``--k`` absent means the baseline. Any k the kernel rule
    accepts is allowed (the paper's sizes and e.g. 17, 29): a wrong one is refused with the rule."""
    p.add_argument(
        "--k", type=int, default=None, help="LSKA kernel size (7, 11, 23, 35, 41, 53); omit for the baseline"
    )
    p.add_argument(
        "--point",
        default="sppf",
        choices=list(POINT_LABELS),
        help="insertion point: " + "; ".join(POINT_LABELS.values()),
    )
    p.add_argument(
        "--block",
        default="gate",
        choices=list(BLOCK_LABELS),
        help="block kind: " + "; ".join(f"{name}: {label}" for name, label in BLOCK_LABELS.items()),
    )
    p.add_argument("--scale", default="n", choices=list(SCALE_LABELS), help="YOLOv8 scale")
    p.add_argument("--nc", type=int, default=80, help="number of classes")
    p.add_argument(
        "--design",
        default="lska",
        choices=list(DESIGN_CHOICES),
        help="gate design: " + "; ".join(f"{name}: {label}" for name, label in DESIGN_CHOICES.items()),
    )


def variant_from(args: argparse.Namespace) -> Any:
    """The VariantSpec the variant arguments name."""
    return VariantSpec(k=args.k, point=args.point, block=args.block, scale=args.scale, nc=args.nc, design=args.design)
