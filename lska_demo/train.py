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

from ultralytics import YOLO
from ultralytics.models.yolo.detect import DetectionTrainer

from lska_demo.runtime import CACHE_DIR
from lska_demo.yolo import VariantSpec, export_yaml, graft, save_checkpoint

MODES = ("scratch", "graft", "finetune")


class LSKADetectionTrainer(DetectionTrainer):
    """Ultralytics' DetectionTrainer, importable from this package.

    Under multi-GPU (DDP) Ultralytics re-imports the trainer's module in each worker; importing it from
    here imports ``lska_demo`` first, which registers the LSKA modules before the YAML is parsed.
    """


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
        source = save_checkpoint(graft(base, spec), run_dir / f"{spec.name}-graft.pt")
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
    return TrainResult(weights=weights, metrics=_metrics(model.trainer.validator.metrics), seconds=seconds)


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
