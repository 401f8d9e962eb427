"""Issue 14's hostile images: each is refused from its header or decoded within +150 MB of RSS, and RSS returns
near its pre-load level afterwards. Each load runs in a fresh subprocess, so the numbers are its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lska_demo.core.runtime import PROJECT_ROOT

BOUND_MB = 150
AFTER_MB = 50

PROBE = """
import json, sys
from pathlib import Path
from lska_demo.benchmark.images import ImageError, load_image

def rss(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
before = rss("VmRSS:")
Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
try:
    shape, message = list(load_image(sys.argv[1]).shape), None
except ImageError as err:
    shape, message = None, str(err)
print(json.dumps({"shape": shape, "message": message, "peak_mb": rss("VmHWM:") - before,
                  "after_mb": rss("VmRSS:") - before}))
"""


def _probe(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _drawn(mode: str, size: tuple[int, int], fill: float) -> Image.Image:
    image = Image.new(mode, size)
    ImageDraw.Draw(image).rectangle((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill=fill)
    return image


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Images small on disk, large decoded: 40 MP 16-bit PNG, float TIFF, RGB PNG and JPEG; 30 MP RGB PNG and
    12 MP float TIFF (under the caps)."""
    folder = tmp_path_factory.mktemp("hostile")
    files = {
        "png16-40mp.png": (_drawn("I;16", (8000, 5000), 60000), {}),
        "float-40mp.tif": (_drawn("F", (8000, 5000), 3.5), {"compression": "tiff_deflate"}),
        "float-12mp.tif": (_drawn("F", (4000, 3000), 3.5), {"compression": "tiff_deflate"}),
        "rgb-40mp.png": (_drawn("RGB", (8000, 5000), 200), {}),
        "rgb-30mp.png": (_drawn("RGB", (6000, 5000), 200), {}),
        "rgb-40mp.jpg": (_drawn("RGB", (8000, 5000), 200), {"quality": 50}),
    }
    paths = {}
    for name, (image, options) in files.items():
        paths[name] = folder / name
        image.save(paths[name], **options)
        del image
    return paths


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("png16-40mp.png", False),
        ("float-40mp.tif", False),
        ("float-12mp.tif", True),
        ("rgb-40mp.png", False),
        ("rgb-30mp.png", True),
        ("rgb-40mp.jpg", True),
    ],
)
def test_decode_memory_is_bounded(hostile: dict[str, Path], name: str, accepted: bool) -> None:
    result = _probe(hostile[name])
    print(name, json.dumps(result))  # the numbers, with -s
    assert (result["shape"] is not None) == accepted, result["message"]
    if not accepted:
        assert "pixels" in result["message"] and str(hostile[name].parent) not in result["message"]
    assert result["peak_mb"] <= BOUND_MB
    assert result["after_mb"] <= AFTER_MB


def test_wide_images_keep_their_contrast_after_downscaling(hostile: dict[str, Path]) -> None:
    from lska_demo.benchmark.images import load_image

    image = load_image(hostile["float-12mp.tif"])
    assert max(image.shape[:2]) == 1280 and image.min() == 0 and image.max() == 255
    assert np.array_equal(image[0, 0], [0, 0, 0])
