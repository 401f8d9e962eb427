"""The first screen a visitor sees, on a laptop (1366x768) and a phone (390x844), measured with the browser harness.

Issue 12 wants the primary button on the first laptop screen, within two phone screens, and every tab reachable on
a phone without an overflow menu. Today's page does not do that yet: the assertions marked ``ISSUE 12: flip`` state
what is true now, and the UI redesign flips them (they are not xfail, so a change either way is noticed).
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
        assert not is_visible_without_scroll(button) and scrolls == 1  # ISSUE 12: flip to visible, 0 scrolls
    else:
        assert scrolls >= 2  # ISSUE 12: flip to scrolls <= 1 (the primary button within two phone screens)


def test_tabs_reachable(app_page) -> None:
    visible = [t.inner_text().strip() for t in app_page.get_by_role("tab").all() if t.is_visible()]
    hidden = tabs_behind_overflow_menu(app_page)
    assert "Compare" in visible and len(visible) + len(hidden) >= 6
    if app_page.viewport_name == "laptop":
        assert hidden == []
    else:
        assert hidden  # ISSUE 12: flip to `hidden == []` (every tab reachable without the overflow menu)
