"""The first screen a visitor sees, on a laptop (1366x768) and a phone (390x844), measured with the browser harness.

Issue 12 wants the primary button on the first laptop screen, within two phone screens, and every tab reachable on
a phone without an overflow menu (the tab bar wraps instead).
"""

from __future__ import annotations

from browser import (
    PRIMARY_BUTTON,
    has_horizontal_overflow,
    is_visible_without_scroll,
    requires_chromium,
    screenshot,
    scroll_count_to,
    tabs_behind_overflow_menu,
)

pytestmark = requires_chromium


def test_landing_page_layout(app_page) -> None:
    button = app_page.locator(PRIMARY_BUTTON)
    app_page.evaluate("() => window.scrollTo(0, 0)")
    shot = screenshot(app_page, "landing")
    screenshot(app_page, "landing-full", full_page=True)
    assert shot.stat().st_size > 0
    assert not has_horizontal_overflow(app_page)
    scrolls = scroll_count_to(button)
    if app_page.viewport_name == "laptop":
        assert is_visible_without_scroll(button) and scrolls == 0
    else:
        assert scrolls <= 1  # within two phone screens


def test_tabs_reachable(app_page) -> None:
    visible = [t.inner_text().strip() for t in app_page.get_by_role("tab").all() if t.is_visible()]
    hidden = tabs_behind_overflow_menu(app_page)
    assert "Compare" in visible and len(visible) + len(hidden) >= 6
    assert hidden == []
    assert len(visible) >= 6
