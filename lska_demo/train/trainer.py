"""Train, graft and evaluate on Ultralytics' own trainer (no home-made loop).

Three ways to make a model: ``scratch`` (from the generated YAML), ``graft`` (LSKA inserted into a trained
baseline with identity initialisation, then fine-tuned) and ``finetune`` (the control: the baseline
fine-tuned with the same recipe, so that any difference is LSKA's, not the extra epochs').
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from ultralytics import YOLO
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.utils.torch_utils import unwrap_model

from lska_demo.core.runtime import CACHE_DIR
from lska_demo.model.kernels import GRAFT_GATE_SCALE
from lska_demo.model.yolo import VariantSpec, export_yaml, graft, kernel_change, large_kernels, save_checkpoint

MODES = ("scratch", "graft", "finetune")


# Learning-rate multiplier of the inserted gates' depthwise kernels. Measured on the adapter regime (k=23 sppf,
# 32 AdamW steps at lr0 5e-4): at 1x the kernels moved too little to tell from their random init.
KERNEL_LR_SCALE = 100.0
# Adam's epsilon for the kernels' group. Their gradients pass through the near-zero 1x1 gate weights (about 1e-3)
# and can fall below Adam's default 1e-8, which then shrinks their steps: measured on the neck and head adapters,
# whose P5 gates did not move at the default.
KERNEL_ADAM_EPS = 1e-12


def graft_init(kernel_lr_scale: float = KERNEL_LR_SCALE) -> dict[str, Any]:
    """How ``graft`` initialises what it inserts and how the trainer treats its kernels (for the manifest)."""
    return {
        "gate_1x1": f"N(0, {GRAFT_GATE_SCALE:g}^2), bias 1",
        "kernel_lr_scale": kernel_lr_scale,
        "kernel_adam_eps": KERNEL_ADAM_EPS,
    }


class LSKADetectionTrainer(DetectionTrainer):
    """Ultralytics' DetectionTrainer, importable from this package, with the large kernels in their own
    parameter group at ``KERNEL_LR_SCALE`` times the learning rate.

    Under multi-GPU (DDP) Ultralytics re-imports the trainer's module in each worker; importing it from
    here imports ``lska_demo`` first, which registers the LSKA modules before the YAML is parsed.
    """

    kernel_lr_scale: float = KERNEL_LR_SCALE

    def build_optimizer(self, model: nn.Module, *args: Any, **kwargs: Any) -> torch.optim.Optimizer:
        optimizer = super().build_optimizer(model, *args, **kwargs)
        kernels = {id(w) for w in large_kernels(unwrap_model(model)).values()}
        if not kernels or self.kernel_lr_scale == 1.0:
            return optimizer
        moved: list[torch.Tensor] = []
        template: dict[str, Any] = {}
        for group in optimizer.param_groups:
            if group.get("param_group") == "weight":
                template = group
            keep = [p for p in group["params"] if id(p) not in kernels]
            moved += [p for p in group["params"] if id(p) in kernels]
            group["params"] = keep
        settings = {key: value for key, value in template.items() if key != "params"}
        settings.update(lr=settings["lr"] * self.kernel_lr_scale, param_group="kernels")
        if "eps" in settings:  # Adam-family optimisers
            settings["eps"] = KERNEL_ADAM_EPS
        optimizer.add_param_group({"params": moved, **settings})
        return optimizer


def with_kernel_lr_scale(trainer: type[LSKADetectionTrainer], scale: float) -> type[LSKADetectionTrainer]:
    """``trainer`` with its large kernels at ``scale`` times the learning rate (a trial of another scale).
    Single-process only: DDP workers re-import the trainer by name and would get the class's own scale."""
    if scale == trainer.kernel_lr_scale:
        return trainer
    return type(trainer.__name__, (trainer,), {"kernel_lr_scale": scale})


@dataclass(frozen=True)
class Recipe:
    """Training hyper-parameters passed to Ultralytics; anything else keeps Ultralytics' defaults."""

    epochs: int = 15
    imgsz: int = 256
    batch: int = 16
    optimizer: str = "AdamW"
    lr0: float = 0.002
    warmup_epochs: float = 1.0
    close_mosaic: int = 2
    workers: int = 2
    seed: int = 0
    device: str = "cpu"

    def overrides(self) -> dict[str, Any]:
        return asdict(self)


SCRATCH = Recipe()
FINETUNE = Recipe(epochs=2, lr0=0.0005, warmup_epochs=0.0, close_mosaic=1)


@dataclass
class TrainResult:
    weights: Path
    metrics: dict[str, float]
    seconds: float
    kernel_change: float | None = None  # a graft's large kernels, relative L2 change from their init


def _metrics(results: Any) -> dict[str, float]:
    box = results.box
    return {"mAP50": float(box.map50), "mAP50-95": float(box.map)}


def train(
    mode: str,
    data: str | Path,
    recipe: Recipe,
    spec: VariantSpec | None = None,
    base_weights: str | Path | None = None,
    out: str | Path = CACHE_DIR / "runs",
    name: str | None = None,
    extra_args: dict[str, Any] | None = None,
    trainer: type[DetectionTrainer] = LSKADetectionTrainer,
) -> TrainResult:
    """Train one model with Ultralytics' trainer; returns the best checkpoint and its validation metrics.

    ``scratch`` needs ``spec``; ``graft`` needs ``spec`` (an LSKA variant) and ``base_weights``;
    ``finetune`` needs ``base_weights``. ``recipe.device`` passes through to Ultralytics ('0,1' for DDP);
    ``extra_args`` too (e.g. ``freeze`` and ``fraction`` for the adapter regime); ``trainer`` is the
    trainer class.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
    out = Path(out).resolve()
    run_name = name or f"{mode}-{spec.name if spec else 'baseline'}-s{recipe.seed}"
    run_dir = out / run_name
    if run_dir.exists():
        shutil.rmtree(run_dir)  # a half-finished run restarts; finished runs were copied out already
    run_dir.mkdir(parents=True)
    init: dict[str, torch.Tensor] = {}
    if mode == "scratch":
        if spec is None:
            raise ValueError("scratch training needs a variant spec")
        source = run_dir / f"{spec.name}.yaml"
        source.write_text(export_yaml(spec))
    elif base_weights is None:
        raise ValueError(f"{mode} needs base_weights (a trained baseline checkpoint)")
    elif mode == "graft":
        if spec is None or spec.is_baseline:
            raise ValueError("graft needs an LSKA variant spec")
        base = YOLO(str(base_weights)).model.float()
        grafted = graft(base, spec, seed=recipe.seed)
        init = {key: w.detach().clone() for key, w in large_kernels(grafted).items()}
        source = save_checkpoint(grafted, run_dir / f"{spec.name}-graft.pt")
    else:
        source = Path(base_weights)
    started = time.perf_counter()
    model = YOLO(str(source))
    model.train(
        trainer=trainer,
        data=str(data),
        project=str(out),
        name=f"{run_name}/train",
        exist_ok=True,
        plots=False,
        val=False,  # Ultralytics still validates after the final epoch
        cache="ram",
        verbose=False,
        **recipe.overrides(),
        **(extra_args or {}),
    )
    seconds = time.perf_counter() - started
    trained = run_dir / "train" / "weights"
    weights = trained / "best.pt" if (trained / "best.pt").exists() else trained / "last.pt"
    change = kernel_change(init, large_kernels(YOLO(str(weights)).model)) if init else None
    return TrainResult(weights, _metrics(model.trainer.validator.metrics), seconds, change)


def evaluate(
    weights: str | Path, data: str | Path, split: str = "test", imgsz: int = 256, batch: int = 16
) -> dict[str, float]:
    """mAP50 and mAP50-95 of a checkpoint on one split of a data YAML (the held-out ``test`` by default)."""
    results = YOLO(str(weights)).val(
        data=str(data), split=split, imgsz=imgsz, batch=batch, plots=False, verbose=False, device="cpu", workers=0
    )
    return _metrics(results)


def evaluate_model(
    model: Any, data: str | Path, split: str = "test", imgsz: int = 256, batch: int = 16
) -> dict[str, float]:
    """``evaluate`` for a model already in memory (e.g. loaded from the zoo's safetensors): the validator
    runs with exactly the arguments ``YOLO(checkpoint).val`` gives it, so the metrics are the same."""
    from ultralytics.models.yolo.detect import DetectionValidator

    args = {
        "task": "detect",
        "single_cls": False,
        "rect": True,  # YOLO.val's own default
        "data": str(data),
        "split": split,
        "imgsz": imgsz,
        "batch": batch,
        "plots": False,
        "verbose": False,
        "device": "cpu",
        "workers": 0,
        "mode": "val",
    }
    validator = DetectionValidator(args=args)
    validator(model=model)
    return _metrics(validator.metrics)


def with_seed(recipe: Recipe, seed: int) -> Recipe:
    return replace(recipe, seed=seed)
