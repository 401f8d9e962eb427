"""ONNX export of any variant through Ultralytics' own exporter, checked against PyTorch in ONNX Runtime.

LSKA is registered with Ultralytics on ``import lska_demo``, so the exporter traces the LSKA rows like any
other module (offline: the exporter needs only ``onnx``, and ``onnxslim`` when ``simplify`` is on). The
exporter fuses Conv+BatchNorm, so the ONNX model and the unfused PyTorch model differ by float rounding
only; ``parity`` measures that difference on the shipped benchmark images.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lska_demo.analysis.cost import forward_runner, measure_latency
from lska_demo.benchmark.images import letterbox, load_image
from lska_demo.core.runtime import ASSETS_DIR, CACHE_DIR, WEIGHTS_DIR
from lska_demo.model.yolo import VariantSpec, save_checkpoint

# Raw outputs are box coordinates in input pixels (up to imgsz) and class scores in [0, 1]; float32 rounding
# of the fused Conv+BN graph stays far below this on every model measured (see tests/test_export_onnx.py).
DEFAULT_TOLERANCE = 1e-3


class ExportError(RuntimeError):
    """The export or its check failed: the message says what to do."""


@dataclass
class Parity:
    """PyTorch vs ONNX Runtime on the same letterboxed images: raw outputs (1, 4 + nc, anchors)."""

    max_abs_diff: float
    per_image: dict[str, float]
    output_shape: list[int]
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance


@dataclass
class ExportResult:
    onnx: Path
    checkpoint: Path
    imgsz: int
    parity: Parity

    def to_dict(self) -> dict[str, Any]:
        return {
            "onnx": str(self.onnx),
            "checkpoint": str(self.checkpoint),
            "imgsz": self.imgsz,
            "parity": {**asdict(self.parity), "ok": self.parity.ok},
        }


def benchmark_inputs(imgsz: int, folder: Path = ASSETS_DIR) -> dict[str, torch.Tensor]:
    """The shipped benchmark images (``assets/benchmark-*.jpg``) letterboxed to imgsz, as 1x3xSxS tensors."""
    paths = sorted(folder.glob("benchmark-*.jpg"))
    if not paths:
        raise ExportError(f"no benchmark-*.jpg images in {folder.name}/")
    return {p.name: letterbox(load_image(p), imgsz)[0] for p in paths}


def export(model: nn.Module, out_dir: str | Path, name: str, imgsz: int, simplify: bool | None = None) -> ExportResult:
    """Export ``model`` to ``out_dir/name.onnx`` with Ultralytics' exporter; returns paths, no parity yet.

    The model is first written as an Ultralytics checkpoint next to the ONNX (the exporter's input, and the
    exact weights the parity check compares against). ``simplify`` defaults to whether onnxslim is installed.
    """
    from ultralytics import YOLO

    if imgsz % 32:
        raise ExportError(f"imgsz must be a multiple of 32 (the model's largest stride), got {imgsz}")
    simplify = importlib.util.find_spec("onnxslim") is not None if simplify is None else simplify
    out_dir = Path(out_dir)
    checkpoint = save_checkpoint(model, out_dir / f"{name}.pt", {"train_args": {"imgsz": imgsz}})
    try:
        written = YOLO(str(checkpoint)).export(
            format="onnx", imgsz=imgsz, simplify=simplify, dynamic=False, half=False, device="cpu", verbose=False
        )
    except (ImportError, ModuleNotFoundError) as err:
        raise ExportError(f"ONNX export needs the onnx package ({err.name}): pip install -r requirements.txt") from err
    onnx_path = out_dir / f"{name}.onnx"
    if Path(written).resolve() != onnx_path.resolve():
        shutil.move(written, onnx_path)
    return ExportResult(onnx_path, checkpoint, imgsz, Parity(float("nan"), {}, [], DEFAULT_TOLERANCE))


def ort_session(path: str | Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session; ``threads`` defaults to PyTorch's thread count, for a fair comparison."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _torch_raw(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        out = model.eval()(x)
    return (out[0] if isinstance(out, tuple | list) else out).numpy()


def parity(
    onnx_path: str | Path, model: nn.Module, inputs: dict[str, torch.Tensor], tolerance: float = DEFAULT_TOLERANCE
) -> Parity:
    """Max abs difference of the raw outputs of ONNX Runtime and PyTorch (``model`` in eval mode) per image."""
    session = ort_session(onnx_path)
    feed = session.get_inputs()[0].name
    diffs: dict[str, float] = {}
    shape: list[int] = []
    for name, x in inputs.items():
        expected = _torch_raw(model, x)
        got = session.run(None, {feed: x.numpy()})[0]
        if got.shape != expected.shape:
            raise ExportError(f"ONNX output {got.shape} differs in shape from PyTorch's {expected.shape}")
        diffs[name], shape = float(np.abs(got - expected).max()), list(got.shape)
    return Parity(max(diffs.values()), diffs, shape, tolerance)


def export_and_check(
    model: nn.Module, out_dir: str | Path, name: str, imgsz: int, tolerance: float = DEFAULT_TOLERANCE
) -> ExportResult:
    """Export, then check parity on the benchmark images against the checkpoint the ONNX was made from."""
    from lska_demo.zoo.load import load_checkpoint_model

    result = export(model, out_dir, name, imgsz)
    reference = load_checkpoint_model(result.checkpoint)
    result.parity = parity(result.onnx, reference, benchmark_inputs(imgsz), tolerance)
    return result


def ort_runner(path: str | Path, imgsz: int, seed: int = 0) -> Callable[[], Any]:
    """One ONNX Runtime inference of a fixed random 1x3xSxS image (the same image ``forward_runner`` uses)."""
    session = ort_session(path)
    x = torch.rand(1, 3, imgsz, imgsz, generator=torch.Generator().manual_seed(seed)).numpy()
    feed = session.get_inputs()[0].name
    return lambda: session.run(None, {feed: x})


def latency_runners(
    models: dict[str, nn.Module], onnx_paths: dict[str, Path], imgsz: int
) -> dict[str, Callable[[], Any]]:
    """One PyTorch and one ONNX Runtime forward per named model (e.g. baseline and LSKA), keyed
    ``torch/<name>`` and ``onnxruntime/<name>``, all on the same fixed image."""
    runners: dict[str, Callable[[], Any]] = {}
    for name, model in models.items():
        runners[f"torch/{name}"] = forward_runner(model.eval(), imgsz)
        runners[f"onnxruntime/{name}"] = ort_runner(onnx_paths[name], imgsz)
    return runners


def latency(
    models: dict[str, nn.Module], onnx_paths: dict[str, Path], imgsz: int, repeats: int = 7
) -> dict[str, dict[str, float] | float]:
    """CPU latency of PyTorch and ONNX Runtime for each named model, interleaved so that background load hits
    every runner alike; keys ``torch/<name>`` and ``onnxruntime/<name>``."""
    return measure_latency(latency_runners(models, onnx_paths, imgsz), warmup=2, repeats=repeats)


@dataclass
class Source:
    """What is exported: the model, the size it was trained at, where it came from, and whether it is trained."""

    model: nn.Module
    imgsz: int
    label: str
    trained: bool


def resolve_model(
    spec: VariantSpec, weights: str | Path | None, folder: Path = WEIGHTS_DIR, untrained: bool = False
) -> Source:
    """The model to export: the user's checkpoint or a zoo id (``weights``), else the zoo's verified weights
    of ``spec``; with ``untrained`` a variant the zoo lacks is exported as a randomly initialised architecture.

    Args:
        spec: the variant (used when ``weights`` is None).
        weights: a checkpoint path or a zoo model id.
        folder: the zoo's weights folder.
        untrained: fall back to the untrained architecture (at 640 px) instead of failing.
    """
    from lska_demo.model.yolo import build_model
    from lska_demo.zoo.load import load_zoo_model
    from lska_demo.zoo.manifest import ZooError
    from lska_demo.zoo.ref import load_model

    if weights is not None:
        model, label = load_model(weights, folder)
        return Source(model, int((getattr(model, "args", None) or {}).get("imgsz", 640)), label, True)
    try:
        model, entry = load_zoo_model(spec, folder=folder)
    except ZooError:
        if not untrained:
            raise
        return Source(build_model(spec).eval(), 640, f"{spec.name} (untrained architecture)", False)
    return Source(model, int(entry.get("recipe", {}).get("imgsz", 640)), entry["id"], True)


def run(
    spec: VariantSpec,
    weights: str | Path | None = None,
    imgsz: int | None = None,
    out: str | Path = CACHE_DIR / "export",
    tolerance: float = DEFAULT_TOLERANCE,
    folder: Path = WEIGHTS_DIR,
    untrained: bool = False,
) -> ExportResult:
    """``export``: one variant (zoo weights, a zoo id or a checkpoint in ``weights``) to ONNX, with the parity
    check; arguments as in ``resolve_model``, ``imgsz`` defaults to the size the model was trained at."""
    source = resolve_model(spec, weights, folder, untrained)
    name = Path(weights).stem if weights else spec.name
    return export_and_check(source.model, out, name, imgsz or source.imgsz, tolerance)


def _shown(path: str) -> str:
    """``path`` relative to the working folder when it lies inside it (shorter, and no machine layout)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def render(result: dict[str, Any]) -> str:
    p = result["parity"]
    verdict = "within" if p["ok"] else "OUTSIDE"
    return (
        f"ONNX written to {_shown(result['onnx'])} ({result['imgsz']} px, output {p['output_shape']})\n"
        f"parity with PyTorch on {len(p['per_image'])} benchmark images: max abs difference "
        f"{p['max_abs_diff']:.2e}, {verdict} the tolerance {p['tolerance']:.0e}"
    )
