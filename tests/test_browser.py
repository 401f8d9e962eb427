"""A person's path through the page, in headless Debian Chromium driven by Playwright.

Pick k=53 and the neck, upload an image, press Compare: both annotated images and the cost table must appear.
Skipped only where /usr/bin/chromium is missing (CI installs it); ``playwright install`` is never needed.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lska_demo.runtime import ASSETS_DIR, PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = PROJECT_ROOT / "artifacts"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} IS MISSING: the browser test did NOT run (apt-get install -y chromium; CI installs it)",
)


@pytest.fixture(scope="module")
def page(app_url: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(90_000)  # a busy 2-core machine: model loading on first use takes seconds
            page.goto(app_url)
            page.get_by_role("button", name="Compare baseline and LSKA").wait_for()
            yield page
        finally:
            browser.close()


def test_compare_k53_at_the_neck(page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    upload = tmp_path / "shapes.jpg"
    shutil.copyfile(ASSETS_DIR / "benchmark-test-00004.jpg", upload)
    page.get_by_role("radio", name="53", exact=True).check()
    page.get_by_role("radio", name=re.compile(r"^neck")).check()
    expect(page.locator(".yolo-diagram")).to_contain_text("neck: inline after each")
    page.locator("#input-image input[type=file]").set_input_files(str(upload))
    expect(page.locator("#input-image img")).to_be_visible()
    page.locator("#compare-btn").click()

    for side in ("#baseline-out", "#variant-out"):
        expect(page.locator(f"{side} img")).to_be_visible()
    expect(page.get_by_text("yolov8n-lska53-neck-s0").first).to_be_visible()
    cost = page.locator("#cost-brief")
    expect(cost).to_contain_text("difference")
    expect(cost).to_contain_text("LSKA k=53 at neck")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-compare.png"), full_page=True)


def test_a_bad_upload_shows_a_message_not_a_trace(page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    bad = tmp_path / "notes.jpg"
    bad.write_text("a text file renamed to .jpg")
    page.locator("#input-image input[type=file]").set_input_files(str(bad))
    page.locator("#compare-btn").click()
    toast = page.get_by_text("not an image Pillow can read")
    expect(toast.first).to_be_visible()
    assert "Traceback" not in page.content()
