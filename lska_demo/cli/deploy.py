"""Commands for a user's own data and deployment: experiment, check, export."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from lska_demo.cli.common import add_variant_arguments, command, variant_from
from lska_demo.core.runtime import CACHE_DIR
from lska_demo.train.trainer import FINETUNE, SCRATCH, Recipe


def _experiment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="your Ultralytics data YAML")
    parser.add_argument("--seeds", type=int, default=3, help="number of paired seeds (0..N-1)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--base", default=None, help="baseline to graft into and fine-tune: a checkpoint (yolov8n.pt) or a zoo model id"
    )
    source.add_argument("--scratch", action="store_true", help="train both arms from scratch")
    parser.add_argument("--epochs", type=int, default=None, help="default: 2 (fine-tune) or 15 (scratch)")
    parser.add_argument("--imgsz", type=int, default=None, help="default: 256")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--device", default="cpu", help="passed to Ultralytics: cpu, 0, or 0,1")
    parser.add_argument("--out", default=None, help="report folder (default .cache/experiments/<variant>)")


def recipe_from(args: argparse.Namespace) -> Recipe:
    """The zoo's recipe for the mode (fine-tune or scratch), with the command line's overrides."""
    recipe = replace(SCRATCH if args.scratch else FINETUNE, device=args.device)
    changes = {k: getattr(args, k) for k in ("epochs", "imgsz", "batch", "workers") if getattr(args, k) is not None}
    return replace(recipe, **changes)


def _experiment(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.experiment.paired import run

    spec = replace(variant_from(args), nc=80)  # the experiment takes the class count from the data YAML
    base = None if args.scratch else args.base
    return run(args.data, spec, args.seeds, base, recipe_from(args), args.out, progress=not args.json)


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", default=None, help="pretrained checkpoint or zoo id (default: a fresh yolov8)")
    parser.add_argument("--yaml", default=None, help="check your own model YAML instead of a generated variant")
    parser.add_argument("--imgsz", type=int, default=640, help="input size for GFLOPs")


def _check(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.deploy.transfer import check_spec, check_yaml, render

    if args.yaml:
        report = check_yaml(args.yaml, args.base, args.imgsz)
    else:
        report = check_spec(variant_from(args), args.base, args.imgsz)
    return {**report.to_dict(), "markdown": render(report)}


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    from lska_demo.deploy.onnx import DEFAULT_TOLERANCE

    parser.add_argument("--format", default="onnx", choices=("onnx",), help="export format")
    parser.add_argument(
        "--weights", default=None, help="your checkpoint, or a zoo model id (default: the zoo's weights of the variant)"
    )
    parser.add_argument("--imgsz", type=int, default=None, help="input size (default: the size it was trained at)")
    parser.add_argument("--out", default=str(CACHE_DIR / "export"), help="folder for the .onnx")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="max abs difference allowed")
    parser.add_argument(
        "--untrained", action="store_true", help="if the zoo has no weights for the variant, export its architecture"
    )


def _export(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.deploy.onnx import run
    from lska_demo.zoo.plan import NC

    # Without --weights the model comes from the zoo, whose models have the benchmark's classes.
    spec = replace(variant_from(args), nc=args.nc if args.weights else NC)
    return run(spec, args.weights, args.imgsz, args.out, args.tolerance, untrained=args.untrained).to_dict()


def register(sub: argparse._SubParsersAction) -> None:
    from lska_demo.deploy import onnx as export_onnx
    from lska_demo.deploy import transfer
    from lska_demo.experiment import paired as experiment

    p = command(
        sub,
        "experiment",
        _experiment,
        "the paired experiment on your data: control and LSKA with the same recipe per seed, a report folder",
        render=experiment.render,
    )
    add_variant_arguments(p)
    _experiment_arguments(p)
    p = command(
        sub,
        "check",
        _check,
        "the transfer check: inserted channels, shifted indices, rewritten from entries, GFLOPs, pretrained share",
        render=transfer.render_dict,
    )
    add_variant_arguments(p)
    _check_arguments(p)
    p = command(
        sub,
        "export",
        _export,
        "export a variant (zoo weights, a zoo id or your checkpoint) to ONNX and check parity with PyTorch",
        render=export_onnx.render,
    )
    add_variant_arguments(p)
    _export_arguments(p)
