"""The Export tab: the variant as a model YAML with a training snippet, its transfer check, and an ONNX file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lska_demo.app.common import Progress, report
from lska_demo.app.inputs import VariantChoice, check_classes, check_scale
from lska_demo.deploy.export_box import OnnxExport
from lska_demo.model.yolo import export_yaml
from lska_demo.present.teach.text import python_snippet


class ExportService:
    """Answers the Export tab; ONNX files are exported from the zoo's weights in ``weights_dir``."""

    def __init__(self, weights_dir: Path) -> None:
        self.weights_dir = weights_dir

    @staticmethod
    def files(choice: VariantChoice, scale: Any, nc: Any) -> tuple[str, str]:
        """The model YAML of the variant and a Python snippet that trains it (from scratch, or as a graft)."""
        spec = choice.spec(scale=check_scale(scale), nc=check_classes(nc))
        return export_yaml(spec), python_snippet(spec)

    @staticmethod
    def transfer_check(choice: VariantChoice, scale: Any, nc: Any) -> str:
        """The transfer check of the exported YAML as Markdown: inserted channels, shifted indices, rewritten
        ``from`` entries, GFLOPs, and the share of pretrained tensors a plain YAML edit vs the graft loads."""
        from lska_demo.deploy.export_box import transfer_markdown

        return transfer_markdown(choice.spec(scale=check_scale(scale), nc=check_classes(nc)))

    def onnx(self, choice: VariantChoice, progress: Progress | None) -> OnnxExport:
        """The variant as a checked ONNX file: the zoo's weights when trained, else the untrained architecture
        (the result's note says which, with the max abs difference to PyTorch in ONNX Runtime)."""
        from lska_demo.deploy.export_box import onnx_export
        from lska_demo.zoo.plan import NC

        spec = choice.spec(nc=NC)
        report(progress, 0.1, f"exporting {spec.name} to ONNX and checking it against PyTorch")
        return onnx_export(spec, self.weights_dir)
