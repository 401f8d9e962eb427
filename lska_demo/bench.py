"""``python -m lska_demo bench``: speed and memory ratios measured in one run, against their limits.

Latency numbers on a shared 2-core machine are noisy, so every comparison is a ratio of medians from
runs interleaved in one process; absolute seconds are printed beside them for context only.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from lska_demo.kernels import PAPER_KERNEL_SIZES, build_design
from lska_demo.launch import peak_rss_gb, start_app, stop_app

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
# YOLOv8n at 640: P3 has 64 channels at 80x80, P5 256 channels at 20x20.
FEATURE_MAPS = {"P3": (64, 80), "P5": (256, 20)}


@dataclass
class Check:
    name: str
    value: float
    unit: str
    limit: float | None  # None: reported, not judged
    detail: str = ""

    @property
    def ok(self) -> bool | None:
        return None if self.limit is None else self.value <= self.limit

    def line(self) -> str:
        verdict = {True: "ok", False: "OVER", None: "info"}[self.ok]
        limit = "" if self.limit is None else f"<= {self.limit:g}"
        return f"{self.name:<44} {self.value:>9.3f} {self.unit:<8} {limit:<9} {verdict:<5} {self.detail}"


def _interleaved(runners: dict[str, Callable[[], Any]], repeats: int) -> dict[str, Any]:
    from lska_demo.analysis.cost import measure_latency

    return measure_latency(runners, warmup=1, repeats=repeats)


def _resized_copy(source: Path, long_side: int, folder: Path) -> Path:
    """``source`` re-encoded as a JPEG whose long side is ``long_side`` pixels."""
    from PIL import Image

    with Image.open(source) as image:
        scale = long_side / max(image.size)
        resized = image.convert("RGB").resize((round(image.width * scale), round(image.height * scale)))
    target = folder / f"{source.stem}-{long_side}.jpg"
    resized.save(target, quality=90)
    return target


def bench_compare(repeats: int) -> list[Check]:
    """A full comparison (decode, both detections, drawing) against the two raw forward passes alone: on a
    640 px image (the target) and on bus.jpg at its own 1080 px (more decoding and drawing per forward)."""
    import tempfile

    from lska_demo.analysis.cost import forward_runner
    from lska_demo.images import example_images
    from lska_demo.service import DemoService

    service = DemoService()
    bus = example_images()["bus"]
    base, variant = service.pair("zoo", 23, "sppf", "gate")
    checks = []
    with tempfile.TemporaryDirectory(prefix="lska-bench-") as folder:
        for label, image, limit in (
            ("640 px bus.jpg", _resized_copy(bus, 640, Path(folder)), 1.5),
            ("bus.jpg as shipped (1080 px)", bus, None),
        ):
            result = service.compare(str(image), 23, "sppf", "gate", "zoo")
            forward_base = forward_runner(base.model, result.imgsz)
            forward_variant = forward_runner(variant.model, result.imgsz)
            times = _interleaved(
                {
                    "two forwards": lambda fb=forward_base, fv=forward_variant: (fb(), fv()),
                    "compare": lambda image=image: service.compare(str(image), 23, "sppf", "gate", "zoo"),
                },
                repeats,
            )
            detail = (
                f"compare {times['compare']['median_ms']:.0f} ms vs forwards {times['two forwards']['median_ms']:.0f} "
                f"ms, {label}, zoo models at {result.imgsz} px"
            )
            if not (base.trained and variant.trained):  # untrained sides skip detection: the ratio would flatter us
                limit, detail = None, "zoo not trained: " + detail
            checks.append(Check("comparison / two raw forward passes", times["ratio"], "x", limit, detail))
    return checks


def bench_modules(repeats: int) -> list[Check]:
    """LSKA against LKA and LKA-trivial, same k, same feature map: the paper's latency claim on this CPU."""
    checks = []
    for level, (channels, size) in FEATURE_MAPS.items():
        x = torch.randn(1, channels, size, size)
        for k in PAPER_KERNEL_SIZES:
            modules = {d: build_design(d, channels, k).eval() for d in ("lska", "lka", "lka_trivial")}

            def runner(m: torch.nn.Module, x: torch.Tensor = x) -> Callable[[], Any]:
                return lambda: m(x)

            with torch.no_grad():
                t = _interleaved({d: runner(m) for d, m in modules.items()}, repeats)
            lska, lka, trivial = (t[d]["median_ms"] for d in ("lska", "lka", "lka_trivial"))
            where = f"{level} {channels}x{size}x{size}"
            checks.append(
                Check(f"LSKA/LKA latency k={k} {level}", lska / lka, "x", None, f"{lska:.2f} vs {lka:.2f} ms, {where}")
            )
            checks.append(
                Check(
                    f"LSKA/LKA-trivial latency k={k} {level}",
                    lska / trivial,
                    "x",
                    1.0 if k >= 23 else None,  # at large k the k x k kernel must lose; at small k it may not
                    f"{lska:.2f} vs {trivial:.2f} ms, {where}",
                )
            )
    return checks


def bench_model_overhead(repeats: int, imgsz: int = 640) -> list[Check]:
    """LSKA's share of a whole model's latency next to its share of the FLOPs, at each insertion point."""
    from lska_demo.analysis.cost import forward_runner, model_cost
    from lska_demo.yolo import INSERTION_POINTS, VariantSpec, build_model

    baseline = build_model(VariantSpec())
    base_gflops = model_cost(baseline, imgsz).gflops
    checks = []
    for point in INSERTION_POINTS:
        variant = build_model(VariantSpec(k=23, point=point))
        flop_share = model_cost(variant, imgsz).gflops / base_gflops - 1
        t = _interleaved({"base": forward_runner(baseline, imgsz), "variant": forward_runner(variant, imgsz)}, repeats)
        latency_share = t["ratio"] - 1
        checks.append(
            Check(
                f"latency overhead, k=23 at {point}",
                latency_share * 100,
                "%",
                None,
                f"FLOPs +{flop_share * 100:.2f} %; latency/FLOP share {latency_share / flop_share:.1f}x "
                "(depthwise convs move more memory per FLOP than dense ones)",
            )
        )
    return checks


def bench_onnx(repeats: int, imgsz: int = 640, k: int = 23, point: str = "sppf") -> list[Check]:
    """ONNX Runtime CPU latency of baseline vs LSKA next to PyTorch's, all four interleaved in one run.

    Both models go through Ultralytics' exporter (as ``python -m lska_demo export`` does); latency depends
    on the architecture only, so freshly built models serve.
    """
    import tempfile

    from lska_demo.export_onnx import export, latency
    from lska_demo.yolo import VariantSpec, build_model

    specs = {"baseline": VariantSpec(), "lska": VariantSpec(k=k, point=point)}
    models = {name: build_model(spec).eval() for name, spec in specs.items()}
    with tempfile.TemporaryDirectory(prefix="lska-bench-onnx-") as folder:
        paths = {name: export(model, folder, name, imgsz).onnx for name, model in models.items()}
        t = latency(models, paths, imgsz, repeats)
    ms = {name: value["median_ms"] for name, value in t.items() if isinstance(value, dict)}
    where = f"k={k} at {point}, {imgsz} px; "
    medians = "median ms: " + ", ".join(f"{name} {value:.1f}" for name, value in ms.items())
    ort_speedup = ms["onnxruntime/baseline"] / ms["torch/baseline"]
    return [
        Check(
            "ONNX Runtime CPU latency, LSKA / baseline",
            ms["onnxruntime/lska"] / ms["onnxruntime/baseline"],
            "x",
            None,
            where + medians,
        ),
        Check(
            "PyTorch CPU latency, LSKA / baseline",
            ms["torch/lska"] / ms["torch/baseline"],
            "x",
            None,
            where + "the same interleaved run",
        ),
        Check(
            "ONNX Runtime / PyTorch latency, LSKA",
            ms["onnxruntime/lska"] / ms["torch/lska"],
            "x",
            None,
            where + f"baseline {ort_speedup:.2f}x",
        ),
    ]


def bench_analysis() -> list[Check]:
    """The analysis targets: model ERF for both models, module ERF for six k, the cost table of a pair."""
    from lska_demo.analysis.cost import cost_comparison, warm_up
    from lska_demo.analysis.erf import compare_erf, module_erf
    from lska_demo.images import example_images, load_image
    from lska_demo.yolo import VariantSpec, build_model

    spec = VariantSpec(k=23, point="sppf")
    baseline, variant = build_model(spec.baseline()), build_model(spec)
    pictures = [load_image(p) for p in example_images().values()]
    images = [pictures[i % len(pictures)] for i in range(16)]
    started = time.perf_counter()
    compare_erf(baseline, variant, spec, "insertion point", images, imgsz=640)
    erf_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for k in PAPER_KERNEL_SIZES:
        module_erf("lska", k)
    module_seconds = time.perf_counter() - started
    started = time.perf_counter()
    warm_up()  # what the app does in the background at start
    warm_up_seconds = time.perf_counter() - started
    started = time.perf_counter()
    cost_comparison(baseline, variant, 640)
    cost_seconds = time.perf_counter() - started
    return [
        Check("model ERF, both models, N=16 at 640", erf_seconds, "s", 5.0, f"{erf_seconds / 32:.3f} s per image"),
        Check("module ERF, LSKA at all six k", module_seconds, "s", 2.0),
        Check(
            "cost table of a pair (models built)",
            cost_seconds,
            "s",
            1.0,
            "after the FLOP counter's one-time warm-up, which the app runs in the background at start ("
            + (f"{warm_up_seconds:.2f} s here)" if warm_up_seconds > 0.05 else "paid earlier in this run)"),
        ),
    ]


def bench_app() -> list[Check]:
    """Cold start of ``python app.py`` until the page answers, then every panel through the API, then peak RSS."""
    from gradio_client import Client, handle_file

    from lska_demo.images import example_images

    server, url, cold = start_app()
    try:
        client = Client(url, verbose=False)
        image = handle_file(str(example_images()["bus"]))
        client.predict(image, 23, "sppf", "gate", "zoo", 0.25, 0.7, api_name="/compare")
        client.predict([image] * 16, 23, "sppf", "gate", "zoo", 16, "insertion point", api_name="/erf")
        for method in ("eigen", "grad"):
            client.predict(image, 23, "sppf", "gate", "zoo", method, api_name="/attention")
        client.predict(23, "sppf", "gate", 640, True, api_name="/cost")
        client.predict(23, api_name="/teach")
        client.predict(23, "sppf", "gate", "n", 80, api_name="/export")
        client.predict(23, "sppf", "gate", api_name="/zoo")
        rss = peak_rss_gb(server.pid)
    finally:
        stop_app(server)
    return [
        Check("cold start: python app.py to page served", cold, "s", 10.0),
        Check("peak RSS of the app, every panel used", rss, "GB", 3.0),
    ]


# Each section measures with the given number of repeats (the analysis and app sections time single runs).
SECTIONS: dict[str, Callable[[int], list[Check]]] = {
    "compare": bench_compare,
    "modules": bench_modules,
    "model": bench_model_overhead,
    "onnx": bench_onnx,
    "analysis": lambda repeats: bench_analysis(),
    "app": lambda repeats: bench_app(),
}


def machine() -> str:
    from lska_demo.report import _cpu_name

    return f"{platform.machine()}, {_cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads"


def run(sections: list[str], repeats: int) -> dict[str, Any]:
    """The checks of ``sections`` (all when empty), with the machine they ran on."""
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown bench sections {sorted(unknown)}; choose from {list(SECTIONS)}")
    checks: list[Check] = []
    for name in sections or list(SECTIONS):
        checks += SECTIONS[name](repeats)
    return {"machine": machine(), "checks": [asdict(c) for c in checks]}


def render(result: dict[str, Any]) -> str:
    checks = [Check(**c) for c in result["checks"]]
    lines = [f"machine: {result['machine']}", *(c.line() for c in checks)]
    over = [c.name for c in checks if c.ok is False]
    lines.append(f"{len(checks)} measured, {sum(c.ok is True for c in checks)} within limits, {len(over)} over")
    return "\n".join(lines)
