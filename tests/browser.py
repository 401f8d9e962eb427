"""Browser harness for UI tests: the app in headless Debian Chromium (Playwright), on a laptop and a phone.

Its fixtures (``browser``, ``app_page``) are registered in ``conftest.py``; in a test module::

    from browser import has_horizontal_overflow, requires_chromium, screenshot

    pytestmark = requires_chromium

    def test_something(app_page): ...          # runs once per viewport: app_page.viewport_name is "laptop"/"phone"

``app_page`` serves the ``app_url`` fixture (``python app.py`` on the fake zoo), or the app already running at
``$LSKA_TEST_APP_URL`` (a local server on the real zoo, or a deployed Space). Screenshots go to
``.cache/screenshots/`` (git-ignored). ``playwright install`` is never needed: Debian's /usr/bin/chromium runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lska_demo.core.runtime import CACHE_DIR

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS: dict[str, dict[str, Any]] = {
    "laptop": {"viewport": {"width": 1366, "height": 768}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 3,
    },
}
SCREENSHOTS = CACHE_DIR / "screenshots"
PRIMARY_BUTTON = "#compare-btn"
TIMEOUT_MS = 90_000  # a busy 2-core machine: the first page load and model loading take seconds

requires_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} IS MISSING: the browser test did NOT run (apt-get install -y chromium; CI installs it)",
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module", params=list(VIEWPORTS))
def app_page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    """The app's page, loaded and ready (primary button attached), in a fresh context per viewport.

    The page gets a ``viewport_name`` attribute ("laptop" or "phone") so a test can name its screenshots.
    """
    url = os.environ.get("LSKA_TEST_APP_URL") or request.getfixturevalue("app_url")
    context = browser.new_context(**VIEWPORTS[request.param])
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.locator(PRIMARY_BUTTON).wait_for()
        page.viewport_name = request.param
        yield page
    finally:
        context.close()


def screenshot(page: Any, name: str, full_page: bool = False) -> Path:
    """Save ``.cache/screenshots/<viewport>-<name>.png`` (the first screen, or the whole page) and return it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{getattr(page, 'viewport_name', 'page')}-{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def _document_box(locator: Any) -> dict[str, float]:
    """The element's box in page coordinates (independent of the current scroll position)."""
    locator.wait_for(state="attached")
    return locator.evaluate(
        "e => { const r = e.getBoundingClientRect();"
        " return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height}; }"
    )


def _viewport(page: Any) -> dict[str, float]:
    return page.evaluate("() => ({width: window.innerWidth, height: window.innerHeight})")


def is_visible_without_scroll(locator: Any) -> bool:
    """Whether the element is displayed and lies entirely inside the first screen (page scrolled to the top)."""
    if not locator.is_visible():
        return False
    box, view = _document_box(locator), _viewport(locator.page)
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= view["width"]
        and box["y"] + box["height"] <= view["height"]
    )


def scroll_count_to(locator: Any) -> int:
    """How many one-screen scrolls from the top it takes until the element is entirely on screen (0: the first)."""
    box, view = _document_box(locator), _viewport(locator.page)
    return max(0, math.ceil((box["y"] + box["height"] - view["height"]) / view["height"]))


def has_horizontal_overflow(page: Any, tolerance_px: int = 1) -> bool:
    """Whether the page is wider than the viewport, i.e. the visitor can scroll sideways."""
    return bool(
        page.evaluate(
            "t => document.documentElement.scrollWidth > document.documentElement.clientWidth + t", tolerance_px
        )
    )


def tabs_behind_overflow_menu(page: Any) -> list[str]:
    """The tabs a visitor reaches only through Gradio's "More tabs" (⋯) menu, which narrow screens get."""
    return [name.strip() for name in page.locator(".overflow-dropdown button").all_text_contents()]
