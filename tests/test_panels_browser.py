"""Issue 12 in the browser, on a laptop (1366x768) and a phone (390x844): the Cost tab's tables stay inside
their panel, and the Receptive field, Attention and Cost tabs render; screenshots go to .cache/screenshots/."""

from __future__ import annotations

from typing import Any

from browser import has_horizontal_overflow, requires_chromium, screenshot

from lska_demo.core.runtime import ASSETS_DIR

pytestmark = requires_chromium

EXAMPLE = ASSETS_DIR / "benchmark-test-00001.jpg"
COST_TABLES = ("#cost-summary", "#cost-lska", "#cost-layers")


def open_tab(page: Any, name: str) -> None:
    """Select a tab, through Gradio's overflow menu ("⋯") where a narrow screen hides it."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if not tab.is_visible():
        page.locator(".overflow-menu button").first.click()
        tab = page.locator(".overflow-dropdown button", has_text=name).first
    tab.click()


def wait_for_text(page: Any, selector: str, text: str) -> None:
    """Wait until the element's rendered text contains ``text`` (Gradio keeps hidden copies of table cells)."""
    page.wait_for_function(
        "([s, t]) => { const e = document.querySelector(s); return !!e && e.innerText.includes(t); }",
        arg=[selector, text],
    )


def _right_edges(page: Any, selector: str) -> dict[str, float]:
    """The right edge of a table's box and of the tab panel holding it (page coordinates)."""
    return page.locator(selector).evaluate(
        "e => { const p = e.closest('[role=tabpanel]') || document.body;"
        " return {table: e.getBoundingClientRect().right, panel: p.getBoundingClientRect().right}; }"
    )


def test_cost_tables_fit_their_panel(app_page: Any) -> None:
    open_tab(app_page, "Cost")
    app_page.get_by_role("button", name="Count", exact=True).click()
    wait_for_text(app_page, "#cost-lska", "LSKA gate")
    app_page.get_by_text("Per-layer cost of the variant").click()
    wait_for_text(app_page, "#cost-layers", "0 Conv (backbone P1)")
    screenshot(app_page, "cost", full_page=True)
    for selector in COST_TABLES:
        edges = _right_edges(app_page, selector)
        assert edges["table"] <= edges["panel"] + 1, f"{selector} runs past its panel: {edges}"
    assert not has_horizontal_overflow(app_page)
    label = app_page.locator("#cost-summary").inner_text()
    assert "256 px" in label and "4 classes" in label


def test_erf_and_attention_tabs_use_the_uploaded_image(app_page: Any) -> None:
    app_page.locator("#input-image input[type=file]").set_input_files(str(EXAMPLE))
    open_tab(app_page, "Receptive field")
    app_page.get_by_role("button", name="Compute receptive fields").click()
    wait_for_text(app_page, "#erf-note", "the one uploaded")
    app_page.locator("#erf-figure img").wait_for()
    screenshot(app_page, "erf", full_page=True)
    assert not has_horizontal_overflow(app_page)
    open_tab(app_page, "Attention")
    app_page.get_by_role("button", name="Show attention").click()
    wait_for_text(app_page, "#attention-stage-caption", "What this shows")
    app_page.wait_for_timeout(1000)  # the captions' follow-up event
    screenshot(app_page, "attention", full_page=True)
    assert not has_horizontal_overflow(app_page)
