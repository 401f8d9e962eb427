"""What every tab service shares: the kinds of input and progress they take, the errors a visitor may see,
the benchmark images they fall back on, and the start-up warm-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from lska_demo.zoo.manifest import ZooError

# What the UI shows as "cannot do that" (the visitor can act on it); anything else is an internal error.
VISITOR_ERRORS: tuple[type[Exception], ...] = (ValueError, ZooError)  # ImageError is a ValueError

Progress = Callable[[float, str], None]
ImageInput = str | Path | bytes | np.ndarray


def report(progress: Progress | None, fraction: float, message: str) -> None:
    """Tell the caller how far the work is, where it asked to be told."""
    if progress is not None:
        progress(fraction, message)


def benchmark_images(n: int) -> list[np.ndarray]:
    """The first ``n`` held-out benchmark images, generated (deterministic, no files needed)."""
    from lska_demo.benchmark.data import BenchmarkConfig, render_image

    return [np.asarray(render_image(BenchmarkConfig(), "test", i)[0]) for i in range(n)]


def warm_up() -> None:
    """Pay the one-time costs now (the app runs this in the background at start): the FLOP counter's
    start-up, and the Teach tab's views that depend on k alone, which every visitor shares."""
    from lska_demo.analysis.cost import warm_up as count_once
    from lska_demo.present.teach import views as teach_views

    count_once()
    teach_views.warm_up()
