"""Browser tests: Playwright driving Debian's Chromium (``playwright install`` cannot download here).

Screenshots of each state are kept in ``test-artifacts/`` for a person to look at.
"""

import os
from pathlib import Path

import pytest

# live_server + page + the ORM in one thread: Django would otherwise refuse sync DB access
# from inside Playwright's event loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    }


@pytest.fixture
def screenshot(page, request):
    """Save a screenshot named after the test and the state it shows."""

    def take(state: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}--{state}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take


@pytest.fixture(autouse=True)
def no_csp_violations(page):
    """Fail any browser test whose page broke the content security policy (e.g. an inline script)."""
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield
    assert violations == []
