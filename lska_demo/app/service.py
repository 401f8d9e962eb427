"""The front door behind the web app, importable and testable without Gradio: one method per question.

``DemoService`` keeps the public signatures the UI's endpoints and the CLI call; each method checks the variant
and source once (``VariantChoice``, ``ModelSources.check``) and hands them to its tab's service (``compare``,
``erf``, ``attention``, ``cost``, ``teach``, ``export``, ``zoo``), which checks the rest and answers with data and
a note a person can read (``notes``). The UI imports this module and nothing below it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lska_demo.app.attention import AttentionResult, AttentionService
from lska_demo.app.common import VISITOR_ERRORS, ImageInput, Progress, benchmark_images, warm_up
from lska_demo.app.compare import CompareResult, CompareService, PairStatus, SideResult
from lska_demo.app.cost import CostResult, CostService
from lska_demo.app.erf import ERF_COLUMNS, REACH_COLUMNS, ErfResult, ErfService, ReachResult
from lska_demo.app.export import ExportService
from lska_demo.app.inputs import MAX_ERF_IMAGES, REACH_SIZES, VariantChoice, check_point
from lska_demo.app.sources import PRETRAINED, ZOO, ModelSources, Readiness, ServiceOptions
from lska_demo.app.teach import TeachResult, TeachService
from lska_demo.app.zoo import ZooService, ZooVerdicts
from lska_demo.benchmark.domain import DomainNote
from lska_demo.benchmark.images import MAX_FILE_BYTES, example_images
from lska_demo.core.cache import LoadedModel, ModelCache
from lska_demo.deploy.export_box import OnnxExport
from lska_demo.model.kernels import PAPER_KERNEL_SIZES
from lska_demo.present.draw import yolo_diagram
from lska_demo.present.teach.views import TeachView, TrainedView

KERNEL_SIZES = PAPER_KERNEL_SIZES
__all__ = [  # what the UI and the CLI may use, the re-exported limits and names included
    "ERF_COLUMNS",
    "KERNEL_SIZES",
    "MAX_ERF_IMAGES",
    "MAX_FILE_BYTES",
    "PRETRAINED",
    "REACH_COLUMNS",
    "REACH_SIZES",
    "VISITOR_ERRORS",
    "ZOO",
    "AttentionResult",
    "CompareResult",
    "CostResult",
    "DemoService",
    "DomainNote",
    "ErfResult",
    "OnnxExport",
    "PairStatus",
    "ReachResult",
    "Readiness",
    "ServiceOptions",
    "SideResult",
    "TeachResult",
    "TeachView",
    "TrainedView",
    "VariantChoice",
    "ZooVerdicts",
    "benchmark_images",
    "warm_up",
]


class DemoService:
    """The tab services over one set of model sources (one bounded cache), behind the public methods."""

    def __init__(self, options: ServiceOptions | None = None) -> None:
        self.options = options or ServiceOptions()
        self.models = ModelSources(self.options)
        self._compare = CompareService(self.models)
        self._erf = ErfService(self.models)
        self._attention = AttentionService(self.models)
        self._cost = CostService(self.models)
        self._teach = TeachService(self.models)
        self._export = ExportService(Path(self.options.weights_dir))
        self._zoo = ZooService(self.models)

    # what the controls offer -------------------------------------------------------------------------------

    @property
    def sources(self) -> list[str]:
        return self.models.names

    @property
    def cache(self) -> ModelCache:
        """The one bounded cache every model of this service lives in."""
        return self.models.cache

    def source_choices(self) -> list[tuple[str, str]]:
        """(label, name) of every model source the page offers: an unavailable ``yolov8n.pt`` is left out (a
        visitor cannot use it; ``source_reason`` says why). The API still answers it, with random weights."""
        offered = [s for s in self.sources if s != PRETRAINED or self.pretrained_available()]
        return [(self.models.label(s), s) for s in offered]

    def pretrained_available(self) -> bool:
        """Whether the ``yolov8n.pt`` source can load on this server (asked once, at start)."""
        return self.models.pretrained.available

    def source_reason(self, source: Any) -> str:
        """One sentence about a source for a visitor (never a path or a setting)."""
        return self.models.pretrained.visitor_reason if self.models.check(source) == PRETRAINED else ""

    @staticmethod
    def example_groups() -> dict[str, list[str]]:
        """The example images split into "benchmark" (what the zoo was trained on) and "photo"."""
        groups: dict[str, list[str]] = {"benchmark": [], "photo": []}
        for name, path in example_images().items():
            groups["benchmark" if name.startswith("benchmark") else "photo"].append(str(path))
        return groups

    def status(
        self, k: Any = 23, point: Any = "sppf", block: Any = "gate", source: Any = ZOO, design: Any = "lska"
    ) -> PairStatus:
        """Whether each side of this choice is trained, from the manifest alone (cheap: no model loads)."""
        return self._compare.status(VariantChoice(k, point, block, design), self.models.check(source))

    def image_domain(self, image: ImageInput) -> DomainNote:
        """Whether the image looks like a benchmark image, and what a visitor should know if it does not."""
        return self._compare.image_domain(image)

    def layer_names(self, k: Any = 23, point: Any = "sppf", block: Any = "gate", design: Any = "lska") -> list[str]:
        """The layers the receptive field can be computed at, for this variant."""
        return self._erf.layer_names(VariantChoice(k, point, block, design))

    @staticmethod
    def diagram(point: Any) -> str:
        """The YOLOv8 diagram (SVG in HTML) with the chosen insertion point marked."""
        return yolo_diagram(check_point(point))

    def pair(
        self, source: str, k: int, point: str, block: str, design: str = "lska"
    ) -> tuple[LoadedModel, LoadedModel]:
        """The baseline (the control of the variant's regime, for the zoo) and the variant of a source, cached."""
        return self.models.pair(self.models.check(source), VariantChoice(k, point, block, design).spec())

    # the tabs ----------------------------------------------------------------------------------------------

    def compare(
        self,
        image: ImageInput,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        source: Any = ZOO,
        conf: Any = 0.25,
        iou: Any = 0.7,
        progress: Progress | None = None,
        design: Any = "lska",
    ) -> CompareResult:
        """Detections of the baseline and the LSKA variant on one image, each with its time and status."""
        choice = VariantChoice(k, point, block, design)
        return self._compare.run(image, choice, self.models.check(source), conf, iou, progress)

    def erf(
        self,
        images: list[ImageInput] | None = None,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        source: Any = ZOO,
        n: Any = 8,
        layer_name: str = "insertion point",
        progress: Progress | None = None,
        upload: ImageInput | None = None,
        design: Any = "lska",
    ) -> ErfResult:
        """Effective receptive fields of the baseline and the variant at the same layer (``ErfService.run``)."""
        choice = VariantChoice(k, point, block, design)
        return self._erf.run(choice, self.models.check(source), images, n, layer_name, upload, progress)

    def erf_reach(
        self,
        point: Any = "sppf",
        block: Any = "gate",
        imgsz: Any = 256,
        progress: Progress | None = None,
        design: Any = "lska",
    ) -> ReachResult:
        """Where a larger k can widen the field at this point and image size (``ErfService.reach``)."""
        return self._erf.reach(VariantChoice(23, point, block, design), imgsz, progress)

    def attention(
        self,
        image: ImageInput,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        source: Any = ZOO,
        method: Any = "eigen",
        progress: Progress | None = None,
        design: Any = "lska",
    ) -> AttentionResult:
        """LSKA's stage maps and a class activation map of each side (``AttentionService.run``)."""
        choice = VariantChoice(k, point, block, design)
        return self._attention.run(image, choice, self.models.check(source), method, progress)

    def cost(
        self,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        imgsz: Any = None,
        latency: bool = False,
        progress: Progress | None = None,
        source: Any = ZOO,
        design: Any = "lska",
    ) -> CostResult:
        """Parameters, GFLOPs and per-layer deltas of the source's YOLOv8n vs the variant (``CostService.run``)."""
        checked = self.models.check(source)  # the source first, as the cost tab always checked it
        return self._cost.run(checked, VariantChoice(k, point, block, design), imgsz, latency, progress)

    def teach(self, k: Any = 23) -> TeachResult:
        """Everything of the Teach tab that depends on k alone (``TeachService.overview``)."""
        return self._teach.overview(k)

    def teach_cascade(self, k: Any = 23, source: Any = "impulse", step: Any = 0) -> TeachView:
        """The four designs' cascades after ``step`` depthwise convs of an impulse or a small pattern."""
        return self._teach.cascade(k, source, step)

    def teach_gates(self, k: Any = 23, point: Any = "sppf", block: Any = "gate") -> list[tuple[str, str]]:
        """(label, name) of every large-kernel gate of the zoo model of this variant (neck 4, residual 6)."""
        return self._teach.gates(VariantChoice(k, point, block))

    def teach_trained(self, k: Any = 23, point: Any = "sppf", block: Any = "gate", gate: Any = None) -> TrainedView:
        """The most energetic channels of one gate of the zoo model (the first gate when ``gate`` is None)."""
        return self._teach.trained(VariantChoice(k, point, block), gate)

    def teach_playground(self, k: Any = 23, name: Any = "ring") -> tuple[TeachView, TeachView]:
        """A pattern filtered by each design, and whether separable kernels can draw it as a kernel."""
        return self._teach.playground(k, name)

    @staticmethod
    def teach_choices() -> dict[str, Any]:
        """What the Teach tab's pickers offer: cascade inputs, playground patterns, the step-through's last step."""
        return TeachService.choices()

    def export(
        self,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        scale: Any = "n",
        nc: Any = 80,
        design: Any = "lska",
    ) -> tuple[str, str]:
        """The model YAML of the variant and a Python snippet that trains it (from scratch, or as a graft)."""
        return self._export.files(VariantChoice(k, point, block, design), scale, nc)

    def transfer_check(
        self,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        scale: Any = "n",
        nc: Any = 80,
        design: Any = "lska",
    ) -> str:
        """The transfer check of the exported YAML as Markdown (``ExportService.transfer_check``)."""
        return self._export.transfer_check(VariantChoice(k, point, block, design), scale, nc)

    def export_onnx(
        self,
        k: Any = 23,
        point: Any = "sppf",
        block: Any = "gate",
        progress: Progress | None = None,
        design: Any = "lska",
    ) -> OnnxExport:
        """The variant as a checked ONNX file, from the zoo's weights when trained (``ExportService.onnx``)."""
        return self._export.onnx(VariantChoice(k, point, block, design), progress)

    def zoo_verdicts(self) -> ZooVerdicts:
        """Every variant's Δ mAP50-95 against the control of its regime, paired by seed, with its verdict."""
        return self._zoo.verdicts()

    def zoo_table(self) -> list[dict[str, Any]]:
        """Every model in the manifest, with its architecture and held-out metrics."""
        return self._zoo.table()

    def zoo_pair(
        self, k: Any = 23, point: Any = "sppf", block: Any = "gate", design: Any = "lska"
    ) -> list[dict[str, Any]]:
        """The variant's zoo entry and the control of its regime, with the regime named (``ZooService.pair``)."""
        return self._zoo.pair(VariantChoice(k, point, block, design))
