"""The Teach tab in a browser, on a laptop and a phone: drawn on load, stepped through, played, legible.

Screenshots of every figure go to ``.cache/screenshots/<viewport>-teach-<figure>.png`` (git-ignored).
"""

from __future__ import annotations

import re
from typing import Any

from browser import SCREENSHOTS, has_horizontal_overflow, requires_chromium, screenshot

pytestmark = requires_chromium

FIGURES = ("cascade", "dilation", "trained", "playground", "ranks", "erf", "cost")
FIRST_STEP = "press Play or move the slider"  # the step-through's caption at step 0
LAST_STEP = re.compile(r"^Same \d+×\d+ reach")  # and at its last step


def _open_teach(page: Any) -> None:
    """Click the Teach tab, through Gradio's "more tabs" menu where a phone hides it."""
    tab = page.get_by_role("tab", name="Teach")
    if tab.count() and tab.is_visible():
        tab.click()
    else:
        page.locator(".overflow-menu button").first.click()
        page.locator(".overflow-dropdown button", has_text="Teach").click()
    page.locator("#teach-cascade-caption").get_by_text(FIRST_STEP).wait_for()


def _shown_image(page: Any, name: str) -> dict[str, float]:
    """Scroll figure ``name`` into view (its image loads lazily), wait for it, and return its sizes."""
    image = page.locator(f"#teach-{name} img")
    image.scroll_into_view_if_needed()
    page.wait_for_function("e => e.complete && e.naturalWidth > 0", arg=image.element_handle(), timeout=60_000)
    return image.evaluate("e => ({natural: e.naturalWidth, shown: e.getBoundingClientRect().width})")


def screenshot_of(page: Any, name: str) -> None:
    """The figure and its caption, as the visitor sees them."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    figure = page.locator(f"#teach-{name.removesuffix('-last')}")
    figure.screenshot(path=str(SCREENSHOTS / f"{page.viewport_name}-teach-{name}.png"))


def _caption(page: Any, name: str) -> str:
    return page.locator(f"#teach-{name}-caption").inner_text()


def test_teach_tab_steps_through_plays_and_fits_the_screen(app_page: Any) -> None:
    page = app_page
    _open_teach(page)
    width = page.evaluate("() => window.innerWidth")
    for name in FIGURES:  # every view drawn before any click, each with its sentence
        sizes = _shown_image(page, name)
        assert sizes["natural"] == 480 and 0 < sizes["shown"] <= min(480, width), (name, sizes)
        assert _caption(page, name).strip().endswith("."), name
        screenshot_of(page, name)
    # the zoo's k=23 sppf model, and its verdict on its own weights (this fake zoo's are random draws)
    trained = _caption(page, "trained")
    assert trained.startswith("yolov8n-lska23-sppf-s0, layer 9") and "NOT told apart from their random init" in trained

    slider = page.locator("#teach-step input[type=range]")
    slider.scroll_into_view_if_needed()
    slider.focus()
    last = int(slider.get_attribute("max"))
    for _ in range(last):  # walk the slider one stage at a time, as a learner would with the arrow keys
        slider.press("ArrowRight")
    page.locator("#teach-cascade-caption").get_by_text(LAST_STEP).wait_for()
    assert slider.input_value() == str(last)
    screenshot_of(page, "cascade-last")

    page.locator("#teach-play").click()  # Play starts again from the input and ends at the last stage
    page.locator("#teach-cascade-caption").get_by_text(FIRST_STEP).wait_for()
    page.locator("#teach-cascade-caption").get_by_text(LAST_STEP).wait_for()
    assert slider.input_value() == str(last)
    assert not has_horizontal_overflow(page)
    page.locator("#teach-step").scroll_into_view_if_needed()
    screenshot(page, "teach-played")
