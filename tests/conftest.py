"""Shared test set-up: importing the package configures the offline runtime and registers LSKA."""

from pathlib import Path

import pytest

import lska_demo  # noqa: F401


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny copy of the shape-vs-texture benchmark (12 train, 4 val, 4 test images at 64 px)."""
    from lska_demo.data import BenchmarkConfig, generate

    root = tmp_path_factory.mktemp("benchmark")
    return generate(root, BenchmarkConfig(seed=3, imgsz=64, train=12, val=4, test=4, min_size=0.3))
