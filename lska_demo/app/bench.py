"""``python -m lska_demo bench``: speed and memory ratios measured in one run, against their limits.

Latency numbers on a shared 2-core machine are noisy, so every comparison is measured in at least
``MIN_ROUNDS`` interleaved rounds (one call of each side per round) and reported as the median of the per-round
ratios, with their spread (min, median, max) beside it: a row whose spread is wide says so. Absolute times are
printed beside them for context only.
"""

from __future__ import annotations

import contextlib
import http.client
import platform
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from lska_demo.app.launch import peak_rss_gb, start_app, stop_app
from lska_demo.model.kernels import PAPER_KERNEL_SIZES, build_design

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
# YOLOv8n at 640: P3 has 64 channels at 80x80, P5 256 channels at 20x20.
FEATURE_MAPS = {"P3": (64, 80), "P5": (256, 20)}
MIN_ROUNDS = 5


@dataclass
class Check:
    name: str
    value: float
    unit: str
    limit: float | None  # None: reported, not judged
    detail: str = ""
    spread: list[float] | None = None  # min, median, max of the value over the rounds (None: measured once)
    rounds: int = 1

    @property
    def ok(self) -> bool | None:
        return None if self.limit is None else self.value <= self.limit

    def line(self) -> str:
        verdict = {True: "ok", False: "OVER", None: "info"}[self.ok]
        limit = "" if self.limit is None else f"<= {self.limit:g}"
        spread = ""
        if self.spread is not None:
            low, median, high = self.spread
            spread = f"[min {low:.3g} · med {median:.3g} · max {high:.3g}, {self.rounds} rounds] "
        return f"{self.name:<44} {self.value:>9.3f} {self.unit:<8} {limit:<9} {verdict:<5} {spread}{self.detail}"


def spread_of(values: list[float]) -> list[float]:
    """min, median and max of ``values``."""
    return [min(values), statistics.median(values), max(values)]


@dataclass(frozen=True)
class Rounds:
    """Milliseconds per call of each runner, one entry per interleaved round.

    Args:
        ms: runner name -> its time in each round.
    """

    ms: dict[str, list[float]]

    def median_ms(self, name: str) -> float:
        return statistics.median(self.ms[name])

    def ratios(self, numerator: str, denominator: str) -> list[float]:
        """The ratio of two runners' times within each round (both saw the same background load)."""
        return [a / b for a, b in zip(self.ms[numerator], self.ms[denominator], strict=True)]

    def ratio_check(self, name: str, numerator: str, denominator: str, **kwargs: Any) -> Check:
        """A ``Check`` whose value is the median per-round ratio, with its spread."""
        ratios = self.ratios(numerator, denominator)
        return Check(name, statistics.median(ratios), "x", spread=spread_of(ratios), rounds=len(ratios), **kwargs)


def _interleaved(runners: dict[str, Callable[[], Any]], repeats: int) -> Rounds:
    """Each runner once per round (A, B, A, B, ...) after one warm-up call each, in max(repeats, MIN_ROUNDS)
    rounds, so that background noise hits every side alike and its spread shows."""
    for run in runners.values():
        run()
    ms: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(max(repeats, MIN_ROUNDS)):
        for name, run in runners.items():
            started = time.perf_counter()
            run()
            ms[name].append((time.perf_counter() - started) * 1e3)
    return Rounds(ms)


def _timed_rounds(run: Callable[[], Any], rounds: int = MIN_ROUNDS) -> list[float]:
    """Seconds of ``rounds`` calls of ``run`` (after none: the first call is part of what is measured)."""
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return seconds


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
    from lska_demo.app.service import DemoService
    from lska_demo.benchmark.images import example_images

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
                f"compare {times.median_ms('compare'):.0f} ms vs forwards {times.median_ms('two forwards'):.0f} "
                f"ms, {label}, zoo models at {result.imgsz} px"
            )
            if not (base.trained and variant.trained):  # untrained sides skip detection: the ratio would flatter us
                limit, detail = None, "zoo not trained: " + detail
            name = "comparison / two raw forward passes"
            checks.append(times.ratio_check(name, "compare", "two forwards", limit=limit, detail=detail))
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
            lska, lka, trivial = (t.median_ms(d) for d in ("lska", "lka", "lka_trivial"))
            where = f"{level} {channels}x{size}x{size}"
            checks.append(
                t.ratio_check(
                    f"LSKA/LKA latency k={k} {level}",
                    "lska",
                    "lka",
                    limit=None,
                    detail=f"{lska:.2f} vs {lka:.2f} ms, {where}",
                )
            )
            checks.append(
                t.ratio_check(
                    f"LSKA/LKA-trivial latency k={k} {level}",
                    "lska",
                    "lka_trivial",
                    limit=1.0 if k >= 23 else None,  # at large k the k x k kernel must lose; at small k it may not
                    detail=f"{lska:.2f} vs {trivial:.2f} ms, {where}",
                )
            )
    return checks


def bench_model_overhead(repeats: int, imgsz: int = 640) -> list[Check]:
    """LSKA's share of a whole model's latency next to its share of the FLOPs, at each insertion point."""
    from lska_demo.analysis.cost import forward_runner, model_cost
    from lska_demo.model.yolo import INSERTION_POINTS, VariantSpec, build_model

    baseline = build_model(VariantSpec())
    base_gflops = model_cost(baseline, imgsz).gflops
    checks = []
    for point in INSERTION_POINTS:
        variant = build_model(VariantSpec(k=23, point=point))
        flop_share = model_cost(variant, imgsz).gflops / base_gflops - 1
        t = _interleaved({"base": forward_runner(baseline, imgsz), "variant": forward_runner(variant, imgsz)}, repeats)
        shares = [(ratio - 1) * 100 for ratio in t.ratios("variant", "base")]
        latency_share = statistics.median(shares) / 100
        checks.append(
            Check(
                f"latency overhead, k=23 at {point}",
                latency_share * 100,
                "%",
                None,
                f"FLOPs +{flop_share * 100:.2f} %; latency/FLOP share {latency_share / flop_share:.1f}x "
                "(depthwise convs move more memory per FLOP than dense ones)",
                spread=spread_of(shares),
                rounds=len(shares),
            )
        )
    return checks


def bench_onnx(repeats: int, imgsz: int = 640, k: int = 23, point: str = "sppf") -> list[Check]:
    """ONNX Runtime CPU latency of baseline vs LSKA next to PyTorch's, all four interleaved in each round.

    Both models go through Ultralytics' exporter (as ``python -m lska_demo export`` does); latency depends
    on the architecture only, so freshly built models serve.
    """
    import tempfile

    from lska_demo.deploy.onnx import export, latency_runners
    from lska_demo.model.yolo import VariantSpec, build_model

    specs = {"baseline": VariantSpec(), "lska": VariantSpec(k=k, point=point)}
    models = {name: build_model(spec).eval() for name, spec in specs.items()}
    with tempfile.TemporaryDirectory(prefix="lska-bench-onnx-") as folder:
        paths = {name: export(model, folder, name, imgsz).onnx for name, model in models.items()}
        rounds = _interleaved(latency_runners(models, paths, imgsz), repeats)
    where = f"k={k} at {point}, {imgsz} px; median ms: " + ", ".join(
        f"{name} {rounds.median_ms(name):.1f}" for name in rounds.ms
    )
    return [
        rounds.ratio_check(
            "ONNX Runtime CPU latency, LSKA / baseline",
            "onnxruntime/lska",
            "onnxruntime/baseline",
            limit=None,
            detail=where,
        ),
        rounds.ratio_check(
            "PyTorch CPU latency, LSKA / baseline", "torch/lska", "torch/baseline", limit=None, detail="the same rounds"
        ),
        rounds.ratio_check(
            "ONNX Runtime / PyTorch latency, LSKA",
            "onnxruntime/lska",
            "torch/lska",
            limit=None,
            detail="the same rounds",
        ),
    ]


def bench_analysis() -> list[Check]:
    """The analysis targets: model ERF for both models, module ERF for six k, the cost table of a pair."""
    from lska_demo.analysis.cost import cost_comparison, warm_up
    from lska_demo.analysis.erf import compare_erf, module_erf
    from lska_demo.benchmark.images import example_images, load_image
    from lska_demo.model.yolo import VariantSpec, build_model

    spec = VariantSpec(k=23, point="sppf")
    baseline, variant = build_model(spec.baseline()), build_model(spec)
    pictures = [load_image(p) for p in example_images().values()]
    images = [pictures[i % len(pictures)] for i in range(16)]
    warm_up_seconds = _timed_rounds(warm_up, 1)[0]  # what the app does in the background at start
    erf = _timed_rounds(lambda: compare_erf(baseline, variant, spec, "insertion point", images, imgsz=640))
    module = _timed_rounds(lambda: [module_erf("lska", k) for k in PAPER_KERNEL_SIZES])
    cost = _timed_rounds(lambda: cost_comparison(baseline, variant, 640))
    erf_seconds = statistics.median(erf)
    return [
        Check(
            "model ERF, both models, N=16 at 640",
            erf_seconds,
            "s",
            5.0,
            f"{erf_seconds / 32:.3f} s per image",
            spread=spread_of(erf),
            rounds=len(erf),
        ),
        Check(
            "module ERF, LSKA at all six k",
            statistics.median(module),
            "s",
            2.0,
            spread=spread_of(module),
            rounds=len(module),
        ),
        Check(
            "cost table of a pair (models built)",
            statistics.median(cost),
            "s",
            1.0,
            "after the FLOP counter's one-time warm-up, which the app runs in the background at start ("
            + (f"{warm_up_seconds:.2f} s here)" if warm_up_seconds > 0.05 else "paid earlier in this run)"),
            spread=spread_of(cost),
            rounds=len(cost),
        ),
    ]


def bench_app() -> list[Check]:
    """Cold start of ``python app.py`` until the page answers, then every panel through the API, then peak RSS."""
    from gradio_client import Client, handle_file

    from lska_demo.benchmark.images import example_images

    colds = []
    for _ in range(MIN_ROUNDS - 1):  # the last start below serves the panels
        server, _, seconds = start_app()
        stop_app(server)
        colds.append(seconds)
    server, url, cold = start_app()
    colds.append(cold)
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
        Check(
            "cold start: python app.py to page served",
            statistics.median(colds),
            "s",
            10.0,
            spread=spread_of(colds),
            rounds=len(colds),
        ),
        Check("peak RSS of the app, every panel used", rss, "GB", 3.0),
    ]


def _ultralytics_predictor(model: torch.nn.Module) -> Any:
    """An Ultralytics ``YOLO`` object that predicts with a copy of ``model`` (its predictor fuses in place)."""
    import copy

    from ultralytics import YOLO

    wrapper = YOLO("yolov8n.yaml", task="detect", verbose=False)
    wrapper.model = copy.deepcopy(model)
    return wrapper


def bench_versus_ultralytics(repeats: int) -> list[Check]:
    """The app's compare against two Ultralytics ``predict`` calls on the same image file with the same models,
    thresholds and size: Ultralytics' default rectangular letterbox, and its square one (``rect=False``, the
    input the app feeds, so the remaining gap is everything but the forward passes)."""
    from lska_demo.app.service import DemoService
    from lska_demo.benchmark.images import example_images

    service = DemoService()
    bus = str(example_images()["bus"])
    base, variant = service.pair("zoo", 23, "sppf", "gate")
    predictors = [_ultralytics_predictor(side.model) for side in (base, variant)]
    imgsz = base.imgsz

    def predict_both(rect: bool) -> None:
        for predictor in predictors:
            predictor.predict(bus, imgsz=imgsz, conf=0.25, iou=0.7, rect=rect, verbose=False)

    t = _interleaved(
        {
            "compare": lambda: service.compare(bus, 23, "sppf", "gate", "zoo", 0.25, 0.7),
            "predict": lambda: predict_both(True),
            "predict square": lambda: predict_both(False),
        },
        repeats,
    )
    ms = {name: t.median_ms(name) for name in t.ms}
    untrained = "" if base.trained and variant.trained else "zoo not trained: "
    return [
        t.ratio_check(
            "compare / two Ultralytics predict calls",
            "compare",
            "predict",
            limit=None,
            detail=f"{untrained}{ms['compare']:.0f} vs {ms['predict']:.0f} ms, bus.jpg at {imgsz} px; Ultralytics "
            "letterboxes to a rectangle (fewer pixels), the app to a square (one input shared by both models)",
        ),
        t.ratio_check(
            "compare / two Ultralytics predicts, square",
            "compare",
            "predict square",
            limit=1.0 if not untrained else None,
            detail=f"{untrained}{ms['compare']:.0f} vs {ms['predict square']:.0f} ms, rect=False: the same input "
            "shape; the app decodes and letterboxes once, and both run BatchNorm-fused models",
        ),
    ]


def _rss_mb(pid: int, field: str = "VmRSS:") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def _shipped_choices() -> list[tuple[int, str, str]]:
    """The page's (k, point, design) choices that load shipped models of the zoo, one per distinct choice.

    Controls (the baseline, the pointwise gates) are not choices of their own: they load as the baseline side of
    the variants they control.
    """
    from lska_demo.zoo.manifest import Manifest

    found: dict[tuple[int, str, str], None] = {}
    for entry in Manifest.load().models:
        spec = entry["spec"]
        design = spec.get("design", "lska")
        if entry.get("file") and spec.get("k") and design != "pointwise" and entry.get("seed") == 0:
            found[(spec["k"], spec.get("point", "sppf"), design)] = None
    return list(found) or [(23, "sppf", "lska")]


def _load_users(url: str, image: str, users: int, requests: int) -> None:
    """``users`` visitors at once, each sending ``requests`` compares that rotate over every shipped model."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client, handle_file

    choices = _shipped_choices()

    def visitor(user: int) -> None:
        client = Client(url, verbose=False, headers={"X-Forwarded-For": f"10.1.0.{user}"})
        for request in range(requests):
            k, point, design = choices[(user * requests + request) % len(choices)]
            client.predict(handle_file(image), k, point, "gate", "zoo", 0.25, 0.7, design, api_name="/compare")

    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(visitor, range(users)))


def _compare_under_flood(url: str, image: str, flood: int, compares: int) -> tuple[list[float], list[float]]:
    """Seconds of each of ``compares`` /compare calls by one visitor while another floods /erf on the same models,
    and of as many calls just before the flood (its models loaded first: the flood's cost, not a load, is measured).
    """
    from gradio_client import Client, handle_file

    flooder = Client(url, verbose=False, headers={"X-Forwarded-For": "10.2.0.1"})
    visitor = Client(url, verbose=False, headers={"X-Forwarded-For": "10.2.0.2"})
    compare = lambda: visitor.predict(  # noqa: E731
        handle_file(image), 23, "sppf", "gate", "zoo", 0.25, 0.7, api_name="/compare"
    )
    compare()  # the models of the pair, evicted by the load before, are loaded again
    quiet = _timed_rounds(compare, compares)
    jobs = [
        flooder.submit(None, 23, "sppf", "gate", "zoo", 16, "insertion point", api_name="/erf") for _ in range(flood)
    ]
    seconds = _timed_rounds(compare, compares)
    for job in jobs:
        job.cancel()
    return seconds, quiet


def bench_load(users: int = 16, requests: int = 5, flood: int = 20, compares: int = 10) -> list[Check]:
    """The launched app under load: peak RSS while ``users`` visitors send ``requests`` compares each across
    every shipped model, RSS a while after the load against before it, and /compare's p95 while one visitor
    floods /erf (``flood`` requests of 16 images)."""
    import numpy as np

    from lska_demo.benchmark.images import example_images

    image = str(example_images()["bus"])
    server, url, _ = start_app()
    try:
        _load_users(url, image, 1, 1)  # the first models and Gradio's own start-up costs are "before"
        before = _rss_mb(server.pid)
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # the peak restarts from here
        _load_users(url, image, users, requests)
        peak = _rss_mb(server.pid, "VmHWM:")
        time.sleep(10)  # idle: freed arenas are trimmed after each heavy request; let the last settle
        after = _rss_mb(server.pid)
        flood_times, quiet_times = _compare_under_flood(url, image, flood, compares)
    finally:
        stop_app(server)
    load = f"{users} users x {requests} compares across {len(_shipped_choices())} trained choices (every shipped model)"
    p95 = float(np.percentile(flood_times, 95))
    return [
        Check("peak RSS under load", peak / 1024, "GB", 3.0, f"{load}; {before / 1024:.2f} GB before"),
        Check("RSS after load minus before", (after - before) / 1024, "GB", 0.2, f"10 s after {load}"),
        Check(
            "/compare p95 while one visitor floods /erf",
            p95,
            "s",
            5.0,
            f"{compares} compares beside {flood} /erf requests (16 images, the same models) from one visitor; "
            f"p95 {np.percentile(quiet_times, 95):.2f} s, p50 {np.median(quiet_times):.2f} s without the flood",
            spread=spread_of(flood_times),
            rounds=len(flood_times),
        ),
    ]


STOP_WAIT_S = 30.0
"""How long a stop may run before the bench kills the server (and reports this many seconds)."""


@contextlib.contextmanager
def _connected(url: str, what: str) -> Any:
    """What is connected while the server stops: a browser tab's heartbeat stream (open and answered), or an API
    client whose /erf request is running."""
    from gradio_client import Client

    if what == "browser tab":
        host, port = url.split("//", 1)[1].strip("/").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=STOP_WAIT_S)
        connection.request("GET", "/gradio_api/heartbeat/bench-stop")
        if connection.getresponse().status != 200:
            raise RuntimeError("the heartbeat stream did not open")
        try:
            yield
        finally:
            connection.close()
        return
    client = Client(url, verbose=False)
    job = client.submit(None, 23, "sppf", "gate", "zoo", 1, "insertion point", api_name="/erf")
    deadline = time.monotonic() + STOP_WAIT_S
    while job.status().code.name not in {"IN_QUEUE", "PROCESSING", "PROGRESS", "ITERATING"} and not job.done():
        if time.monotonic() > deadline:
            raise RuntimeError("the /erf request never started")
        time.sleep(0.05)
    try:
        yield
    finally:
        client.close()


def bench_stop(rounds: int = 3) -> list[Check]:
    """Seconds from Ctrl-C (with a browser tab open) or SIGTERM (with an API client's request running) until
    ``python app.py`` has exited, each measured on a freshly started server."""
    checks = []
    for stop, what in ((signal.SIGINT, "browser tab"), (signal.SIGTERM, "API client")):
        seconds, codes = [], set()
        for _ in range(rounds):
            server, url, _ = start_app()
            try:
                with _connected(url, what):
                    started = time.monotonic()
                    server.send_signal(stop)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        server.wait(timeout=STOP_WAIT_S)
                    seconds.append(time.monotonic() - started)
                    codes.add(server.returncode)
            finally:
                stop_app(server)
        name = "Ctrl-C" if stop == signal.SIGINT else "SIGTERM"
        detail = "with a /erf request running" if what == "API client" else "open"
        checks.append(
            Check(
                f"stop: {name} to exit, {what} connected",
                max(seconds),
                "s",
                5.0,
                f"the slowest of {rounds} stops, each of a fresh server, its {what} {detail}; exit codes "
                f"{sorted(codes, key=str)} (None: still running after {STOP_WAIT_S:g} s, then killed)",
                spread=spread_of(seconds),
                rounds=rounds,
            )
        )
    return checks


MEMORY_PROBE = """
import json, sys, time
from pathlib import Path
from lska_demo.app.fairness import guarded
from lska_demo.app.service import DemoService
from lska_demo.benchmark.images import example_images

def rss(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024

endpoint, image, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
service = DemoService()
calls = {
    "compare": lambda picture: service.compare(picture, 23, "sppf", "gate", "zoo"),
    "erf": lambda picture: service.erf([picture], 23, "sppf", "gate", "zoo", 1, "insertion point"),
    "attention": lambda picture: service.attention(picture, 23, "sppf", "gate", "zoo", "grad"),
    "cost": lambda picture: service.cost(23, "sppf", "gate", 640, True),
}
# as the app runs it: heavy work counted per client, cyclic garbage collected and memory trimmed after it
run = guarded(endpoint, lambda picture: calls[endpoint](picture), heavy_if=lambda *args: True)
run(str(example_images()["bus"]))  # the models load and one-time costs are paid before measuring
time.sleep(3)  # the idle trim after it
before = rss("VmRSS:")
peaks = []
for _ in range(rounds):
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) restarts from the current RSS
    run(image)
    peaks.append(rss("VmHWM:") - before)
time.sleep(3)
print(json.dumps({"peaks_mb": peaks, "after_mb": rss("VmRSS:") - before}))
"""

MEMORY_ENDPOINTS = ("compare", "erf", "attention", "cost")
"""The heavy endpoints whose memory per request ``bench_memory`` measures (cost: with latency, no image)."""


def _large_image(folder: Path, size: tuple[int, int] = (6324, 4743)) -> Path:
    """A smooth random RGB PNG just under ``load_image``'s decode cap (30 MP, 120 MB decoded), whose file is large
    too (about 40 MB of the 50 MB allowed): the largest image the app accepts, the worst case for every endpoint."""
    import numpy as np
    from PIL import Image

    coarse = np.random.default_rng(0).integers(0, 256, (size[1] // 16, size[0] // 16, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.BILINEAR)
    path = folder / "large-30mp.png"
    image.save(path, "PNG", compress_level=1)
    return path


def bench_memory(rounds: int = 3, limit_mb: float = 150.0) -> list[Check]:
    """Peak RSS each heavy endpoint adds per request with the largest accepted image (``_large_image``), measured
    in a fresh ``python`` per endpoint through the same wrapper the app runs it in (``fairness.guarded``): the
    largest of ``rounds`` requests after one warm-up, against ``limit_mb``; what stays after them is the detail."""
    import json
    import subprocess
    import sys
    import tempfile

    from lska_demo.core.runtime import PROJECT_ROOT

    checks = []
    with tempfile.TemporaryDirectory(prefix="lska-bench-memory-") as folder:
        image = _large_image(Path(folder))
        for endpoint in MEMORY_ENDPOINTS:
            out = subprocess.run(
                [sys.executable, "-c", MEMORY_PROBE, endpoint, str(image), str(rounds)],
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
                timeout=900,
            )
            if out.returncode != 0:
                raise RuntimeError(f"the memory probe of /{endpoint} failed:\n{out.stderr[-2000:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            peaks = result["peaks_mb"]
            what = "no image (latency measured)" if endpoint == "cost" else "a 30 MP PNG (40 MB file, 120 MB decoded)"
            checks.append(
                Check(
                    f"/{endpoint} peak RSS per request",
                    max(peaks),
                    "MB",
                    limit_mb,
                    f"{what}; {result['after_mb']:+.0f} MB stays after {len(peaks)} requests",
                    spread=spread_of(peaks),
                    rounds=len(peaks),
                )
            )
    return checks


# Each section measures with the given number of repeats (the analysis and app sections time single runs).
SECTIONS: dict[str, Callable[[int], list[Check]]] = {
    "compare": bench_compare,
    "modules": bench_modules,
    "model": bench_model_overhead,
    "onnx": bench_onnx,
    "analysis": lambda repeats: bench_analysis(),
    "app": lambda repeats: bench_app(),
    "ultralytics": bench_versus_ultralytics,
    "load": lambda repeats: bench_load(),
    "memory": lambda repeats: bench_memory(),
    "stop": lambda repeats: bench_stop(),
}


def machine() -> str:
    from lska_demo.core.provenance import cpu_name

    return f"{platform.machine()}, {cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads"


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
