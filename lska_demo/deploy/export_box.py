"""What the app's export box offers beside the YAML: the transfer check and a checked ONNX download.

Both are functions of the variant (and, for ONNX, of the zoo file it is made from), so each is computed once
per process and reused: the transfer check builds three models and counts FLOPs, the ONNX export runs
Ultralytics' exporter and a parity check in ONNX Runtime.
"""

from __future__ import annotations

import functools
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lska_demo.model.yolo import VariantSpec

TRANSFER_IMGSZ = 640  # GFLOPs at the size people train their own detectors at (Ultralytics' default)
UNTRAINED_IMGSZ = 256  # an untrained architecture is exported at the zoo's size, as the app shows it
_ONNX_LOCK = threading.Lock()  # one export at a time: a second request for the same variant reuses the first
_ONNX_DONE: dict[tuple[Any, ...], OnnxExport] = {}


@dataclass(frozen=True)
class OnnxExport:
    """A checked ONNX file of one variant: where it is, what it was made from, and its parity with PyTorch."""

    path: Path
    source: str
    trained: bool
    imgsz: int
    output_shape: tuple[int, ...]
    max_abs_diff: float
    tolerance: float
    images: int

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def note(self) -> str:
        """What the download is, in a sentence or two, with the parity number."""
        made_from = (
            f"the zoo's trained weights **{self.source}**"
            if self.trained
            else f"an **untrained architecture** ({self.source}): the zoo has no trained weights for this variant, "
            "so the file has random weights, good for checking that a runtime runs LSKA, not for detecting"
        )
        verdict = "within" if self.ok else "OUTSIDE"
        return (
            f"`{self.path.name}`: made from {made_from}; input 1×3×{self.imgsz}×{self.imgsz}, raw output "
            f"{list(self.output_shape)} (boxes and class scores before NMS). Parity with PyTorch in ONNX Runtime on "
            f"{self.images} benchmark images: max abs difference **{self.max_abs_diff:.1e}**, {verdict} the "
            f"tolerance {self.tolerance:.0e}."
        )


@functools.lru_cache(maxsize=32)
def transfer_markdown(spec: VariantSpec) -> str:
    """``transfer.render(check_spec(spec))`` at ``TRANSFER_IMGSZ``, against a freshly built baseline."""
    from lska_demo.deploy.transfer import check_spec, render

    return render(check_spec(spec, imgsz=TRANSFER_IMGSZ))


def onnx_export(spec: VariantSpec, weights_dir: Path, out_root: Path | None = None) -> OnnxExport:
    """The variant's ONNX (zoo weights when the zoo has them, else the untrained architecture), exported once
    per zoo file and reused; written under the system's temp folder, which the app may serve files from.

    Args:
        spec: the variant, with the zoo's class count.
        weights_dir: the zoo's weights folder.
        out_root: where the files go (default ``<tempdir>/lska-onnx``).
    """
    from lska_demo.deploy.onnx import export_and_check, resolve_model
    from lska_demo.zoo.manifest import Manifest

    entry = Manifest.load(weights_dir).trained(spec, seed=0)  # the entry resolve_model loads
    key = (spec, str(weights_dir), entry["sha256"] if entry else None)
    with _ONNX_LOCK:
        if key in _ONNX_DONE and _ONNX_DONE[key].path.is_file():
            return _ONNX_DONE[key]
        source = resolve_model(spec, None, weights_dir, untrained=True)
        imgsz = source.imgsz if source.trained else UNTRAINED_IMGSZ
        folder = (out_root or Path(tempfile.gettempdir()) / "lska-onnx") / (key[2] or "untrained")[:12]
        result = export_and_check(source.model, folder, spec.name, imgsz)
        parity = result.parity
        done = OnnxExport(
            path=result.onnx,
            source=source.label,
            trained=source.trained,
            imgsz=imgsz,
            output_shape=tuple(parity.output_shape),
            max_abs_diff=parity.max_abs_diff,
            tolerance=parity.tolerance,
            images=len(parity.per_image),
        )
        _ONNX_DONE[key] = done
        return done
