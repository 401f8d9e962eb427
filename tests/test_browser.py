"""A person's path through the page, in headless Debian Chromium driven by Playwright.

Pick k=53 and the neck, upload an image, press Compare: both annotated images and the cost table must appear.
Then, on a laptop and a phone: the domain note for a photo and none for a benchmark image, a trained /
untrained pair marked with a banner before any click, old results cleared when the choice changes, and every tab
reachable without sideways scrolling (screenshots of each under ``.cache/screenshots/``).
Skipped only where /usr/bin/chromium is missing (CI installs it); ``playwright install`` is never needed.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import has_horizontal_overflow, requires_chromium, screenshot, tabs_behind_overflow_menu

from lska_demo.core.runtime import ASSETS_DIR, PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "artifacts"

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def page(app_url: str, browser) -> Iterator:
    """A desktop page on the fake zoo, in the harness's one Chromium (a second Playwright would clash with it)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(90_000)  # a busy 2-core machine: model loading on first use takes seconds
        page.goto(app_url)
        page.get_by_role("button", name="Compare baseline and LSKA").wait_for()
        yield page
    finally:
        context.close()


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


# --- what a newcomer reads, on a laptop and a phone (the harness's ``app_page``, both viewports) ------

TABS = ["Compare", "Receptive field", "Attention", "Cost", "Zoo", "Teach"]


def _pick_example(page, group: str, index: int) -> None:
    """Click example ``index`` of a captioned group ("benchmark" or "photo") and wait until the image shows."""
    from playwright.sync_api import expect

    page.locator(f"#examples-{group} button").nth(index).click()
    expect(page.locator("#input-image img")).to_be_visible()


def _expect_shown(page, selector: str) -> None:
    """The element appears (attached), and is visible once scrolled to: phones lazy-load images off screen."""
    from playwright.sync_api import expect

    element = page.locator(selector)
    try:
        expect(element).to_be_attached()
    except AssertionError:
        screenshot(page, "failed-" + selector.strip("#").replace(" ", "-"), full_page=True)
        raise
    element.scroll_into_view_if_needed()
    expect(element).to_be_visible()


def test_domain_note_for_a_photo_not_for_a_benchmark_image(app_page) -> None:
    from playwright.sync_api import expect

    note = app_page.locator("#domain-note .domain-note")
    expect(app_page.get_by_text("Photos: NOT what the zoo knows")).to_be_visible()  # captioned examples
    _pick_example(app_page, "photo", 0)  # bus.jpg, shipped with Ultralytics
    expect(note).to_be_visible()
    expect(note).to_contain_text("four synthetic shapes")
    expect(note).not_to_contain_text("/")  # no server path reaches the page
    screenshot(app_page, "domain-note-photo")
    app_page.locator("#compare-btn").click()
    expect(app_page.locator("#compare-note")).to_contain_text("four synthetic shapes")  # in the result too
    app_page.locator("#compare-note").scroll_into_view_if_needed()
    screenshot(app_page, "compare-photo")
    _pick_example(app_page, "benchmark", 0)
    expect(note).to_have_count(0)


def test_an_untrained_pair_is_marked_before_any_click_and_results_go_stale(app_page) -> None:
    from playwright.sync_api import expect

    status = app_page.locator("#pair-status")
    _pick_example(app_page, "benchmark", 1)
    app_page.get_by_role("radio", name="23", exact=True).check()
    app_page.get_by_role("radio", name=re.compile(r"^sppf")).check()
    expect(status.locator(".untrained")).to_have_count(0)
    expect(status.locator(".banner")).to_have_count(0)
    app_page.locator("#compare-btn").click()
    _expect_shown(app_page, "#variant-out img")

    app_page.get_by_role("radio", name="11", exact=True).check()
    app_page.get_by_role("radio", name=re.compile(r"^head")).check()
    expect(status.locator(".untrained")).to_contain_text("Untrained")
    expect(status.locator(".banner")).to_contain_text("Not a fair comparison")
    expect(app_page.locator("#variant-out img")).to_have_count(0)  # the old result is cleared, not left looking current
    expect(app_page.get_by_text("the results shown before were cleared").first).to_be_visible()
    app_page.locator("#compare-btn").click()
    _expect_shown(app_page, "#baseline-out img")
    expect(app_page.locator("#compare-banner .banner")).to_be_visible()
    expect(app_page.locator("#variant-panel")).to_be_visible()  # the LSKA panel stays, with the banner above it
    screenshot(app_page, "banner-untrained-pair")
    assert not has_horizontal_overflow(app_page)


def test_every_tab_is_reachable_and_fits(app_page) -> None:
    from playwright.sync_api import expect

    for name in TABS:
        tab = app_page.get_by_role("tab", name=name, exact=True)
        expect(tab).to_be_visible()  # in the wrapped tab bar, not behind an overflow menu
        tab.click()
        expect(tab).to_have_attribute("aria-selected", "true")
        tab.scroll_into_view_if_needed()
        app_page.evaluate("() => window.scrollBy(0, -8)")
        screenshot(app_page, "tab-" + name.lower().replace(" ", "-"))
        assert not has_horizontal_overflow(app_page), name
    assert tabs_behind_overflow_menu(app_page) == []
