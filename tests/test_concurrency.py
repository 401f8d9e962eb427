"""Many users at once against the launched app (loopback only, bounded loops): no errors, no cross-talk,
bounded memory, temporary files cleaned up when the server stops."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from conftest import make_fake_zoo
from lska_demo.app.launch import peak_rss_gb, start_app, stop_app
from lska_demo.model.yolo import VariantSpec

CLIENTS, REQUESTS = 16, 5
MAX_CACHE = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """Our own app instance: its pid for memory, and its own Gradio temp folder for the clean-up check."""
    root = tmp_path_factory.mktemp("concurrency")
    weights = make_fake_zoo(root / "weights", [VariantSpec(nc=4), VariantSpec(k=23, point="sppf", nc=4)])
    temp = root / "gradio-temp"
    env = {"LSKA_DEMO_WEIGHTS": str(weights), "GRADIO_TEMP_DIR": str(temp)}
    log = root / "app.log"
    with open(log, "wb") as out:
        try:
            proc, url, _ = start_app(["--max-cache", str(MAX_CACHE)], env=env, log=out)
        except RuntimeError as err:
            pytest.fail(f"{err}:\n{log.read_text()[-3000:]}")
    try:
        yield proc, url, temp
    finally:
        stop_app(proc)


def _one_user(url: str, user: int, folder: Path) -> list[str]:
    """Five requests of one user; returns what went wrong (empty when all is well)."""
    # each user is its own visitor, as behind a Space's proxy (the server limits open requests per visitor)
    visitor = {"X-Forwarded-For": f"10.3.0.{user}"}
    client = Client(url, verbose=False, headers=visitor, download_files=str(folder / f"user{user}"))
    picture = folder / f"user{user}.png"
    width, height = Image.open(picture).size
    problems = []
    for request in range(REQUESTS):
        if request % 2 == 0:
            base_img, var_img, *_, raw = client.predict(
                handle_file(str(picture)), 23, "sppf", "gate", "zoo", 0.001, 0.7, api_name="/compare"
            )
            for side, path in (("baseline", base_img), ("variant", var_img)):
                if Image.open(path).size != (width, height):
                    problems.append(f"user {user}: {side} image is {Image.open(path).size}, sent {(width, height)}")
            for side in ("baseline", "variant"):
                for det in raw[side]["detections"]:
                    x1, y1, x2, y2 = det["box"]
                    if not (0 <= x1 <= x2 <= width and 0 <= y1 <= y2 <= height):
                        problems.append(f"user {user}: {side} box {det['box']} outside its {width}x{height} image")
        else:
            nc = 100 + user * 10 + request
            yaml_text, _ = client.predict(7, "neck", "gate", "n", nc, api_name="/export")
            if f"nc: {nc}" not in yaml_text:
                problems.append(f"user {user}: export answered another user's YAML")
    return problems


def test_sixteen_users_five_requests_each(server: tuple[subprocess.Popen, str, Path], tmp_path: Path) -> None:
    proc, url, temp = server
    for user in range(CLIENTS):  # made before the threads start: numpy's lazy imports are not thread-safe
        width, height = 96 + 8 * user, 80 + 4 * user  # a size no other user uploads: cross-talk would show
        pixels = np.random.default_rng(user).integers(0, 255, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"user{user}.png")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(lambda u: _one_user(url, u, tmp_path), range(CLIENTS)))
    problems = [p for user in results for p in user]
    assert not problems, "\n".join(problems[:20])
    assert time.monotonic() - started < 600
    assert proc.poll() is None, "the server died under load"
    assert peak_rss_gb(proc.pid) < 3.0
    assert any(p.is_file() for p in temp.rglob("*")), "uploads should pass through the app's own temp folder"


def test_every_model_panel_then_memory_stays_bounded(server: tuple[subprocess.Popen, str, Path]) -> None:
    """Cycle through more variants than the cache holds: memory must plateau, not grow per variant."""
    proc, url, _ = server
    client = Client(url, verbose=False)
    rss = []
    for k in (7, 11, 23, 35, 41, 53, 7, 11, 23, 35, 41, 53):
        client.predict(k, "neck", "gate", 256, False, api_name="/cost")
        rss.append(Path(f"/proc/{proc.pid}/status").read_text().split("VmRSS:")[1].split()[0])
    first_round, second_round = int(rss[5]), int(rss[11])
    assert second_round < first_round * 1.25, f"RSS grew from {first_round} kB to {second_round} kB"


def test_temporary_files_are_removed_when_the_server_stops(server: tuple[subprocess.Popen, str, Path]) -> None:
    proc, _, temp = server
    proc.terminate()
    proc.wait(timeout=60)
    left = [p for p in temp.rglob("*") if p.is_file()]
    assert not left, f"{len(left)} temporary files left behind, e.g. {left[:3]}"
