"""Shared test set-up: importing the package configures the offline runtime and registers LSKA."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from browser import app_page, browser  # noqa: F401  (the browser harness's fixtures, for every test module)

import lska_demo  # noqa: F401
from lska_demo.app.service import DemoService, ServiceOptions, benchmark_images


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny copy of the shape-vs-texture benchmark (12 train, 4 val, 4 test images at 64 px)."""
    from lska_demo.benchmark.data import BenchmarkConfig, generate

    root = tmp_path_factory.mktemp("benchmark")
    return generate(root, BenchmarkConfig(seed=3, imgsz=64, train=12, val=4, test=4, min_size=0.3))


# --- the web app's tests (test_service, test_app_api, test_browser) ---------------------------------------


def make_fake_zoo(folder: Path, specs: list, adapters: tuple = ()) -> Path:
    """A weights folder shaped like the shipped zoo: a manifest and sha256-verified safetensors, random
    weights. The control is also saved as an Ultralytics ``.pt`` next to them, as an operator's checkpoint
    (``--weights``) would be; the manifest does not name it. ``specs`` are full fine-tunes; ``adapters`` are
    entered in the adapter regime (only the gate trained, on the frozen ``yolov8n-s0``), saved whole."""
    from dataclasses import asdict

    import torch

    from lska_demo.core.safeweights import write
    from lska_demo.model.yolo import build_model, save_checkpoint
    from lska_demo.zoo.manifest import Manifest, sha256_of

    manifest = Manifest(benchmark={"classes": ["circle", "triangle", "square", "hexagon"]})
    for i, spec in enumerate([*specs, *adapters]):
        adapter = i >= len(specs)
        model_id = f"{spec.name}-adapter-s0" if adapter else f"{spec.name}-s0"
        with torch.random.fork_rng(devices=[]):  # the same random weights whatever ran before
            torch.manual_seed(i)
            model = build_model(spec)
        if spec.is_baseline:
            save_checkpoint(model, folder / f"{model_id}.pt")
        path = write(folder / f"{model_id}.safetensors", model.half().state_dict(), "full", asdict(spec))
        manifest.upsert(
            {
                "id": model_id,
                "file": path.name,
                "sha256": sha256_of(path),
                "format": "full",
                "mode": "adapter" if adapter else "finetune" if spec.is_baseline else "graft",
                "regime": "adapter" if adapter else "finetune",
                **({"parent": "yolov8n-s0"} if adapter else {}),
                "spec": asdict(spec),
                "seed": 0,
                "recipe": {"imgsz": 256},
                "metrics": {"mAP50": 0.5 + i / 100, "mAP50-95": 0.4 + i / 100},
            }
        )
    manifest.save(folder)
    return folder


@pytest.fixture(scope="session")
def fake_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The control, LSKA k=23 at sppf and k=53 at neck (4 classes) fine-tuned in full, and an adapter pair: LSKA
    k=7 at neck beside its control, the pointwise gate at neck, as the zoo would ship them."""
    from lska_demo.model.yolo import VariantSpec

    specs = [VariantSpec(nc=4), VariantSpec(k=23, point="sppf", nc=4), VariantSpec(k=53, point="neck", nc=4)]
    adapters = (VariantSpec(k=1, point="neck", nc=4, design="pointwise"), VariantSpec(k=7, point="neck", nc=4))
    return make_fake_zoo(tmp_path_factory.mktemp("weights"), specs, adapters)


@pytest.fixture(scope="session")
def app_url(fake_zoo: Path, tmp_path_factory: pytest.TempPathFactory):
    """``python app.py`` on a free loopback port, serving the fake zoo; stopped after the session."""
    from lska_demo.app.launch import start_app, stop_app

    log = tmp_path_factory.mktemp("app") / "app.log"
    with open(log, "wb") as out:
        try:  # generous timeout: CI machines may be as busy as this one
            proc, url, _ = start_app(env={"LSKA_DEMO_WEIGHTS": str(fake_zoo)}, log=out, timeout=120)
        except RuntimeError as err:
            pytest.fail(f"{err}:\n{log.read_text()[-3000:]}")
    try:
        yield url
    finally:
        stop_app(proc)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``): on a
    busy 2-core machine two OpenMP threads make a forward pass ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def service(fake_zoo: Path) -> DemoService:
    """The service on the fake zoo (a module that needs another service defines its own)."""
    return DemoService(ServiceOptions(weights_dir=fake_zoo))


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """One benchmark image."""
    return benchmark_images(1)[0]
