"""The two screens the browser tests run at, as ``browser_context_args`` marks (one browser context
per test at that size), and the check that a page fits its width."""

import pytest

DESKTOP = pytest.param(
    "desktop", marks=pytest.mark.browser_context_args(viewport={"width": 1366, "height": 900}), id="1366x900"
)
PHONE = pytest.param(
    "phone",
    marks=pytest.mark.browser_context_args(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=1
    ),
    id="390x844",
)
SCREENS = [DESKTOP, PHONE]


def fits_the_width(page) -> bool:
    """No horizontal scrolling: the document is no wider than the window."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def open_filters_on_a_phone(page, screen: str) -> None:
    """On a phone the case list's filters are folded behind one button."""
    if screen == "phone":
        page.locator(".filters-summary").click()
