"""Commands for models, data, training and the zoo: info, yaml, data, train, eval, zoo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lska_demo.cli.common import add_variant_arguments, command, variant_from
from lska_demo.core.runtime import CACHE_DIR, WEIGHTS_DIR


def _info(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.analysis.cost import model_cost
    from lska_demo.model.yolo import build_model

    spec = variant_from(args)
    model = build_model(spec)
    rows = [{"index": m.i, "from": m.f, "params": int(m.np), "module": m.type} for m in model.model]
    gflops = model_cost(model, args.imgsz).gflops
    return {
        "name": spec.name,
        "params": sum(p.numel() for p in model.parameters()),
        "gflops": gflops,
        "imgsz": args.imgsz,
        "layers": rows,
    }


def _render_info(info: dict[str, Any]) -> str:
    lines = [
        f"{info['name']}: {info['params']:,} parameters, {info['gflops']:.3f} GFLOPs at {info['imgsz']} px (2 x MACs)",
        f"{'':>3}{'from':>16}{'params':>10}  module",
    ]
    lines += [f"{r['index']:>3}{r['from']!s:>16}{r['params']:>10,}  {r['module']}" for r in info["layers"]]
    return "\n".join(lines)


def _yaml(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.model.yolo import export_yaml

    text = export_yaml(variant_from(args))
    if args.out:
        Path(args.out).write_text(text)
    return {"yaml": text, "out": args.out}


def _data(args: argparse.Namespace) -> dict[str, Any]:
    from tqdm import tqdm

    from lska_demo.benchmark.data import BenchmarkConfig, generate

    config = BenchmarkConfig(seed=args.seed, imgsz=args.imgsz, train=args.train, val=args.val, test=args.test)
    with tqdm(total=args.train + args.val + args.test, desc="images", disable=args.json) as bar:
        path = generate(args.out, config, progress=lambda done, total: bar.update(1))
    return {"data": str(path)}


def _train(args: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import replace

    from lska_demo.train.trainer import FINETUNE, SCRATCH, train

    recipe = replace(SCRATCH if args.mode == "scratch" else FINETUNE, seed=args.seed, device=args.device)
    if args.epochs:
        recipe = replace(recipe, epochs=args.epochs)
    if args.imgsz:
        recipe = replace(recipe, imgsz=args.imgsz)
    spec = variant_from(args) if args.mode != "finetune" else None
    result = train(args.mode, args.data, recipe, spec=spec, base_weights=args.base, out=args.out)
    return {"weights": str(result.weights), "val_metrics": result.metrics, "seconds": round(result.seconds, 1)}


def _eval(args: argparse.Namespace) -> dict[str, Any]:
    from lska_demo.train.trainer import evaluate

    return {"weights": args.weights, "split": args.split, **evaluate(args.weights, args.data, args.split, args.imgsz)}


def _zoo(args: argparse.Namespace) -> dict[str, Any]:
    from fnmatch import fnmatch

    from lska_demo.zoo.build import build_zoo
    from lska_demo.zoo.build_adapters import build_adapters
    from lska_demo.zoo.plan import PLANS

    plan = [item for item in PLANS[args.plan]() if not args.only or any(fnmatch(item.id, o) for o in args.only)]
    if not plan:
        raise ValueError(f"no item of the {args.plan} plan matches --only {' '.join(args.only)}")
    if all(item.mode == "adapter" for item in plan):  # gates trained on the frozen shipped control
        from dataclasses import replace

        from lska_demo.train.trainer import KERNEL_LR_SCALE
        from lska_demo.zoo.build_adapters import ADAPTER_FRACTION, ADAPTER_RECIPE

        recipe = replace(ADAPTER_RECIPE, epochs=args.epochs or ADAPTER_RECIPE.epochs)
        out = args.out or Path(args.work_dir) / "adapters"
        scale = args.kernel_lr_scale or KERNEL_LR_SCALE
        manifest = build_adapters(plan, out, args.weights_dir, recipe, args.fraction or ADAPTER_FRACTION, scale)
    else:
        manifest = build_zoo(plan, weights_dir=args.weights_dir, work_dir=args.work_dir)
    return {"models": [{"id": m["id"], **m["metrics"]} for m in manifest.models]}


def _reproduce(args: argparse.Namespace) -> list[dict[str, Any]]:
    from lska_demo.zoo.reproduce import reevaluate

    return [reevaluate(model_id, args.weights_dir, split=args.split) for model_id in args.ids]


def _kernel_shuffle(args: argparse.Namespace) -> list[dict[str, Any]]:
    from lska_demo.zoo.shuffle import record_kernel_shuffles

    log = (lambda line: None) if args.json else print
    return record_kernel_shuffles(args.ids, args.shuffles, args.weights_dir, log=log)


def _convert(args: argparse.Namespace) -> list[str]:
    from lska_demo.zoo.convert import convert_shipped

    return convert_shipped(args.weights_dir, log=lambda line: print(line, file=sys.stderr))


def register(sub: argparse._SubParsersAction) -> None:
    from lska_demo.zoo.plan import PLANS

    p = command(sub, "info", _info, "build a YOLOv8 variant and print its layer table", render=_render_info)
    add_variant_arguments(p)
    p.add_argument("--imgsz", type=int, default=640)
    p = command(sub, "yaml", _yaml, "export the Ultralytics model YAML of a variant", render=lambda r: r["yaml"])
    add_variant_arguments(p)
    p.add_argument("--out", default=None, help="write the YAML here too")
    p = command(sub, "data", _data, "generate the shape-vs-texture benchmark")
    p.add_argument("--out", default=str(CACHE_DIR / "zoo" / "data"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--imgsz", type=int, default=256)
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--val", type=int, default=500)
    p.add_argument("--test", type=int, default=500)
    p = command(
        sub, "train", _train, "train on Ultralytics' trainer: scratch, graft onto a baseline, or fine-tune (control)"
    )
    add_variant_arguments(p)
    p.add_argument("--mode", default="graft", choices=("scratch", "graft", "finetune"))
    p.add_argument("--data", required=True, help="an Ultralytics data YAML (the benchmark's, or your own)")
    p.add_argument("--base", default=None, help="baseline checkpoint for graft/finetune (e.g. yolov8n.pt)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--imgsz", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="passed to Ultralytics: cpu, 0, or 0,1 for multi-GPU DDP")
    p.add_argument("--out", default=str(CACHE_DIR / "runs"))
    p = command(sub, "eval", _eval, "mAP50 and mAP50-95 of a checkpoint on a split of a data YAML")
    p.add_argument("--weights", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--imgsz", type=int, default=256)
    p = command(sub, "reproduce", _reproduce, "re-evaluate shipped models and say whether the manifest's metrics recur")
    p.add_argument("ids", nargs="+", help="manifest ids of shipped models")
    p.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    p.add_argument("--split", default="test", choices=("test", "val"))
    p = command(
        sub,
        "kernel-shuffle",
        _kernel_shuffle,
        "does a shipped gate's kernel arrangement matter? mAP vs shuffled kernels",
    )
    p.add_argument("ids", nargs="*", help="manifest ids (default: every shipped gate not yet measured)")
    p.add_argument("--shuffles", type=int, default=4, help="seeded permutations per model")
    p.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    p = command(sub, "convert", _convert, "rewrite every pickled .pt entry of the manifest as verified safetensors")
    p.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    p = command(sub, "zoo", _zoo, "train (or resume) the whole model zoo into weights/ and its manifest")
    p.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    p.add_argument("--work-dir", default=str(CACHE_DIR / "zoo"))
    p.add_argument(
        "--plan",
        default="default",
        choices=list(PLANS),
        help="extended adds LSKA trained from scratch; adapters trains gates alone on the frozen shipped control",
    )
    p.add_argument(
        "--out", default=None, help="adapters only: their own folder (default WORK_DIR/adapters), copied into weights/"
    )
    p.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="PATTERN",
        help="train only the plan's items whose id matches a shell-style pattern (e.g. '*-neck-*'), in plan order",
    )
    p.add_argument("--epochs", type=int, default=None, help="adapters only: epochs instead of the regime's one")
    p.add_argument(
        "--fraction", type=float, default=None, help="adapters only: share of the training split per epoch (0.25)"
    )
    p.add_argument(
        "--kernel-lr-scale",
        type=float,
        default=None,
        help="adapters only: the large kernels' learning rate as a multiple of the run's (the trainer's default)",
    )
